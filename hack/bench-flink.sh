#!/usr/bin/env bash
# Flink benchmarks (issue: bench-flink), printing their numbers.
#
# What it measures
#   startup: for each mode (application, per-job, session), the time from the manifest file's
#     rename into the watched directory (the operator already running and idle) to the job
#     RUNNING, median of $RUNS (3). RUNNING means Flink's REST `/jobs/overview` says RUNNING with
#     every task running and `/jobs/<id>` then shows every vertex RUNNING. Session mode saves a
#     session FlinkDeployment and a FlinkSessionJob together and waits for the session job.
#     Baseline, same run, interleaved run by run: the same cluster brought up the way Flink's
#     documentation does it, timed from the first script to RUNNING —
#       application: `bin/standalone-job.sh start --job-classname ...` (jar in $FLINK_HOME/usrlib),
#                    then `bin/taskmanager.sh start`;
#       per-job and session: `bin/jobmanager.sh start`, `bin/taskmanager.sh start`, wait for the
#                    REST API to answer, then `bin/flink run -d -m 127.0.0.1:<port> ...` (Flink 2.x
#                    has no per-job scripts: a dedicated cluster + `flink run` is what Flinklet's
#                    per-job mode does too).
#     The baseline gets Flink's shipped config.yaml plus the same ports, memory, slots and loopback
#     keys, and none of Flinklet's speed keys; a second baseline line adds those keys
#     (`cluster.registration.error-delay`, heartbeats, `web.refresh-interval`), so the reader sees
#     which part of the gain is configuration and which is the direct JVM start.
#     Per Flink version in VERSIONS (default 2.3; e.g. VERSIONS="1.20 2.3"): one operator runs
#     every version side by side (no --flink-home), each against the scripted baseline of the same
#     distribution. Target: Flinklet ≤ 0.5 × the scripted time of the same version.
#   deployer load: a fresh operator, N (20) per-job FlinkDeployments saved at once
#     (`--max-concurrent-submissions 2`, the default) vs N application FlinkDeployments saved at
#     once: the operator's CPU time (utime+stime delta) and peak RSS (VmHWM, a fresh process per
#     episode); the Flink client JVMs (the submitter pods: `CliFrontend` children of the operator,
#     sampled every 100 ms) — CPU, peak concurrent RSS, peak concurrent count (must be ≤ 2); wall
#     time until every job has been RUNNING. N shrinks when MemAvailable cannot hold 20 clusters
#     (800 MiB each), and is halved, after printing the failed attempt, while any deployment of an
#     episode FAILED: 40 JVMs starting at once on 2 cores miss Flink's own startup timeouts.
#     The load jobs are small (`--rate 5 --keys 1`, no checkpoints) and raise Flink's ask and
#     heartbeat timeouts, so an overloaded machine slows clusters down rather than failing them.
#
# What it assumes
#   Linux /proc; python3; loopback ports 30000-30999 (operator) and 32000-32767 (baseline) free and
#   outside the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default: a
#   listening port in it can be taken as the source port of any outgoing connection, and a
#   JobManager then fails with "Could not start rest endpoint on any port" — seen with 33000-39999);
#   the counter job (`hack/build-counter-job.sh`). Each run starts cold-ish: every process of the
#   previous run is gone, but the page cache (JDK, Flink's lib/ jars) stays warm, as it would on
#   any machine that ran Flink before. The machine may be shared: `uptime` load is recorded before
#   every measurement and printed with it.
#
# It leaves nothing behind: on exit the operator is stopped and every process whose command line
# names the scratch directory (/tmp/flinklet-bench-*) is killed; KEEP=1 keeps the directory.
# Knobs: VERSIONS (2.3), RUNS (3), LOAD_N (20), SPEED_BASELINE (1: also run the baseline with the speed keys),
# SKIP_LOAD=1, SKIP_STARTUP=1, SWIFT_SCRATCH_PATH (.build).
set -euo pipefail
cd "$(dirname "$0")/.."

OPERATOR_PORTS=30000-30999  # away from the tests (31000-31999) and the default (20000-29999)
RUNS=${RUNS:-3}
LOAD_N=${LOAD_N:-20}
SPEED_BASELINE=${SPEED_BASELINE:-1}
ENTRY_CLASS=dev.flinklet.examples.CounterJob
# The Flink versions measured, each against the scripted baseline of the same version (one
# operator runs them all, side by side); the load episodes use the last.
VERSIONS=${VERSIONS:-2.3}

bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
# shellcheck disable=SC2086
HOMES=$(bash hack/install-flink.sh $VERSIONS)
bash hack/build-counter-job.sh >/dev/null
# use_version 1.20: FLINK_HOME, JAR and the manifests' flinkVersion of that version.
use_version() {
    FLINK_HOME=$(echo "$HOMES" | grep "/flink-$1\." | head -1)
    JAR=$FLINK_HOME/usrlib/flinklet-counter-job.jar
    FLINK_VERSION_VALUE=v${1//./_}
    VERSION=$1
    export FLINK_HOME
}
use_version "${VERSIONS##* }"

FLINKLET="$(bash hack/build-release.sh flinklet)/flinklet"

SCRATCH=$(mktemp -d /tmp/flinklet-bench-XXXXXX)
RESULTS=$SCRATCH/results.jsonl
OPERATOR_PID=""
: >"$RESULTS"

# Stops the operator and kills every process of this benchmark, whatever state it is in.
cleanup() {
    set +e
    if [ -n "$OPERATOR_PID" ]; then kill -TERM "$OPERATOR_PID" 2>/dev/null; wait "$OPERATOR_PID" 2>/dev/null; fi
    local pids
    pids=$(pgrep -f -- "$SCRATCH" | grep -vx "$$")
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null && sleep 1
    pids=$(pgrep -f -- "$SCRATCH" | grep -vx "$$")
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "scratch kept: $SCRATCH" >&2; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Timing and /proc sampling: a small Python helper (stdlib only).
cat >"$SCRATCH/bench.py" <<'PY'
import argparse, json, os, statistics, subprocess, sys, threading, time, urllib.request
from datetime import datetime

TICK = os.sysconf("SC_CLK_TCK")


from flinkrest import TLS_STATE_DIRS, open_rest as _open  # noqa: E402 - hack/ is on the path


def rest(port, path):
    try:
        with _open(port, path, 2) as answer:
            return json.load(answer)
    except Exception:
        return None


def job_progress(port):
    """(tasks_all_running, running) of the cluster's first RUNNING job. `/jobs/<id>` is asked only
    once the uncached overview says every task runs: its answer is cached for web.refresh-interval
    (3 s by default), and an early question would make the next answers stale."""
    overview = rest(port, "/jobs/overview") or {}
    for job in overview.get("jobs", []):
        tasks = job.get("tasks", {})
        if job.get("state") == "RUNNING" and tasks.get("total", 0) > 0 and tasks.get("running") == tasks.get("total"):
            vertices = (rest(port, f"/jobs/{job['jid']}") or {}).get("vertices") or []
            return True, bool(vertices) and all(v.get("status") == "RUNNING" for v in vertices)
    return False, False


def flinklet_get(a, kind, name=None):
    argv = [a.flinklet, "get", kind] + ([name] if name else []) + ["-o", "json", "--state-dir", a.state]
    result = subprocess.run(argv, capture_output=True, text=True)
    return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else None


def rest_port(obj):
    port = ((obj or {}).get("status") or {}).get("clusterInfo", {}).get("rest-port")
    return int(port) if port else None


def stat(pid):
    """/proc/PID/stat fields from the state on: [state, ppid, ..., utime at 11, stime 12, cutime 13, cstime 14]."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def machine_busy_ticks():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def live_pids(needle):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            fields = stat(entry)
            if fields and fields[0] != "Z" and needle in cmdline(entry):
                pids.append(int(entry))
    return pids


def children(pid):
    """The operator's child processes (its threads' `children` files; all of /proc if missing)."""
    found, readable = set(), False
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    found.update(int(p) for p in f.read().split())
                readable = True
            except OSError:
                pass
    except OSError:
        return []
    if not readable:
        found = {int(e) for e in os.listdir("/proc") if e.isdigit() and (stat(e) or ["", "0"])[1] == str(pid)}
    return sorted(found)


def oplog_marks(path, names, t0):
    """Milestones of one run from the operator's JSON log, in seconds after t0."""
    marks = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return marks
    for line in lines:
        try:
            entry = json.loads(line)
            when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp() - t0
        except Exception:
            continue
        pod, key, message = entry.get("pod.name", ""), entry.get("resource.key", ""), entry.get("message", "")
        if when < -1 or not any(n in pod or key.endswith("/" + n) for n in names):
            continue
        if message == "pod started" and pod.endswith("-jobmanager-0"):
            marks.setdefault("jm_start", when)
        elif message == "pod ready" and pod.endswith("-jobmanager-0"):
            marks.setdefault("jm_ready", when)
        elif message == "pod started" and pod.endswith("-submitter"):
            marks.setdefault("submit", when)
        elif message == "pod exited" and pod.endswith("-submitter"):
            marks.setdefault("client_done", when)
        elif message in ("action", "flink action") and "submit" in entry.get("action", ""):  # (`flink action` before 1271361)
            marks.setdefault("submit", when)
    return marks


def append(results, record):
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


MARKS = ["scripts", "jm_start", "rest", "tm", "jm_ready", "submit", "client_done", "tasks", "running", "output", "status"]


def describe(r):
    def one(k):
        v = r.get(k)
        return f"{k} {v:5.2f}" if isinstance(v, (int, float)) else f"{k}   -  "
    head = f"  {r.get('version', '2.3'):<5} {r['who']:<14} {r['mode']:<12} #{r['run']}  "
    if r.get("running") is None:
        return head + f"NOT RUNNING after {r.get('timeout')} s   load {r['load']}"
    shown = [k for k in MARKS if k != "running"]
    return head + f"RUNNING {r['running']:6.2f} s | " + "  ".join(one(k) for k in shown) + f" | load {r['load']}"


def cmd_wait_running(a):
    t0 = a.since
    if a.apply:
        t0 = time.time()
        for source, target in a.apply:
            os.rename(source, target)
    marks = dict((k, float(v)) for k, v in (m.split("=", 1) for m in a.mark))
    port, asked = a.port, 0.0
    deadline = t0 + a.timeout
    while time.time() < deadline:
        now = time.time()
        if port is None and now - asked >= 0.2:
            asked = now
            port = rest_port(flinklet_get(a, "flinkdep", a.cluster))
        if port is not None and "running" not in marks:
            if "tm" not in marks:
                overview = rest(port, "/overview")
                if overview is not None:  # marks are answer times (a cold JobManager answers slowly)
                    marks.setdefault("rest", time.time() - t0)
                    if overview.get("taskmanagers", 0) >= 1:
                        marks["tm"] = time.time() - t0
            if "rest" in marks:
                tasks, running = job_progress(port)
                if tasks:
                    marks.setdefault("tasks", time.time() - t0)
                if running:
                    marks["running"] = time.time() - t0
        if a.output and "output" not in marks and os.path.exists(a.output) and os.path.getsize(a.output) > 0:
            marks["output"] = now - t0
        if "running" in marks and ("output" in marks or not a.output or now - t0 > marks["running"] + 10):
            break
        time.sleep(0.1)
    if "running" in marks and a.status:
        kind, name = a.status
        while time.time() < deadline + 30:
            obj = flinklet_get(a, kind, name) or {}
            status = obj.get("status") or {}
            conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            if (status.get("jobStatus") or {}).get("state") == "RUNNING" and conditions.get("Running") == "True":
                marks["status"] = time.time() - t0
                break
            time.sleep(0.2)
    if a.oplog:
        for key, value in oplog_marks(a.oplog, a.match, t0).items():
            marks.setdefault(key, value)
    if a.mark_file:
        # The caller's own milestones (scripts returned, client done), complete once it wrote "end".
        while time.time() < deadline + 60:
            lines = open(a.mark_file).read().split() if os.path.exists(a.mark_file) else []
            if "end" in lines:
                for line in lines:
                    if "=" in line:
                        key, value = line.split("=", 1)
                        marks[key] = float(value) - t0
                break
            time.sleep(0.1)
    record = {"kind": "startup", "who": a.who, "mode": a.mode, "version": a.version, "run": a.run, "load": a.load, "timeout": a.timeout,
              "port": port, "running": marks.pop("running", None), **{k: round(v, 3) for k, v in marks.items()}}
    append(a.results, record)
    print(describe(record), flush=True)
    return 0 if record["running"] is not None else 1


def cmd_wait_rest(a):
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        if rest(a.port, "/overview") is not None:
            print(f"{time.time():.3f}")
            return 0
        time.sleep(0.1)
    return 1


def cmd_wait_gone(a):
    start = time.time()
    while time.time() - start < a.timeout:
        records = flinklet_get(a, "flinkdep") if a.flinklet else None
        jobs = flinklet_get(a, "sessionjob") if a.flinklet else None
        left = (records or {}).get("items", []) + (jobs or {}).get("items", [])
        if not live_pids(a.needle) and not left:
            return 0
        time.sleep(0.2)
    print(f"still alive after {a.timeout} s: {live_pids(a.needle)}", file=sys.stderr)
    return 1


def cmd_load(a):
    """One deployer-load episode: rename every staged manifest in, sample until every job has
    been RUNNING (and no client is left), report the operator's and the clients' cost."""
    op = a.operator
    names = sorted(f[:-5] for f in os.listdir(a.stage) if f.endswith(".yaml"))
    op_start, busy_start = stat(op), machine_busy_ticks()
    rss_start = status_kb(op, "VmRSS")
    t0 = time.time()
    for name in names:
        os.rename(f"{a.stage}/{name}.yaml", f"{a.manifests}/{name}.yaml")
    clients = {}  # pid -> {"ticks", "first", "last"}
    peak_clients = peak_client_rss = peak_op_rss = 0
    ports, running_at, failed, asked = {}, {}, {}, [0.0]
    done = threading.Event()

    def poll_rest():
        # In a thread of its own: a slow JobManager must not delay the 100 ms /proc samples.
        while not done.is_set():
            if len(ports) < len(names):
                for item in (flinklet_get(a, "flinkdep") or {}).get("items", []):
                    port = rest_port(item)
                    if port:
                        ports[item["metadata"]["name"]] = port
            for name, port in list(ports.items()):
                if name not in running_at and job_progress(port)[1]:
                    running_at[name] = time.time() - t0
            if time.time() - asked[0] >= 2:
                asked[0] = time.time()
                for item in (flinklet_get(a, "flinkdep") or {}).get("items", []):
                    status = item.get("status") or {}
                    if status.get("lifecycleState") == "FAILED":
                        failed.setdefault(item["metadata"]["name"], status.get("error", ""))
            done.wait(0.5)

    poller = threading.Thread(target=poll_rest, daemon=True)
    poller.start()
    deadline = t0 + a.timeout
    while time.time() < deadline:
        now = time.time()
        live = rss = 0
        for pid in children(op):
            fields = stat(pid)
            if not fields or fields[0] == "Z" or "org.apache.flink.client.cli.CliFrontend" not in cmdline(pid):
                continue
            entry = clients.setdefault(pid, {"first": now - t0})
            entry["ticks"], entry["last"] = int(fields[11]) + int(fields[12]), now - t0
            live += 1
            rss += status_kb(pid, "VmRSS")
        peak_clients, peak_client_rss = max(peak_clients, live), max(peak_client_rss, rss)
        peak_op_rss = max(peak_op_rss, status_kb(op, "VmRSS"))
        if len(set(running_at) | set(failed)) == len(names) and live == 0:
            break
        time.sleep(0.1)
    done.set()
    poller.join()
    wall = time.time() - t0
    op_end, busy_end = stat(op), machine_busy_ticks()
    still = sum(1 for name, port in ports.items() if job_progress(port)[1])
    lifetimes = [c["last"] - c["first"] for c in clients.values()]
    record = {
        "kind": "load", "mode": a.mode, "n": len(names), "load": a.load,
        "all_running": max(running_at.values()) if len(running_at) == len(names) else None,
        "reached_running": len(running_at), "running_at_end": still, "episode": round(wall, 2),
        "failed": len(failed), "failures": sorted(set(failed.values()))[:3],
        "first_running": min(running_at.values()) if running_at else None,
        "op_cpu": (int(op_end[11]) + int(op_end[12]) - int(op_start[11]) - int(op_start[12])) / TICK,
        "op_children_cpu": (int(op_end[13]) + int(op_end[14]) - int(op_start[13]) - int(op_start[14])) / TICK,
        "op_rss_start_mb": rss_start / 1024, "op_peak_rss_mb": peak_op_rss / 1024, "op_hwm_mb": status_kb(op, "VmHWM") / 1024,
        "clients": len(clients), "client_cpu": sum(c["ticks"] for c in clients.values()) / TICK,
        "client_lifetime_median": statistics.median(lifetimes) if lifetimes else None,
        "peak_clients": peak_clients, "peak_client_rss_mb": peak_client_rss / 1024,
        "machine_cpu": (busy_end - busy_start) / TICK,
    }
    append(a.results, record)
    print(json.dumps(record), flush=True)
    return 0 if record["all_running"] is not None else 1


def cmd_load_clean(a):
    """Whether every load episode with N clusters had every job RUNNING and no deployment FAILED."""
    records = [json.loads(line) for line in open(a.results)]
    episodes = [r for r in records if r["kind"] == "load" and r["n"] == a.n]
    return 0 if episodes and all(r["failed"] == 0 and r["all_running"] is not None for r in episodes) else 1


def cmd_baseline_conf(a):
    """Flink's shipped config.yaml, flattened, with KEY=VALUE overrides, as flat YAML."""
    flat, stack = {}, []
    for raw in open(a.source):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if value.strip():
            flat[".".join([k for _, k in stack] + [key])] = value.strip()
        else:
            stack.append((indent, key))
    for override in a.set:
        key, _, value = override.partition("=")
        flat[key] = json.dumps(value)
    with open(a.target, "w") as f:
        f.write("# Flink's shipped config.yaml, flattened, with the benchmark's keys\n")
        for key, value in flat.items():
            f.write(f"{key}: {value}\n")


def cmd_report(a):
    records = [json.loads(line) for line in open(a.results)]
    startup = [r for r in records if r["kind"] == "startup"]

    def median(who, mode, version):
        values = [r["running"] for r in startup
                  if r["who"] == who and r["mode"] == mode and r.get("version", "2.3") == version and r["running"] is not None]
        return (statistics.median(values), len(values)) if values else (None, 0)

    def secs(v):
        return f"{v:.2f} s" if v is not None else "-"

    if startup:
        print("individual runs (seconds after the manifest rename / the first script; rest = REST answers, tm = TaskManager")
        print("registered, jm_ready = operator saw the JobManager ready, submit = submitter pod / REST submission started,")
        print("client_done = Flink client exited, tasks = /jobs/overview all tasks running, output = first line in the job's")
        print("output file, status = `flinklet get` shows the job RUNNING; load = 1/5/15-min load average before the run):")
        for r in startup:
            print(describe(r))
        print()
        modes = [m for m in ["application", "per-job", "session"] if any(r["mode"] == m for r in startup)]
        speed = any(r["who"] == "scripts+speed" for r in startup)
        versions = sorted({r.get("version", "2.3") for r in startup}, key=lambda v: [int(x) for x in v.split(".")])
        header = f"{'version':<8} {'mode':<12} {'flinklet (median of ' + str(a.runs) + ')':<24} {'scripts (median of ' + str(a.runs) + ')':<24} {'ratio':<7} {'target ≤ 0.5':<13}"
        if speed:
            header += f" {'scripts + speed keys':<21} {'ratio':<6}"
        print(header)
        for version in versions:
            for mode in modes:
                f, fn = median("flinklet", mode, version)
                s, sn = median("scripts", mode, version)
                if fn == 0 and sn == 0:
                    continue
                ratio = f / s if f is not None and s else None
                line = f"{version:<8} {mode:<12} {secs(f) + ('' if fn == a.runs else f' (n={fn})'):<24} {secs(s) + ('' if sn == a.runs else f' (n={sn})'):<24} "
                line += f"{(f'{ratio:.2f}' if ratio else '-'):<7} {('met' if ratio and ratio <= 0.5 else 'missed' if ratio else '-'):<13}"
                if speed:
                    q, qn = median("scripts+speed", mode, version)
                    line += f" {secs(q) + ('' if qn == a.runs else f' (n={qn})'):<21} {(f'{f / q:.2f}' if f is not None and q else '-'):<6}"
                print(line)
        print()
        print("median milestones (seconds; columns as in the individual runs):")
        print(f"{'version':<8} {'mode':<12} {'':<14} " + " ".join(f"{k:>11}" for k in MARKS))
        for version, mode in [(v, m) for v in versions for m in modes]:
            for who in ["flinklet", "scripts", "scripts+speed"]:
                runs = [r for r in startup if r["who"] == who and r["mode"] == mode and r.get("version", "2.3") == version]
                if not runs:
                    continue
                cells = []
                for k in MARKS:
                    values = [r[k] for r in runs if isinstance(r.get(k), (int, float))]
                    cells.append(f"{statistics.median(values):>11.2f}" if values else f"{'-':>11}")
                print(f"{version:<8} {mode:<12} {who:<14} " + " ".join(cells))
        print()
    for n in sorted({r["n"] for r in records if r["kind"] == "load"}, reverse=True):
        load = {r["mode"]: r for r in records if r["kind"] == "load" and r["n"] == n}
        print(f"deployer load: {n} FlinkDeployments saved at once, one fresh operator each, --max-concurrent-submissions 2")
        print(f"{'':<28} {'per-job':>14} {'application':>14}")
        rows = [
            ("all jobs RUNNING (wall)", lambda r: secs(r["all_running"]) if r["all_running"] is not None else f"{r['reached_running']}/{r['n']} in {r['episode']:.0f} s"),
            ("first job RUNNING", lambda r: secs(r["first_running"])),
            ("still RUNNING at the end", lambda r: f"{r['running_at_end']}/{r['n']}"),
            ("deployments FAILED", lambda r: f"{r.get('failed', 0)}"),
            ("operator CPU (user+sys)", lambda r: f"{r['op_cpu']:.2f} s"),
            ("operator CPU per second", lambda r: f"{1000 * r['op_cpu'] / r['episode']:.0f} ms/s"),
            ("operator peak RSS (VmHWM)", lambda r: f"{r['op_hwm_mb']:.1f} MB"),
            ("operator RSS before", lambda r: f"{r['op_rss_start_mb']:.1f} MB"),
            ("Flink client JVMs", lambda r: f"{r['clients']}"),
            ("client CPU (sampled)", lambda r: f"{r['client_cpu']:.1f} s"),
            ("reaped children CPU", lambda r: f"{r['op_children_cpu']:.1f} s"),
            ("client lifetime (median)", lambda r: secs(r["client_lifetime_median"])),
            ("peak concurrent clients", lambda r: f"{r['peak_clients']}" + (" (>2!)" if r["peak_clients"] > 2 else "")),
            ("peak concurrent client RSS", lambda r: f"{r['peak_client_rss_mb']:.0f} MB"),
            ("machine CPU (all processes)", lambda r: f"{r['machine_cpu']:.0f} s"),
            ("load before", lambda r: r["load"].split()[0]),
        ]
        for label, show in rows:
            print(f"{label:<28} " + " ".join(f"{show(load[m]) if m in load else '-':>14}" for m in ["per-job", "application"]))
        for mode, r in load.items():
            for failure in r.get("failures", []):
                print(f"  {mode} failure (status.error): {failure}")
        print()


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
p = sub.add_parser("wait-running")
p.add_argument("--since", type=float, default=0.0)
p.add_argument("--apply", nargs=2, action="append", default=[], metavar=("SOURCE", "TARGET"))
p.add_argument("--port", type=int)
p.add_argument("--flinklet"); p.add_argument("--state"); p.add_argument("--cluster")
p.add_argument("--status", nargs=2, metavar=("KIND", "NAME"))
p.add_argument("--output"); p.add_argument("--oplog"); p.add_argument("--match", action="append", default=[])
p.add_argument("--mark", action="append", default=[]); p.add_argument("--mark-file")
p.add_argument("--timeout", type=float, default=180)
p.add_argument("--who"); p.add_argument("--mode"); p.add_argument("--run", type=int); p.add_argument("--load", default="")
p.add_argument("--version", default="2.3")
p.add_argument("--results")
p.set_defaults(func=cmd_wait_running)
p = sub.add_parser("wait-rest"); p.add_argument("--port", type=int); p.add_argument("--timeout", type=float, default=120)
p.set_defaults(func=cmd_wait_rest)
p = sub.add_parser("wait-gone"); p.add_argument("--needle"); p.add_argument("--timeout", type=float, default=120)
p.add_argument("--flinklet"); p.add_argument("--state")
p.set_defaults(func=cmd_wait_gone)
p = sub.add_parser("load")
for option in ["--flinklet", "--state", "--stage", "--manifests", "--mode", "--results", "--load"]:
    p.add_argument(option)
p.add_argument("--operator", type=int); p.add_argument("--timeout", type=float, default=900)
p.set_defaults(func=cmd_load)
p = sub.add_parser("load-clean"); p.add_argument("--results"); p.add_argument("--n", type=int)
p.set_defaults(func=cmd_load_clean)
p = sub.add_parser("baseline-conf"); p.add_argument("--source"); p.add_argument("--target"); p.add_argument("--set", action="append", default=[])
p.set_defaults(func=cmd_baseline_conf)
p = sub.add_parser("report"); p.add_argument("--results"); p.add_argument("--runs", type=int)
p.set_defaults(func=cmd_report)
args = parser.parse_args()
if getattr(args, "state", None):
    TLS_STATE_DIRS.append(args.state)
sys.exit(args.func(args) or 0)
PY
py() { PYTHONPATH="$PWD/hack" python3 "$SCRATCH/bench.py" "$@"; }
now() { date +%s.%N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------------------------------------
# Manifests (the shape of Tests/EndToEndTests/Harness.swift `E2E.deployment`).

# deployment NAME MODE OUTPUT [CHECKPOINT_INTERVAL] [RATE] [KEYS] [EXTRA_CONFIGURATION_LINES]
deployment() {
    local configuration=""
    [ -n "${4:-}" ] && configuration="    execution.checkpointing.interval: \"$4\""$'\n'
    configuration+="${7:-}"
    cat <<EOF
apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: $1
spec:
  flinkVersion: $FLINK_VERSION_VALUE
  mode: $2
  flinkConfiguration:
$configuration
    taskmanager.numberOfTaskSlots: "1"
  jobManager:
    resource:
      memory: 768m
  taskManager:
    replicas: 1
    resource:
      memory: 1024m
  job:
    jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
    entryClass: $ENTRY_CLASS
    args: ["--rate", "${5:-20}", "--keys", "${6:-4}", "--output", "$3"]
    parallelism: 1
    upgradeMode: stateless
EOF
}

session_cluster() {
    cat <<EOF
apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: $1
spec:
  flinkVersion: $FLINK_VERSION_VALUE
  mode: session
  flinkConfiguration:
    execution.checkpointing.interval: "2s"
    taskmanager.numberOfTaskSlots: "1"
  jobManager:
    resource:
      memory: 768m
  taskManager:
    replicas: 1
    resource:
      memory: 1024m
EOF
}

# session_job NAME CLUSTER OUTPUT
session_job() {
    cat <<EOF
apiVersion: flink.apache.org/v1beta1
kind: FlinkSessionJob
metadata:
  name: $1
spec:
  deploymentName: $2
  flinkConfiguration:
    execution.checkpointing.interval: "2s"
  job:
    jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
    entryClass: $ENTRY_CLASS
    args: ["--rate", "20", "--keys", "4", "--output", "$3"]
    parallelism: 1
    upgradeMode: stateless
EOF
}

# ---------------------------------------------------------------------------------------------
# The operator: `flinklet run` on a manifest and state directory of its own, JSON log (ms times).

# start_operator DIR [extra flinklet run options]: sets OPERATOR_PID, STATE, MANIFESTS, OPLOG.
start_operator() {
    local dir=$1; shift
    STATE=$dir/state MANIFESTS=$dir/manifests OPLOG=$dir/operator.log
    mkdir -p "$STATE" "$MANIFESTS" "$dir/stage"
    "$FLINKLET" run --manifests "$MANIFESTS" --state-dir "$STATE" \
        --ports "$OPERATOR_PORTS" --empty-grace 1 --resync 2 --log-format json "$@" >"$OPLOG" 2>&1 &
    OPERATOR_PID=$!
    for _ in $(seq 100); do grep -q '"adopted pods"' "$OPLOG" 2>/dev/null && break; sleep 0.1; done
    grep -q '"adopted pods"' "$OPLOG" || { echo "error: the operator did not start; its log:" >&2; cat "$OPLOG" >&2; exit 1; }
    sleep 1  # idle
}

stop_operator() {
    kill -TERM "$OPERATOR_PID"
    wait "$OPERATOR_PID" || true
    OPERATOR_PID=""
}

# Removes manifests and waits until no process of theirs remains and the operator forgot them.
flinklet_teardown() {
    rm -f "$@"
    py wait-gone --needle "$STATE/pods/" --flinklet "$FLINKLET" --state "$STATE" --timeout 180 \
        || { echo "error: pods left behind; operator log tail:" >&2; tail -20 "$OPLOG" >&2; exit 1; }
}

# keep_pod_logs DIR: copies every pod's log (the operator deletes pod directories with the pods).
keep_pod_logs() {
    local pod
    for pod in "$STATE"/pods/default/*/*/; do
        mkdir -p "$1/$(basename "$pod")"
        cp "$pod/log" "$1/$(basename "$pod")/" 2>/dev/null || true
    done
}

# flinklet_run MODE RUN
flinklet_run() {
    local mode=$1 run=$2 stage=$SCRATCH/flinklet/stage out=$SCRATCH/out name job="" target
    local -a apply
    case $mode in
        application|per-job)
            name=$([ "$mode" = application ] && echo app || echo perjob)-${VERSION//./}-r$run
            deployment "$name" "$mode" "$out/$name.out" 2s >"$stage/$name.yaml"
            apply=(--apply "$stage/$name.yaml" "$MANIFESTS/$name.yaml")
            target=(--cluster "$name" --status flinkdep "$name" --output "$out/$name.out" --match "$name") ;;
        session)
            name=session-${VERSION//./}-r$run job=sjob-${VERSION//./}-r$run
            session_cluster "$name" >"$stage/$name.yaml"
            session_job "$job" "$name" "$out/$job.out" >"$stage/$job.yaml"
            apply=(--apply "$stage/$name.yaml" "$MANIFESTS/$name.yaml" --apply "$stage/$job.yaml" "$MANIFESTS/$job.yaml")
            target=(--cluster "$name" --status sessionjob "$job" --output "$out/$job.out" --match "$name" --match "$job") ;;
    esac
    py wait-running "${apply[@]}" --flinklet "$FLINKLET" --state "$STATE" "${target[@]}" --oplog "$OPLOG" \
        --who flinklet --mode "$mode" --version "$VERSION" --run "$run" --load "$(loadavg)" --results "$RESULTS" --timeout 180 || true
    keep_pod_logs "$SCRATCH/pod-logs/$name"
    flinklet_teardown "$MANIFESTS/$name.yaml" ${job:+"$MANIFESTS/$job.yaml"}
}

# ---------------------------------------------------------------------------------------------
# The baseline: Flink's scripts, as its documentation runs them.

BASE_SEQ=0

# scripts_run MODE RUN VARIANT (scripts | scripts+speed)
scripts_run() {
    local mode=$1 run=$2 who=$3
    BASE_SEQ=$((BASE_SEQ + 1))
    local dir=$SCRATCH/baseline/$VERSION-$mode-$who-r$run port=$((32000 + 10 * (BASE_SEQ % 76))) out=$SCRATCH/out/$VERSION-$mode-$who-r$run.out
    mkdir -p "$dir/log" "$dir/pid" "$dir/tmp"
    cp -r "$FLINK_HOME/conf" "$dir/conf"
    local -a keys=(
        jobmanager.rpc.address=127.0.0.1 jobmanager.bind-host=127.0.0.1 rest.address=127.0.0.1 rest.bind-address=127.0.0.1
        taskmanager.host=127.0.0.1 taskmanager.bind-host=127.0.0.1
        rest.port=$port jobmanager.rpc.port=$((port + 1)) blob.server.port=$((port + 2))
        taskmanager.rpc.port=$((port + 3)) taskmanager.data.port=$((port + 4))
        jobmanager.memory.process.size=768m taskmanager.memory.process.size=1024m
        taskmanager.numberOfTaskSlots=1 parallelism.default=1 high-availability.type=none
        execution.checkpointing.interval=2s
        execution.checkpointing.dir=file://$dir/checkpoints execution.checkpointing.savepoint-dir=file://$dir/savepoints
        io.tmp.dirs=$dir/tmp web.tmpdir=$dir/tmp/web web.upload.dir=$dir/uploads user.artifacts.base-dir=$dir/artifacts
    )
    if [ "$who" = scripts+speed ]; then
        keys+=(cluster.registration.error-delay=1s heartbeat.interval=2s heartbeat.timeout=10s web.refresh-interval=500ms)
    fi
    local -a sets=()
    for key in "${keys[@]}"; do sets+=(--set "$key"); done
    py baseline-conf --source "$FLINK_HOME/conf/config.yaml" --target "$dir/conf/config.yaml" "${sets[@]}"
    (
        export FLINK_CONF_DIR=$dir/conf FLINK_LOG_DIR=$dir/log FLINK_PID_DIR=$dir/pid FLINK_IDENT_STRING=bench
        local bin=$FLINK_HOME/bin load t0 rest poller marks=$dir/marks
        load=$(loadavg)
        t0=$(now)
        # The waiter polls from t0 on, alongside the scripts; they note their own milestones.
        py wait-running --since "$t0" --port "$port" --output "$out" --mark-file "$marks" \
            --who "$who" --mode "$mode" --version "$VERSION" --run "$run" --load "$load" --results "$RESULTS" --timeout 180 &
        poller=$!
        if [ "$mode" = application ]; then
            "$bin/standalone-job.sh" start --job-classname "$ENTRY_CLASS" --rate 20 --keys 4 --output "$out" >"$dir/scripts.out" 2>&1
            "$bin/taskmanager.sh" start >>"$dir/scripts.out" 2>&1
            echo "scripts=$(now)" >>"$marks"
        else
            "$bin/jobmanager.sh" start >"$dir/scripts.out" 2>&1
            "$bin/taskmanager.sh" start >>"$dir/scripts.out" 2>&1
            echo "scripts=$(now)" >>"$marks"
            rest=$(py wait-rest --port "$port" --timeout 120) || rest=$(now)
            echo "submit=$rest" >>"$marks"
            "$bin/flink" run -d -m "127.0.0.1:$port" -c "$ENTRY_CLASS" "$JAR" --rate 20 --keys 4 --output "$out" >"$dir/client.out" 2>&1 || true
            echo "client_done=$(now)" >>"$marks"
        fi
        echo end >>"$marks"
        wait "$poller" || true
        "$bin/taskmanager.sh" stop >/dev/null 2>&1 || true
        if [ "$mode" = application ]; then
            "$bin/standalone-job.sh" stop >/dev/null 2>&1 || true
        else
            "$bin/jobmanager.sh" stop >/dev/null 2>&1 || true
        fi
    )
    if ! py wait-gone --needle "$dir/" --timeout 30; then
        # shellcheck disable=SC2046
        kill -KILL $(pgrep -f -- "$dir/") 2>/dev/null || true
        py wait-gone --needle "$dir/" --timeout 10
    fi
}

# ---------------------------------------------------------------------------------------------
# Deployer load.

# Raised timeouts for the load clusters (see the contract at the top). Flink's actor-system start
# keeps its 10 s remoting timeout whatever the configuration says (`pekko.startup-timeout` made no
# difference in a trial run).
LOAD_CONFIGURATION='    pekko.ask.timeout: "60s"
    heartbeat.timeout: "120s"'

# load_episode MODE N
load_episode() {
    local mode=$1 n=$2 dir=$SCRATCH/load-$1-$2 i name failed_starts
    start_operator "$dir" --max-concurrent-submissions 2
    for i in $(seq -w 1 "$n"); do
        name=$([ "$mode" = application ] && echo app || echo perjob)-$i
        deployment "$name" "$mode" "$SCRATCH/out/load-$name.out" "" 5 1 "$LOAD_CONFIGURATION" >"$dir/stage/$name.yaml"
    done
    echo "  $mode: $n FlinkDeployments saved at once (load $(loadavg))"
    py load --operator "$OPERATOR_PID" --flinklet "$FLINKLET" --state "$STATE" --stage "$dir/stage" --manifests "$MANIFESTS" \
        --mode "$mode" --results "$RESULTS" --load "$(loadavg)" --timeout 600 >"$dir/result.json" || true
    keep_pod_logs "$SCRATCH/pod-logs/load-$mode-$n"
    failed_starts=$(grep -l "Could not create actor system" "$SCRATCH/pod-logs/load-$mode-$n"/*-jobmanager-0/log 2>/dev/null | wc -l) || true
    if [ "$failed_starts" -gt 0 ]; then
        echo "  $mode: $failed_starts of $n JobManager logs say \"Could not create actor system\" (Futures timed out after [10000 milliseconds])"
    fi
    flinklet_teardown "$MANIFESTS"/*.yaml
    stop_operator
}

# ---------------------------------------------------------------------------------------------

mkdir -p "$SCRATCH/out" "$SCRATCH/flinklet"
echo "machine: $(nproc) cores, MemTotal $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), MemAvailable $(awk '/MemAvailable/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), load $(loadavg) at start"
echo "flinklet $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+changes'), Flink $(for h in $HOMES; do basename "$(ls "$h"/lib/flink-dist*.jar)" .jar | sed 's/flink-dist-//'; done | paste -sd' '), $(java -version 2>&1 | head -1)"
read -r ephemeral_low ephemeral_high </proc/sys/net/ipv4/ip_local_port_range
echo "scratch: $SCRATCH; ephemeral ports $ephemeral_low-$ephemeral_high"
overlaps() { [ "$ephemeral_low" -le "$2" ] && [ "$ephemeral_high" -ge "$1" ]; }
if overlaps "${OPERATOR_PORTS%-*}" "${OPERATOR_PORTS#*-}" || overlaps 32000 32767; then
    echo "warning: the kernel's ephemeral ports overlap the benchmark's ports: expect occasional bind failures" >&2
fi
echo

if [ "${SKIP_STARTUP:-0}" != 1 ]; then
    echo "startup: manifest saved → job RUNNING, $RUNS runs per mode, interleaved with the baseline"
    start_operator "$SCRATCH/flinklet"
    for run in $(seq 1 "$RUNS"); do
        for version in $VERSIONS; do
            use_version "$version"
            for mode in application per-job session; do
                flinklet_run "$mode" "$run"
                scripts_run "$mode" "$run" scripts
                [ "$SPEED_BASELINE" = 1 ] && scripts_run "$mode" "$run" scripts+speed
            done
        done
    done
    use_version "${VERSIONS##* }"
    stop_operator
    echo
fi

if [ "${SKIP_LOAD:-0}" != 1 ]; then
    available_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
    per_cluster_kb=$((800 * 1024))  # JobManager + TaskManager ≈ 650 MB resident, plus headroom
    n=$LOAD_N
    if [ $((available_kb / per_cluster_kb)) -lt "$n" ]; then
        n=$((available_kb / per_cluster_kb))
        echo "deployer load: MemAvailable is $((available_kb / 1024)) MiB; $LOAD_N clusters need ~$((LOAD_N * per_cluster_kb / 1024)) MiB (800 MiB each): using N=$n"
    fi
    # 40 JVMs starting at once on 2 cores can fail Flink's own startup timeouts (the actor system's
    # 10 s remoting start), and application and per-job JobManagers are never restarted: when a
    # deployment FAILED, the failed attempt is reported and N is halved until both modes run clean.
    while [ "$n" -ge 2 ]; do
        echo "deployer load: $n clusters per episode"
        load_episode per-job "$n"
        load_episode application "$n"
        py load-clean --results "$RESULTS" --n "$n" && break
        n=$((n / 2))
        echo "deployer load: deployments FAILED or did not reach RUNNING; retrying with N=$n"
    done
    [ "$n" -ge 2 ] || echo "deployer load: no N ≥ 2 ran clean"
    echo
fi

echo "================================================================================"
py report --results "$RESULTS" --runs "$RUNS"
