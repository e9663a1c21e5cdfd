"""The official Kubernetes Python client against a running `flinklet run`: list, watch
(resumed from a resourceVersion), patch. Prints one line per check; exits 1 on the first
failure. Usage: python_client.py KUBECONFIG NAME (a FlinkDeployment in namespace default)."""
import sys
import threading

from kubernetes import client, config, watch

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

print("python client: all checks passed")
