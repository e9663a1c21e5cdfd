"""The Kubernetes API benchmark (issue 15), run by hack/bench-api.sh against a real
`flinklet run`: 1,000 resources; `kubectl get flinkdep -A` against `flinklet get -A`; list
latency p50/p99 over the API; how long a manifest edit takes to reach a watcher (p50/p99);
the operator's resident memory with 20 open watches.
Usage: bench-api.py FLINKLET_BINARY [RESOURCES] [LISTS] [EDITS]"""
import base64
import http.client
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

flinklet = os.path.abspath(sys.argv[1])
resources = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
lists = int(sys.argv[3]) if len(sys.argv) > 3 else 200
edits = int(sys.argv[4]) if len(sys.argv) > 4 else 100
work = tempfile.mkdtemp(prefix="flinklet-bench-api-")
manifests = os.path.join(work, "manifests")
os.makedirs(manifests)


def manifest(i, label="x"):
    # Canaries (no spec, no pods): the API's load without 1,000 processes on the machine.
    return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: bench-{i:04d}
  namespace: ns-{i % 10}
  labels:
    flink.apache.org/canary: "true"
    edit: "{label}"
"""


for i in range(resources):
    with open(os.path.join(manifests, f"bench-{i:04d}.yaml"), "w") as f:
        f.write(manifest(i))

log = open(os.path.join(work, "operator.log"), "w")
operator = subprocess.Popen([flinklet, "run", "--manifests", "manifests", "--state-dir", "state", "--engine", "command",
                             "--http", "127.0.0.1:0", "--api", "127.0.0.1:0"], cwd=work, stdout=log, stderr=log,
                            start_new_session=True)
kubeconfig = os.path.join(work, "state", "kubeconfig")
try:
    deadline = time.time() + 60
    while not os.path.exists(kubeconfig) and time.time() < deadline:
        time.sleep(0.05)
    text = open(kubeconfig).read()
    server = text.split("server: https://")[1].split("\n")[0]
    host, port = server.rsplit(":", 1)
    token = text.split("token: ")[1].split("\n")[0]
    ca = base64.b64decode(text.split("certificate-authority-data: ")[1].split("\n")[0])
    cafile = os.path.join(work, "ca.crt")
    open(cafile, "wb").write(ca)
    context = ssl.create_default_context(cafile=cafile)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    path = "/apis/flink.apache.org/v1beta1/flinkdeployments"

    def connection():
        return http.client.HTTPSConnection(host, int(port), context=context, timeout=30)

    conn = connection()

    def list_all():
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return json.loads(response.read())

    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if len(list_all()["items"]) == resources:
                break
        except Exception:
            conn = connection()
        time.sleep(0.5)
    print(f"resources: {resources} FlinkDeployments (canaries) in 10 namespaces", flush=True)

    env = dict(os.environ, HOME=work, KUBECONFIG=kubeconfig)

    def wall(argv, runs=5):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            out = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
            times.append(time.perf_counter() - start)
        return statistics.median(times), out.count(b"\n")

    kubectl_time, kubectl_lines = wall(["kubectl", "--cache-dir", os.path.join(work, "kube-cache"), "get", "flinkdep", "-A"])
    flinklet_time, flinklet_lines = wall([flinklet, "get", "flinkdep", "-A", "--state-dir", "state"])
    print(f"kubectl get flinkdep -A: {kubectl_time * 1000:.0f} ms ({kubectl_lines} lines; median of 5)"
          f" vs flinklet get flinkdep -A: {flinklet_time * 1000:.0f} ms ({flinklet_lines} lines)"
          f" [target: reported side by side; kubectl/flinklet = {kubectl_time / flinklet_time:.1f}x]")

    latencies = []
    for _ in range(lists):
        start = time.perf_counter()
        body = list_all()
        latencies.append(time.perf_counter() - start)
        assert len(body["items"]) == resources
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"list of {resources} over the API (JSON, keep-alive): p50 {p50:.1f} ms, p99 {p99:.1f} ms ({lists} lists)"
          f" [target: reported]")

    # Watch latency: a manifest edit (atomic rename, as editors and flinklet apply write) until
    # the watcher reads its MODIFIED event.
    revision = list_all()["metadata"]["resourceVersion"]
    seen = {}
    seen_lock = threading.Condition()

    def follow(rv):
        c = connection()
        c.request("GET", f"{path}?watch=true&resourceVersion={rv}&timeoutSeconds=600", headers=headers)
        response = c.getresponse()
        while True:
            line = response.readline()
            if not line:
                return
            event = json.loads(line)
            labels = event["object"]["metadata"].get("labels", {})
            with seen_lock:
                seen[labels.get("edit")] = time.perf_counter()
                seen_lock.notify_all()

    threading.Thread(target=follow, args=(revision,), daemon=True).start()
    time.sleep(0.5)
    delays = []
    for n in range(edits):
        i = (n * 37) % resources
        label = f"e{n}"
        target = os.path.join(manifests, f"bench-{i:04d}.yaml")
        temporary = os.path.join(manifests, f".bench-{i:04d}.tmp")
        with open(temporary, "w") as f:
            f.write(manifest(i, label))
        start = time.perf_counter()
        os.replace(temporary, target)
        with seen_lock:
            seen_lock.wait_for(lambda: label in seen, timeout=10)
            if label in seen:
                delays.append(seen[label] - start)
        time.sleep(0.05)
    delays.sort()
    if delays:
        p50 = delays[len(delays) // 2] * 1000
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
        verdict = "met" if p99 <= 50 and len(delays) == edits else "MISSED"
        print(f"manifest edit → watcher: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(delays)} of {edits} edits seen)"
              f" [target: p99 ≤ 50 ms: {verdict}]")

    def rss():
        for line in open(f"/proc/{operator.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    before = rss()
    # Watches as kubectl get -w opens them (no resourceVersion: every object ADDED first),
    # each read by a thread of its own as a client reads them.
    drained = threading.Semaphore(0)

    def drain():
        c = connection()
        c.request("GET", f"{path}?watch=true&timeoutSeconds=600", headers=headers)
        response = c.getresponse()
        for _ in range(resources):
            response.readline()
        drained.release()
        while response.readline():
            pass

    for _ in range(20):
        threading.Thread(target=drain, daemon=True).start()
    for _ in range(20):
        drained.acquire(timeout=60)
    time.sleep(2)
    after = rss()
    verdict = "met" if after <= 50 else "MISSED"
    print(f"operator resident memory: {before:.1f} MB before, {after:.1f} MB with 20 open watches (+1 following edits),"
          f" {(after - before) / 20 * 1024:.0f} KB per watch [target: ≤ 50 MB: {verdict}]")
finally:
    os.killpg(operator.pid, signal.SIGTERM)
    operator.wait(30)
    shutil.rmtree(work, ignore_errors=True)
