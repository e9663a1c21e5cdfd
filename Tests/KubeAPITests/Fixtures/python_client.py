"""The official Kubernetes Python client against a running `flinklet run`: list, watch
(resumed from a resourceVersion), patch, server-side apply with field managers,
deletecollection. Prints one line per check; exits 1 on the first
failure. Usage: python_client.py KUBECONFIG NAME (a FlinkDeployment in namespace default)."""
import json
import sys
import threading
import time

from kubernetes import client, config, dynamic, watch

kubeconfig, name = sys.argv[1], sys.argv[2]
config.load_kube_config(config_file=kubeconfig)
api = client.CustomObjectsApi()
group, version, plural = "flink.apache.org", "v1beta1", "flinkdeployments"


def check(condition, what):
    print(("ok " if condition else "FAILED ") + what, flush=True)
    if not condition:
        sys.exit(1)


listed = api.list_namespaced_custom_object(group, version, "default", plural)
names = [item["metadata"]["name"] for item in listed["items"]]
check(name in names, f"list: {name} in {names}")
revision = listed["metadata"]["resourceVersion"]
check(revision.isdigit(), f"list resourceVersion {revision}")

selected = api.list_cluster_custom_object(group, version, plural, label_selector="python=yes")
check([i["metadata"]["name"] for i in selected["items"]] == [], "label selector matches nothing before the patch")

# Watch from the list's revision while patching: the patch's change must arrive.
seen = []


def follow():
    for event in watch.Watch().stream(api.list_namespaced_custom_object, group, version, "default", plural,
                                      resource_version=revision, timeout_seconds=10):
        obj = event["object"]
        seen.append((event["type"], obj["metadata"]["name"], obj["metadata"].get("labels", {})))
        if obj["metadata"]["name"] == name and obj["metadata"].get("labels", {}).get("python") == "yes":
            return


follower = threading.Thread(target=follow)
follower.start()
patched = api.patch_namespaced_custom_object(group, version, "default", plural, name,
                                             {"metadata": {"labels": {"python": "yes"}}})
check(patched["metadata"]["labels"].get("python") == "yes", "merge patch answered with the label")
follower.join(15)
check(any(t == "MODIFIED" and n == name and l.get("python") == "yes" for t, n, l in seen), f"watch saw the patch: {seen}")

selected = api.list_cluster_custom_object(group, version, plural, label_selector="python=yes")
check([i["metadata"]["name"] for i in selected["items"]] == [name], "label selector finds the patched object")

# Resuming from an old revision replays what happened since.
replayed = []
for event in watch.Watch().stream(api.list_namespaced_custom_object, group, version, "default", plural,
                                  resource_version=revision, timeout_seconds=2):
    replayed.append((event["type"], event["object"]["metadata"]["name"]))
    if event["object"]["metadata"].get("labels", {}).get("python") == "yes":
        break
check(("MODIFIED", name) in replayed, f"a watch resumed from {revision} replays the change: {replayed}")

got = api.get_namespaced_custom_object_status(group, version, "default", plural, name)
check("status" in got, "the /status subresource")

# Server-side apply (the dynamic client's): two field managers, a conflict (409 naming the
# owner), then force.
deployments = dynamic.DynamicClient(client.ApiClient()).resources.get(api_version=f"{group}/{version}", kind="FlinkDeployment")
config_a = {"apiVersion": f"{group}/{version}", "kind": "FlinkDeployment", "metadata": {"name": name, "labels": {"owner": "a"}}}
applied = deployments.server_side_apply(body=config_a, namespace="default", field_manager="python-a").to_dict()
managers = [entry["manager"] for entry in applied["metadata"].get("managedFields", [])]
check(applied["metadata"]["labels"].get("owner") == "a" and "python-a" in managers, f"server-side apply by python-a: {managers}")
config_b = {"apiVersion": f"{group}/{version}", "kind": "FlinkDeployment", "metadata": {"name": name, "labels": {"owner": "b"}}}
try:
    deployments.server_side_apply(body=config_b, namespace="default", field_manager="python-b")
    check(False, "a conflicting apply is refused")
except client.exceptions.ApiException as error:
    body = json.loads(error.body)
    check(error.status == 409 and body["details"]["causes"][0] == {
        "reason": "FieldManagerConflict", "message": 'conflict with "python-a"', "field": ".metadata.labels.owner"},
          f"a conflicting apply is 409 naming the manager and field: {error.status} {body}")
forced = deployments.server_side_apply(body=config_b, namespace="default", field_manager="python-b", force_conflicts=True).to_dict()
check(forced["metadata"]["labels"].get("owner") == "b", "force takes the field")

# deletecollection by label: the two matching objects go, the others stay.
for extra in ("tmp-1", "tmp-2"):
    api.create_namespaced_custom_object(group, version, "default", plural, {
        "apiVersion": f"{group}/{version}", "kind": "FlinkDeployment",
        "metadata": {"name": extra, "labels": {"batch": "tmp"}, "annotations": {"flinklet.dev/command": "sleep 300"}},
        "spec": {"flinkVersion": "v2_3", "mode": "session"}})
deleted = api.delete_collection_namespaced_custom_object(group, version, "default", plural, label_selector="batch=tmp")
check(sorted(i["metadata"]["name"] for i in deleted["items"]) == ["tmp-1", "tmp-2"], f"deletecollection answers with what it deleted: {deleted}")
deadline = time.time() + 30
while time.time() < deadline and api.list_namespaced_custom_object(group, version, "default", plural, label_selector="batch=tmp")["items"]:
    time.sleep(0.2)
left = [i["metadata"]["name"] for i in api.list_namespaced_custom_object(group, version, "default", plural)["items"]]
check(left == [name], f"deletecollection removed the matching objects only: {left}")

print("python client: all checks passed")
