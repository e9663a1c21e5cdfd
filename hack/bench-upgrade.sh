#!/usr/bin/env bash
# Upgrade downtime benchmark (issue: bench-upgrade), printing its numbers.
#
# What it measures
#   Downtime of a job upgrade = the time the first output record of the new job appears − the
#   time the last output record of the old job appeared. The job is the counter job
#   (examples/counter-job) at `--rate 100` (one record per ~10 ms) over 4 keys; each version
#   writes its own tag (`key count vN`), and the upgrade is the tag change in the job's arguments.
#   A watcher polls the output file every 5 ms and stamps each new line with the time it saw it.
#   Per mode, $RUNS (3) upgrades v1→v2→…, each after the job has written output steadily for
#   $STEADY (6) s plus a random 0–$JITTER (2) s, so the upgrade falls anywhere between two
#   checkpoints (every 2 s; what a last-state upgrade replays depends on it); the median is reported.
#     flinklet: one `flinklet run` (--ports 30000-30999 --empty-grace 1 --resync 2) with
#       - application/savepoint: an application FlinkDeployment (JobManager 768m, TaskManager
#         1024m, 1 TaskManager, 1 slot, parallelism 1, checkpoints every 2 s), upgradeMode savepoint;
#       - application/last-state: the same as a separate deployment with upgradeMode last-state;
#       - session-job/savepoint: a session FlinkDeployment (same sizes) and a FlinkSessionJob,
#         upgradeMode savepoint.
#       Between modes everything is deleted and the benchmark waits until no process remains.
#     scripts (the baseline, same run): the upgrade done by hand as Flink's documentation does it,
#     with its own FLINK_CONF_DIR (Flink's shipped config.yaml plus loopback, ports in
#     29000-29999, the same memory, slots, checkpoint interval and checkpoint/savepoint
#     directories), FLINK_LOG_DIR and FLINK_PID_DIR per run:
#       - application: `bin/standalone-job.sh start --job-classname …` (the jar in
#         $FLINK_HOME/usrlib) + `bin/taskmanager.sh start`; upgrade = `bin/flink stop
#         --savepointPath DIR -m 127.0.0.1:PORT <job id>`, `bin/standalone-job.sh stop`,
#         `bin/taskmanager.sh stop`, then both started again with `--fromSavepoint <path>` and the
#         new arguments;
#       - session job: `bin/jobmanager.sh start` + `bin/taskmanager.sh start`, `bin/flink run -d`;
#         upgrade = `bin/flink stop --savepointPath …`, then `bin/flink run -d -s <savepoint> …`.
#     A second baseline (scripts+speed, SPEED_BASELINE=1) adds the keys Flinklet's own clusters get
#     (`cluster.registration.error-delay: 1s`, heartbeats 2 s / 10 s, `web.refresh-interval`), so
#     the reader sees which part of the gain is configuration.
#   Flink version upgrade (MODES=application-version, FROM=1.20 TO=2.3): the job moves from one
#   Flink release to another, the old version writing tag `flink-$FROM`, the new one `flink-$TO`.
#   A version only goes forward, so each of the $RUNS upgrades is a fresh job: created on $FROM,
#   steady as above, upgraded to $TO, torn down; Flinklet's and the baseline's runs alternate.
#     flinklet: an application FlinkDeployment as above with `flinkVersion: v<FROM>` and
#       upgradeMode $VERSION_UPGRADE_MODE (savepoint; last-state is forced through a savepoint by
#       Flinklet, as upstream does it), then the manifest's `flinkVersion: v<TO>` and tag. The
#       jarURI local:///opt/flink/usrlib/… resolves in each version's own distribution. The
#       operator runs without --flink-home (for every mode), so it finds every installed version.
#     scripts: Flink's documented procedure, "Upgrading the Flink Framework Version" (ops/upgrading,
#       in-place): STEP 1 `bin/flink stop --savepointPath DIR -m 127.0.0.1:PORT <job id>` of the OLD
#       distribution; the old cluster stopped (its `standalone-job.sh stop`, `taskmanager.sh
#       stop`); STEP 2/3 the NEW distribution's `standalone-job.sh start --job-classname …
#       --fromSavepoint <path>` (the jar in its own usrlib/) and `taskmanager.sh start`. Each
#       distribution has its own FLINK_CONF_DIR (its shipped config.yaml with the same keys as
#       above); ports, memory, slots, checkpointing, directories, logs and pid files are shared.
#     No numeric target in the issue: the ratio to the scripted procedure is printed. State: the
#     move is a savepoint in both, so counts must continue exactly (any replay is a problem).
#   Targets (the issue): application modes ≤ 0.5 × the scripted downtime (the application
#   baseline is the savepoint procedure above; last-state is compared with it too); a session-job
#   upgrade ≤ 1.5 s.
#   State: per key, the first count of the new version must be the old version's highest + 1 for
#   savepoint upgrades (nothing lost, nothing counted twice); a last-state upgrade restores the
#   last checkpoint, so records after it are counted again: their number is reported (replayed).
#   A record lost (a key skipping counts) or an old-version record after the first new one (two
#   copies running) is reported as a failure of that upgrade.
#   Breakdown: for each upgrade, the milestones of the operator's JSON log (snapshot action, old
#   pods stopping/stopped, new pods started, JobManager ready; pods are told apart by their role as
#   `flinklet describe` lists it, or failing that by what their JVM logged first, never by their
#   names) and of Flink's own logs (savepoint triggered/completed, old job ended, new JobManager's first log line, REST endpoint up, TaskManager
#   registered, job received, restore, job RUNNING, all tasks RUNNING), in seconds after the last
#   record of the old version; the baseline's script steps likewise.
#
# What it assumes
#   Linux /proc; python3; loopback ports 29000-29999 (baseline) and 30000-30999 (operator) free
#   (both below the kernel's ephemeral range, 32768-60999, so no client socket takes them);
#   Java and Flink from hack/install-flink.sh, the counter job from hack/build-counter-job.sh.
#   The machine (2 cores) may be shared with other work, e.g. test suites starting Flink clusters:
#   the load average is printed before every measurement. When the 1-minute load is above 3 at
#   the start, the benchmark waits up to 10 minutes for it to fall below 2 and says so.
#
# It leaves nothing behind: on exit the operator is stopped, the baseline clusters' scripts are
# asked to stop, and every process whose command line names the scratch directory
# (/tmp/flinklet-upgbench-*) is killed. KEEP=1 keeps the directory (logs, outputs, results.jsonl).
# Knobs: RUNS (3), STEADY (6), JITTER (2), SPEED_BASELINE (1), SKIP_FLINKLET=1, SKIP_SCRIPTS=1,
# MODES ("application-savepoint application-last-state session-job"; also application-version),
# FROM (1.20), TO (2.3), VERSION_UPGRADE_MODE (savepoint), NO_LOAD_WAIT=1, SWIFT_SCRATCH_PATH (.build).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
STEADY=${STEADY:-6}
JITTER=${JITTER:-2}
SPEED_BASELINE=${SPEED_BASELINE:-1}
MODES=${MODES:-application-savepoint application-last-state session-job}
# application-version: the Flink releases the job moves between, and the manifest's upgradeMode.
FROM=${FROM:-1.20}
TO=${TO:-2.3}
VERSION_UPGRADE_MODE=${VERSION_UPGRADE_MODE:-savepoint}

bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
FLINK_HOME=$(bash hack/install-flink.sh)
case " $MODES " in
    *" application-version "*)
        FROM_HOME=$(bash hack/install-flink.sh "$FROM")
        TO_HOME=$(bash hack/install-flink.sh "$TO")
        [ "$FROM_HOME" != "$TO_HOME" ] || { echo "error: FROM=$FROM and TO=$TO are the same release" >&2; exit 2; } ;;
esac
# One jar per installed distribution (a line each); the baseline's `flink run` takes $FLINK_HOME's.
bash hack/build-counter-job.sh >/dev/null
JAR=$FLINK_HOME/usrlib/flinklet-counter-job.jar
export FLINK_HOME

FLINKLET="$(bash hack/build-release.sh flinklet)/flinklet"

SCRATCH=$(mktemp -d /tmp/flinklet-upgbench-XXXXXX)
RESULTS=$SCRATCH/results.jsonl
OPERATOR_PID=""
: >"$RESULTS"

# Stops the operator, asks the baseline clusters to stop, and kills every process of this
# benchmark, whatever state it is in.
cleanup() {
    set +e
    if [ -n "$OPERATOR_PID" ]; then kill -TERM "$OPERATOR_PID" 2>/dev/null; wait "$OPERATOR_PID" 2>/dev/null; fi
    local dir pidfile pid script live pids
    # A baseline cluster still running (an interrupted episode) is stopped by Flink's own scripts,
    # with that cluster's FLINK_CONF_DIR/FLINK_PID_DIR/FLINK_LOG_DIR: taskmanager.sh and
    # jobmanager.sh know `stop-all`; standalone-job.sh knows only `stop`, which stops the newest
    # process of its pid file, so it runs once per line.
    for dir in "$SCRATCH"/baseline/*; do
        for pidfile in "$dir"/pid/*.pid; do
            [ -f "$pidfile" ] || continue
            live=0
            while read -r pid; do kill -0 "$pid" 2>/dev/null && live=$((live + 1)); done <"$pidfile"
            [ "$live" -gt 0 ] || continue
            case $pidfile in
                *-taskexecutor.pid) script="taskmanager.sh stop-all" ;;
                *-standalonesession.pid) script="jobmanager.sh stop-all" ;;
                *-standalonejob.pid) script="standalone-job.sh stop" ;;
                *) continue ;;
            esac
            for _ in $(seq "$(wc -l <"$pidfile")"); do
                [ -f "$pidfile" ] || break
                # shellcheck disable=SC2086
                FLINK_CONF_DIR=$dir/conf FLINK_LOG_DIR=$dir/log FLINK_PID_DIR=$dir/pid FLINK_IDENT_STRING=bench \
                    timeout 20 "$FLINK_HOME"/bin/$script >/dev/null 2>&1
            done
        done
    done
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
# The watcher, the episodes and the report: a Python helper (stdlib only).
cat >"$SCRATCH/bench.py" <<'PY'
import argparse, json, os, random, re, signal, socket, statistics, subprocess, sys, time, urllib.request
from datetime import datetime

ENTRY_CLASS = "dev.flinklet.examples.CounterJob"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def append(results, record):
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


from flinkrest import TLS_STATE_DIRS, open_rest as _open  # noqa: E402 - hack/ is on the path


def rest(port, path, timeout=2):
    try:
        with _open(port, path, timeout) as answer:
            return json.load(answer)
    except Exception:
        return None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def live_pids(needle):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z" and needle in cmdline(entry):
                pids.append(int(entry))
    return pids


# ---- the watcher ------------------------------------------------------------------------------

def cmd_watch(a):
    """Polls the output file every `interval` s; each new complete line is written to `out` as
    `<epoch seconds> <line>`, stamped with the time it was first read."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = open(a.out, "a", buffering=1)
    fd, offset, partial = None, 0, b""
    while True:
        if fd is None:
            try:
                fd = os.open(a.file, os.O_RDONLY)
            except FileNotFoundError:
                fd = None
        data = os.pread(fd, 1 << 20, offset) if fd is not None else b""
        if data:
            seen = time.time()
            offset += len(data)
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            out.write("".join(f"{seen:.6f} {line.decode(errors='replace')}\n" for line in lines))
            continue
        if stop:
            break
        time.sleep(a.interval)


class Stamps:
    """The watcher's records, read incrementally: (time, key, count, tag)."""

    def __init__(self, path):
        self.path, self.offset, self.records, self.partial = path, 0, [], ""

    def refresh(self):
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return self.records
        lines = (self.partial + data).split("\n")
        self.partial = lines.pop()
        for line in lines:
            parts = line.split()
            if len(parts) == 4 and parts[2].isdigit():
                self.records.append((float(parts[0]), parts[1], int(parts[2]), parts[3]))
        return self.records

    def first(self, tag):
        return next((r[0] for r in self.records if r[3] == tag), None)

    def wait_first(self, tag, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.refresh()
            found = self.first(tag)
            if found is not None:
                return found
            time.sleep(0.02)
        return None


def start_watcher(output, stamps):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", "--file", output, "--out", stamps])


def stop_watcher(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def analyze(records, old, new, savepoint):
    """Downtime and state continuity of the old → new transition."""
    old_records = [r for r in records if r[3] == old]
    new_records = [r for r in records if r[3] == new]
    if not old_records or not new_records:
        return {"downtime": None}
    last_old = max(r[0] for r in old_records)
    first_new = min(r[0] for r in new_records)
    old_max, first_count = {}, {}
    for _, key, count, _ in old_records:
        old_max[key] = max(old_max.get(key, 0), count)
    for _, key, count, _ in sorted(new_records):
        first_count.setdefault(key, count)
    replayed = lost = 0
    problems = []
    for key in sorted(set(old_max) | set(first_count)):
        expected = old_max.get(key, 0) + 1
        got = first_count.get(key)
        if got is None:
            continue  # this key has no record of the new version yet (not with 4 keys at 100/s)
        if got > expected:
            lost += got - expected
            problems.append(f"{key} skips from {expected - 1} to {got}")
        elif got < expected:
            replayed += expected - got
            if savepoint:
                problems.append(f"{key} falls back from {expected - 1} to {got}")
    # Two copies at once: an old record seen after the first new one.
    overlap = sum(1 for r in old_records if r[0] > first_new)
    if overlap:
        problems.append(f"{overlap} record(s) of {old} after the first of {new}")
    return {"downtime": round(first_new - last_old, 4), "last_old": last_old, "first_new": first_new,
            "replayed": replayed, "lost": lost, "problems": problems, "keys": len(first_count),
            "old_records": len(old_records)}


# ---- logs -------------------------------------------------------------------------------------

FLINK_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3}) ")


def flink_log(paths):
    """(time, line) of every timestamped line of Flink logs, in time order."""
    entries = []
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    match = FLINK_TIME.match(line)
                    if match:
                        when = time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")) + int(match.group(2)) / 1000
                        entries.append((when, line.rstrip("\n")))
        except OSError:
            pass
    entries.sort(key=lambda e: e[0])
    return entries


def operator_log(path):
    """(time, entry) of the operator's JSON log."""
    entries = []
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
            when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()
        except Exception:
            continue
        entries.append((when, entry))
    return entries


def first_after(entries, since, until, predicate):
    for when, entry in entries:
        if since <= when <= until and predicate(entry):
            return when
    return None


def last_between(entries, since, until, predicate):
    found = None
    for when, entry in entries:
        if since <= when <= until and predicate(entry):
            found = when
    return found


# Flink 2.3's own lines (verified on real logs of both sides):
#   CheckpointCoordinator: `Triggering checkpoint 15 (type=SavepointType{name='Suspend Savepoint', …}) @ 1795… for job <id>.`
#                          `Completed checkpoint 15 for job <id> (1445 bytes, checkpointDuration=341 ms, …).`
#                          `Restoring job <id> from Savepoint 4 @ 0 for <id> located at file:…` (or `from Checkpoint …`)
#   ExecutionGraph:        `Job flinklet-counter (<id>) switched from state RUNNING to FINISHED.`
#                          `<task> (1/1) (<attempt>) switched from INITIALIZING to RUNNING.`
#   ClusterEntrypoint:     ` Starting StandaloneApplicationClusterEntryPoint (Version: 2.3.0, …)` (…SessionClusterEntrypoint)
#   RestEndpoint:          `Rest endpoint listening at 127.0.0.1:<port>`
#   ResourceManager:       `Registering TaskManager with ResourceID <id> (…) at ResourceManager`
#   Dispatcher:            `Received job submission '<name>' (<id>).`
#   TaskManagerRunner:     ` Starting TaskManager (Version: 2.3.0, …)`;
#   TaskExecutor:          `Successful registration at resource manager …`
JOB_ID = r"[0-9a-f]{32}"
SAVEPOINT_TRIGGER = re.compile(r"Triggering checkpoint (\d+) \(type=SavepointType\{name='([^']*)'.*\) @ \d+ for job (" + JOB_ID + ")")
CHECKPOINT_DONE = re.compile(r"Completed checkpoint (\d+) for job (" + JOB_ID + r") \(")
JOB_STATE = re.compile(r"Job .* \((" + JOB_ID + r")\) switched from state (\w+) to (\w+)\.")
JM_START = re.compile(r"Starting Standalone\w+ \(Version: ")
TM_START = "Starting TaskManager (Version: "


def flink_marks(marks, log, since, until):
    """Milestones of an upgrade in Flink's JobManager logs (the old and the new process)."""
    def has(*needles):
        return lambda line: all(n in line for n in needles)
    # The savepoint: the first savepoint triggered after the upgrade began (a second earlier: the log's
    # clock has millisecond steps), then Flink's completion line of that checkpoint number and job.
    for when, line in log:
        if when < since - 1 or when > until:
            continue
        trigger = SAVEPOINT_TRIGGER.search(line)
        if trigger:
            number, _, job = trigger.groups()
            marks["sp_start"] = when
            marks["sp_done"] = first_after(log, when, until, lambda l: f"Completed checkpoint {number} for job {job} (" in l)
            if marks["sp_done"] is None:
                marks["sp_failed"] = first_after(log, when, until, lambda l: f"checkpoint {number} for job {job}" in l and
                                                 ("Failed" in l or "Declin" in l or "decline" in l))
            break
    ended = lambda l: (lambda m: m is not None and m.group(3) in ("FINISHED", "CANCELED", "SUSPENDED", "FAILED"))(JOB_STATE.search(l))
    marks["old_end"] = first_after(log, since, until, ended)
    # The last periodic checkpoint the old job completed (a last-state upgrade restores it).
    if marks["old_end"] is not None and "sp_start" not in marks:
        marks["last_ck"] = last_between(log, since - 30, marks["old_end"], lambda l: CHECKPOINT_DONE.search(l) is not None)
    jvm = first_after(log, since, until, lambda l: JM_START.search(l) is not None)
    if jvm is not None:
        marks["jvm_log"] = jvm
        marks["rest_up"] = first_after(log, jvm, until, has("Rest endpoint listening at"))
        marks["tm_registered"] = first_after(log, jvm, until, has("Registering TaskManager with ResourceID"))
    start = marks.get("old_end") or since
    marks["job_received"] = first_after(log, start, until, has("Received job submission"))
    marks["restore"] = first_after(log, start, until, lambda l: re.search(r"Restoring job " + JOB_ID + r" from (Savepoint|Checkpoint)", l) is not None)
    marks["job_running"] = first_after(log, start, until, lambda l: (lambda m: m is not None and m.group(2) == "CREATED" and m.group(3) == "RUNNING")(JOB_STATE.search(l)))
    if marks.get("job_running"):
        marks["tasks_running"] = last_between(log, marks["job_running"], until, has("switched from INITIALIZING to RUNNING"))


def taskmanager_marks(marks, log, since, until):
    """A new TaskManager's first log line and its registration, from the TaskManagers' own logs
    (none when the TaskManagers kept running across the upgrade)."""
    jvm = first_after(log, since, until, lambda l: TM_START in l)
    if jvm is not None:
        marks["tm_jvm_log"] = jvm
        marks["tm_registered"] = marks.get("tm_registered") or first_after(log, jvm, until, lambda l: "Successful registration at resource manager" in l)


def role_from_log(path):
    """A Flink pod's role from what its JVM logged first: a JobManager entry point or a TaskManager."""
    try:
        with open(path, errors="replace") as f:
            head = f.read(1 << 18)
    except OSError:
        return None
    if TM_START in head:
        return "taskmanager"
    if JM_START.search(head):
        return "jobmanager"
    return None


class PodRoles:
    """The roles of a FlinkDeployment's pods, as `flinklet describe` lists them (Pods: Name, Role, …),
    remembered across samples (a pod that is gone keeps the role it had); a pod never sampled is
    classified by its Flink log. Nothing here depends on how pods are named."""

    def __init__(self, flinklet, state, name, namespace="default"):
        self.flinklet, self.state, self.name, self.namespace = flinklet, state, name, namespace
        self.directory = f"{state}/pods/{namespace}/{name}"
        self.roles, self.source = {}, {}

    def sample(self):
        result = subprocess.run([self.flinklet, "describe", "flinkdeployment", self.name, "--state-dir", self.state,
                                 "-n", self.namespace], capture_output=True, text=True)
        inside = False
        for line in result.stdout.splitlines():
            if line.rstrip() == "Pods:":
                inside = True
                continue
            if inside:
                if not line.startswith("  "):
                    break
                fields = line.split()
                if len(fields) >= 2 and fields[:2] != ["Name", "Role"] and fields[0] != "<none>":
                    self.roles[fields[0]] = fields[1]
                    self.source[fields[0]] = "describe"
        return self

    def of(self, pod):
        """The role of a pod (short name, or the operator's `namespace/name`); None if not this resource's."""
        namespace, _, short = pod.rpartition("/")
        if namespace and namespace != self.namespace:
            return None
        if short not in self.roles:
            role = role_from_log(f"{self.directory}/{short}/log")
            if role:
                self.roles[short], self.source[short] = role, "log"
        return self.roles.get(short)

    def logs(self, role):
        pods = set(self.roles) | (set(os.listdir(self.directory)) if os.path.isdir(self.directory) else set())
        return sorted(f"{self.directory}/{pod}/log" for pod in pods if self.of(pod) == role)


def operator_marks(marks, oplog, resource, roles, since, until):
    """Milestones of the operator's JSON log. `resource` is the upgraded resource's key suffix
    (`/<name>`); `roles` knows the roles of the pods of the cluster that runs the job."""
    def pod_is(role, message):
        return lambda e: e.get("message") == message and roles.of(e.get("pod.name", "")) == role
    def action(*prefixes):
        # (the Reconciler logs each step as `action`; before 1271361 it was `flink action`)
        return lambda e: (e.get("message") in ("action", "flink action") and e.get("resource.key", "").endswith(resource)
                          and e.get("action", "").startswith(prefixes))
    # The snapshot action: stop-with-savepoint (savepoint upgrades) or cancel keeping the checkpoint (last-state).
    marks["op_snapshot"] = first_after(oplog, since, until, action("stopWithSavepoint(", "cancelKeepingCheckpoint(", "cancel("))
    # Reconciler's `stopping pod` carries the resource's key; the driver's `pod stopped`/`pod started`/`pod ready` the pod.
    marks["op_stopping"] = first_after(oplog, since, until, lambda e: e.get("message") == "stopping pod"
                                       and e.get("resource.key", "").endswith(resource))
    marks["jm_stopped"] = first_after(oplog, since, until, pod_is("jobmanager", "pod stopped"))
    marks["jm_started"] = first_after(oplog, since, until, pod_is("jobmanager", "pod started"))
    marks["tm_stopped"] = first_after(oplog, since, until, pod_is("taskmanager", "pod stopped"))
    marks["tm_started"] = first_after(oplog, since, until, pod_is("taskmanager", "pod started"))
    marks["jm_ready"] = first_after(oplog, marks["jm_started"], until, pod_is("jobmanager", "pod ready")) if marks["jm_started"] else None
    marks["op_submit"] = first_after(oplog, since, until, action("submit("))


# Milestones in the order they are shown (those that exist for a side).
MARKS = ["last_ck", "trigger", "op_snapshot", "sp_start", "sp_done", "sp_failed", "old_end", "client_stopped", "op_stopping", "jm_stopped", "jm_script_stopped",
         "scripts_stopped", "jm_started", "tm_stopped", "tm_started", "jm_script_started", "scripts_started", "op_submit", "client_run",
         "jvm_log", "tm_jvm_log", "rest_up", "jm_ready", "tm_registered", "job_received", "restore", "job_running", "tasks_running",
         "client_done", "first_new"]


def relative(marks, zero):
    return {k: round(v - zero, 3) for k, v in marks.items() if isinstance(v, (int, float))}


# ---- episodes ---------------------------------------------------------------------------------

def write_atomically(path, text):
    directory, base = os.path.split(path)
    temporary = os.path.join(directory, "." + base + ".tmp")
    with open(temporary, "w") as f:
        f.write(text)
    os.rename(temporary, path)


def flink_version_value(release):
    """`1.20` → `v1_20`, the manifest's spec.flinkVersion."""
    return "v" + release.replace(".", "_")


def deployment_manifest(name, output, tag, upgrade_mode, rate, keys, flink_version="v2_3"):
    return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: {name}
spec:
  flinkVersion: {flink_version}
  mode: application
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
  job:
    jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
    entryClass: {ENTRY_CLASS}
    args: ["--rate", "{rate}", "--keys", "{keys}", "--tag", "{tag}", "--output", "{output}"]
    parallelism: 1
    upgradeMode: {upgrade_mode}
"""


def session_manifest(name):
    return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: {name}
spec:
  flinkVersion: v2_3
  mode: session
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "1"
  jobManager:
    resource:
      memory: 768m
  taskManager:
    replicas: 1
    resource:
      memory: 1024m
"""


def session_job_manifest(name, cluster, output, tag, rate, keys):
    return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkSessionJob
metadata:
  name: {name}
spec:
  deploymentName: {cluster}
  flinkConfiguration:
    execution.checkpointing.interval: "2s"
  job:
    jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
    entryClass: {ENTRY_CLASS}
    args: ["--rate", "{rate}", "--keys", "{keys}", "--tag", "{tag}", "--output", "{output}"]
    parallelism: 1
    upgradeMode: savepoint
"""


def flinklet_get(a, kind, name=None):
    argv = [a.flinklet, "get", kind] + ([name] if name else []) + ["-o", "json", "--state-dir", a.state]
    result = subprocess.run(argv, capture_output=True, text=True)
    try:
        return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else None
    except ValueError:
        return None


def describe(r):
    head = f"  {r['who']:<14} {r['mode']:<23} {r['from']}→{r['to']}  "
    if r.get("downtime") is None:
        return head + f"FAILED: {r.get('failure', 'no record of the new version')}   load {r['load']}"
    state = "counts continue exactly" if not r["problems"] and not r["replayed"] else \
        (f"{r['replayed']} record(s) replayed" if not r["problems"] else "PROBLEM: " + "; ".join(r["problems"]))
    return head + f"downtime {r['downtime']:6.3f} s | {state} ({r['keys']} keys) | load {r['load']}"


def timeline(r):
    marks = r.get("marks", {})
    shown = [f"{k} {marks[k]:+.2f}" for k in sorted(marks, key=lambda k: (marks[k], MARKS.index(k) if k in MARKS else 99))]
    return "      s after the last old record: " + ", ".join(shown)


def emit(a, record):
    append(a.results, record)
    print(describe(record), flush=True)
    if record.get("marks"):
        print(timeline(record), flush=True)


def cmd_flinklet(a):
    """One Flinklet episode: create, let it run, upgrade $RUNS times, report each upgrade."""
    version = a.mode == "application/version"
    # A version upgrade: one upgrade per episode, from the old release (tag flink-<from>) to the new one.
    tags = [f"flink-{a.from_version}", f"flink-{a.to_version}"] if version else [f"v{i}" for i in range(1, a.runs + 2)]
    runs = 1 if version else a.runs
    session = a.mode == "session-job/savepoint"
    name = a.name
    output = f"{a.out}/{name}.out"
    stamps_path = output + ".stamps"
    watcher = start_watcher(output, stamps_path)
    stamps = Stamps(stamps_path)
    manifest = f"{a.manifests}/{name}.yaml"

    def apply(tag):
        if session:
            write_atomically(manifest, session_job_manifest(name, a.cluster, output, tag, a.rate, a.keys))
        elif version:
            release = a.from_version if tag == tags[0] else a.to_version
            write_atomically(manifest, deployment_manifest(name, output, tag, a.upgrade_mode, a.rate, a.keys,
                                                           flink_version_value(release)))
        else:
            write_atomically(manifest, deployment_manifest(name, output, tag, a.mode.split("/")[1], a.rate, a.keys))

    try:
        if session:
            write_atomically(f"{a.manifests}/{a.cluster}.yaml", session_manifest(a.cluster))
        created = time.time()
        apply(tags[0])
        first = stamps.wait_first(tags[0], 300)
        if first is None:
            print(f"  flinklet {a.mode}: no output of {tags[0]} within 300 s", flush=True)
            return 1
        print(f"  flinklet {a.mode}: created; first record after {first - created:.2f} s", flush=True)
        # The roles of the cluster's pods (the session cluster's for a session job), sampled while the
        # old version runs and again once the new one writes.
        roles = PodRoles(a.flinklet, a.state, a.cluster if session else name)
        for run in range(1, runs + 1):
            old, new = tags[run - 1], tags[run]
            time.sleep(max(0.0, stamps.first(old) + a.steady + random.uniform(0, a.jitter) - time.time()))
            roles.sample()
            load = loadavg()
            trigger = time.time()
            apply(new)
            seen = stamps.wait_first(new, a.timeout)
            time.sleep(0.3)
            stamps.refresh()
            # (a version change goes through a savepoint whatever the upgradeMode: no replay expected)
            record = {"kind": "upgrade", "who": "flinklet", "mode": a.mode, "run": a.run or run, "from": old, "to": new, "load": load,
                      **analyze(stamps.records, old, new, savepoint="savepoint" in a.mode or version)}
            if version:
                record["upgrade_mode"] = a.upgrade_mode
            if seen is None:
                record["downtime"] = None
                record["failure"] = f"no record of {new} within {a.timeout} s"
            else:
                marks = {"trigger": trigger}
                roles.sample()
                operator_marks(marks, operator_log(a.oplog), "/" + name, roles, trigger, seen)
                flink_marks(marks, flink_log(roles.logs("jobmanager")), trigger, seen + 0.5)
                taskmanager_marks(marks, flink_log(roles.logs("taskmanager")), trigger, seen + 0.5)
                # (results.jsonl: the pods the milestones were read from, and where each one's role came from)
                record["pod_roles"] = {pod: f"{role} ({roles.source[pod]})" for pod, role in sorted(roles.roles.items())}
                marks["first_new"] = record["first_new"]
                record["marks"] = relative({k: v for k, v in marks.items() if v is not None}, record["last_old"])
            emit(a, record)
            if seen is None:
                return 1
        return 0
    finally:
        stop_watcher(watcher)
        keep = f"{a.logs}/{a.mode.replace('/', '-')}"
        os.makedirs(keep, exist_ok=True)
        for pod_root in {name, a.cluster or name}:
            directory = f"{a.state}/pods/default/{pod_root}"
            for pod in (os.listdir(directory) if os.path.isdir(directory) else []):
                subprocess.run(["cp", f"{directory}/{pod}/log", f"{keep}/{pod}.log"], capture_output=True)


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def cmd_ports(a):
    """The first base in [start, end) (step 10) whose 5 ports are free."""
    for base in range(a.start, a.end, 10):
        if all(port_free(base + i) for i in range(5)):
            print(base)
            return 0
    return 1


def baseline_conf(source, target, overrides):
    """Flink's shipped config.yaml, flattened, with KEY=VALUE overrides, as flat YAML."""
    flat, stack = {}, []
    for raw in open(source):
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
    for key, value in overrides.items():
        flat[key] = json.dumps(value)
    with open(target, "w") as f:
        f.write("# Flink's shipped config.yaml, flattened, with the benchmark's keys\n")
        for key, value in flat.items():
            f.write(f"{key}: {value}\n")


def running_job(port, directory):
    """The id of the application cluster's running job (random in application mode without HA):
    from REST (retried: a loaded machine answers slowly), else the JobManager's log."""
    deadline = time.time() + 60
    while time.time() < deadline:
        jobs = (rest(port, "/jobs/overview", timeout=10) or {}).get("jobs", [])
        found = next((j["jid"] for j in jobs if j.get("state") == "RUNNING"), None)
        if found:
            return found
        time.sleep(0.5)
    ids = [m.group(1) for f in sorted(os.listdir(f"{directory}/log")) if "standalonejob" in f and f.endswith(".log")
           for m in re.finditer(r"Submitting Job with JobId=(\w+)", open(f"{directory}/log/{f}", errors="replace").read())]
    return ids[-1] if ids else None


def cmd_scripted(a):
    """One baseline episode: Flink's scripts, the upgrade by hand as the documentation does it."""
    home, d, port = a.flink_home, a.dir, a.port
    application = a.mode.startswith("application")
    # application-version: the old release's distribution (--flink-home, conf/) runs the job until
    # the upgrade, the new one's (--to-flink-home, conf-new/) from then on; one FLINK_CONF_DIR each.
    version = a.mode == "application-version"
    for sub in ["log", "pid", "tmp", "out"]:
        os.makedirs(f"{d}/{sub}", exist_ok=True)
    keys = {
        "jobmanager.rpc.address": "127.0.0.1", "jobmanager.bind-host": "127.0.0.1", "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1", "taskmanager.host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
        "rest.port": str(port), "jobmanager.rpc.port": str(port + 1), "blob.server.port": str(port + 2),
        "taskmanager.rpc.port": str(port + 3), "taskmanager.data.port": str(port + 4),
        "jobmanager.memory.process.size": "768m", "taskmanager.memory.process.size": "1024m",
        "taskmanager.numberOfTaskSlots": "1", "parallelism.default": "1", "high-availability.type": "none",
        "execution.checkpointing.interval": "2s",
        "execution.checkpointing.dir": f"file://{d}/checkpoints", "execution.checkpointing.savepoint-dir": f"file://{d}/savepoints",
        "io.tmp.dirs": f"{d}/tmp", "web.tmpdir": f"{d}/tmp/web", "web.upload.dir": f"{d}/uploads",
        "user.artifacts.base-dir": f"{d}/artifacts",
    }
    if a.who == "scripts+speed":
        keys.update({"cluster.registration.error-delay": "1s", "heartbeat.interval": "2s", "heartbeat.timeout": "10s",
                     "web.refresh-interval": "500ms"})

    def distribution(source, conf):
        """A FLINK_CONF_DIR for a distribution (its shipped conf/, config.yaml with the keys) and its scripts' environment."""
        subprocess.run(["cp", "-r", f"{source}/conf", conf], check=True)
        baseline_conf(f"{source}/conf/config.yaml", f"{conf}/config.yaml", keys)
        return source, dict(os.environ, FLINK_HOME=source, FLINK_CONF_DIR=conf, FLINK_LOG_DIR=f"{d}/log", FLINK_PID_DIR=f"{d}/pid",
                            FLINK_IDENT_STRING="bench")

    old_side = distribution(home, f"{d}/conf")
    new_side = distribution(a.to_flink_home, f"{d}/conf-new") if version else old_side
    transcript = open(f"{d}/scripts.log", "a")

    def run(*argv, side=None):
        """Runs a script of a distribution (default: the old one's); (start, end, output)."""
        script_home, env = side or old_side
        start = time.time()
        result = subprocess.run([f"{script_home}/bin/{argv[0]}", *argv[1:]], env=env, capture_output=True, text=True, timeout=180)
        end = time.time()
        transcript.write(f"$ {script_home}/bin/{' '.join(argv)}   # {start:.3f} → {end:.3f} ({end - start:.2f} s), exit {result.returncode}\n{result.stdout}{result.stderr}\n")
        transcript.flush()
        return start, end, result.stdout + result.stderr

    tags = [f"flink-{a.from_version}", f"flink-{a.to_version}"] if version else [f"v{i}" for i in range(1, a.runs + 2)]
    runs = 1 if version else a.runs
    output = f"{d}/out/job.out"
    stamps_path = output + ".stamps"
    watcher = start_watcher(output, stamps_path)
    stamps = Stamps(stamps_path)
    program = lambda tag: ["--rate", str(a.rate), "--keys", str(a.keys), "--tag", tag, "--output", output]

    def start_application(tag, savepoint=None, side=None):
        restore = ["--fromSavepoint", savepoint] if savepoint else []
        started = run("standalone-job.sh", "start", "--job-classname", ENTRY_CLASS, *restore, *program(tag), side=side)[1]
        return started, run("taskmanager.sh", "start", side=side)[1]

    def submit(tag, savepoint=None):
        restore = ["-s", savepoint] if savepoint else []
        start, end, text = run("flink", "run", "-d", "-m", f"127.0.0.1:{port}", *restore, "-c", ENTRY_CLASS, a.jar, *program(tag))
        match = re.search(r"JobID ([0-9a-f]{32})", text)
        return start, end, match.group(1) if match else None

    job_id = None
    try:
        created = time.time()
        if application:
            start_application(tags[0])
        else:
            run("jobmanager.sh", "start")
            run("taskmanager.sh", "start")
            deadline = time.time() + 180
            while time.time() < deadline and ((rest(port, "/overview") or {}).get("taskmanagers", 0) < 1):
                time.sleep(0.1)
            job_id = submit(tags[0])[2]
        first = stamps.wait_first(tags[0], 300)
        if first is None:
            print(f"  {a.who} {a.mode}: no output of {tags[0]} within 300 s", flush=True)
            return 1
        print(f"  {a.who} {a.mode}: started; first record after {first - created:.2f} s", flush=True)
        for run_number in range(1, runs + 1):
            old, new = tags[run_number - 1], tags[run_number]
            time.sleep(max(0.0, stamps.first(old) + a.steady + random.uniform(0, a.jitter) - time.time()))
            if application:
                job_id = running_job(port, d)
            load = loadavg()
            marks = {}
            marks["trigger"] = time.time()
            # `flink stop [-p|--savepointPath DIR] [-m host:port] <job id>` (Flink 2.3's `bin/flink stop --help`;
            # -m is the default-mode JobManager address, the conf dir names the same REST port). It waits for
            # the savepoint and prints `Savepoint completed. Path: file:/…/savepoint-<job>-<id>`. A version upgrade
            # (ops/upgrading, "Upgrading the Flink Framework Version"): STEP 1 with the old version's client.
            _, marks["client_stopped"], text = run("flink", "stop", "--savepointPath", f"{d}/savepoints", "-m", f"127.0.0.1:{port}", job_id or "none")
            match = re.search(r"Savepoint completed\. Path: (\S+)", text)
            savepoint = match.group(1) if match else None
            failure = None if savepoint else "`flink stop` gave no savepoint path: " + (text.strip().splitlines() or ["no output"])[-1]
            if savepoint and application:
                marks["jm_script_stopped"] = run("standalone-job.sh", "stop")[1]
                marks["scripts_stopped"] = run("taskmanager.sh", "stop")[1]
                # (a version upgrade: STEP 2, the cluster on the new distribution; STEP 3, the job resumed from the savepoint)
                marks["jm_script_started"], marks["scripts_started"] = start_application(new, savepoint, side=new_side)
            elif savepoint:
                marks["client_run"], marks["client_done"], job_id = submit(new, savepoint)
            seen = stamps.wait_first(new, a.timeout) if savepoint else None
            time.sleep(0.3)
            stamps.refresh()
            record = {"kind": "upgrade", "who": a.who, "mode": a.mode, "run": a.run or run_number, "from": old, "to": new, "load": load,
                      **analyze(stamps.records, old, new, savepoint=True)}
            if seen is None:
                record["downtime"] = None
                record["failure"] = failure or f"no record of {new} within {a.timeout} s"
            else:
                logs = [f"{d}/log/{f}" for f in os.listdir(f"{d}/log") if ("standalonejob" in f or "standalonesession" in f) and ".log" in f]
                flink_marks(marks, flink_log(logs), marks["trigger"], seen + 0.5)
                logs = [f"{d}/log/{f}" for f in os.listdir(f"{d}/log") if "taskexecutor" in f and ".log" in f]
                taskmanager_marks(marks, flink_log(logs), marks["trigger"], seen + 0.5)
                marks["first_new"] = record["first_new"]
                record["marks"] = relative({k: v for k, v in marks.items() if v is not None}, record["last_old"])
            emit(a, record)
            if seen is None:
                return 1
        return 0
    finally:
        stop_watcher(watcher)
        for side in [new_side] + ([old_side] if version else []):  # (the new version's cluster runs, unless the upgrade failed early)
            for script, verb in ([("taskmanager.sh", "stop-all"), ("standalone-job.sh", "stop")] if application
                                 else [("taskmanager.sh", "stop-all"), ("jobmanager.sh", "stop-all")]):
                run(script, verb, side=side)
        deadline = time.time() + 30
        while time.time() < deadline and live_pids(f"{d}/"):
            time.sleep(0.2)
        for pid in live_pids(f"{d}/"):
            os.kill(pid, signal.SIGKILL)


def cmd_wait_gone(a):
    start = time.time()
    while time.time() - start < a.timeout:
        left = []
        if a.flinklet:
            left = ((flinklet_get(a, "flinkdep") or {}).get("items", []) + (flinklet_get(a, "sessionjob") or {}).get("items", []))
            left = [item["metadata"]["name"] for item in left if not a.names or item["metadata"]["name"] in a.names]
        if not live_pids(a.needle) and not left:
            return 0
        time.sleep(0.2)
    print(f"still alive after {a.timeout} s: {live_pids(a.needle)}", file=sys.stderr)
    return 1


# ---- report -----------------------------------------------------------------------------------

def cmd_report(a):
    records = [json.loads(line) for line in open(a.results)]
    upgrades = [r for r in records if r["kind"] == "upgrade"]

    def values(who, mode, key="downtime"):
        return [r[key] for r in upgrades if r["who"] == who and r["mode"] == mode and r.get("downtime") is not None]

    def median(who, mode):
        v = values(who, mode)
        return (statistics.median(v), len(v)) if v else (None, 0)

    def secs(v, n):
        return (f"{v:.2f} s" if v is not None else "-") + f" ({n})"

    print(f"upgrade downtime = last record of the old version → first record of the new one; median of the runs (n in parentheses)")
    version_modes = sorted({r["upgrade_mode"] for r in upgrades if r["mode"] == "application/version" and "upgrade_mode" in r})
    width = 30 if version_modes in ([], ["savepoint"]) else 32 + len(",".join(version_modes))
    header = f"{'mode':<{width}} {'flinklet':<13} {'scripted':<13} {'ratio':<6} {'target':<22} {'met?':<7}"
    speed = any(r["who"] == "scripts+speed" for r in upgrades)
    if speed:
        header += f" {'scripts+speed':<14} {'ratio':<6}"
    print(header)
    rows = [("application/savepoint", "application"), ("application/last-state", "application"), ("session-job/savepoint", "session-job"),
            ("application/version", "application-version")]
    for mode, baseline in rows:
        f, fn = median("flinklet", mode)
        s, sn = median("scripts", baseline)
        q, qn = median("scripts+speed", baseline)
        if fn == 0 and sn == 0:
            continue
        ratio = f / s if f is not None and s else None
        label = mode
        if baseline == "application":
            target, met = "≤ 0.5 × scripted", (ratio is not None and ratio <= 0.5) if ratio is not None else None
        elif baseline == "application-version":
            # Flink releases from the tags (flink-<release>); the manifest's upgradeMode (Flinklet forces a savepoint).
            moves = sorted({f"{r['from'][6:]}→{r['to'][6:]}" for r in upgrades if r["mode"] in (mode, baseline)})
            label = f"{mode} {','.join(moves)}" + (f" ({','.join(version_modes)})" if version_modes not in ([], ["savepoint"]) else "")
            target, met = "none: ratio shown", None
        else:
            target, met = "≤ 1.5 s", (f <= 1.5) if f is not None else None
        line = f"{label:<{width}} {secs(f, fn):<13} {secs(s, sn):<13} {(f'{ratio:.2f}' if ratio else '-'):<6} {target:<22} {('yes' if met else 'no' if met is not None else '-'):<7}"
        if speed:
            line += f" {secs(q, qn):<14} {(f'{f / q:.2f}' if f is not None and q else '-'):<6}"
        print(line)
    print("(the scripted application baseline is the documented savepoint procedure; last-state is compared with it too;")
    print(" application/version's is Flink's documented framework-version upgrade: old `flink stop --savepointPath`, old cluster")
    print(" stopped, new distribution's cluster started from the savepoint)")
    print()
    print("state across the upgrades (per key: first count of the new version vs the old version's highest):")
    for mode in ["application/savepoint", "application/last-state", "session-job/savepoint", "application/version", "application",
                 "session-job", "application-version"]:
        for who in ["flinklet", "scripts", "scripts+speed"]:
            runs = [r for r in upgrades if r["who"] == who and r["mode"] == mode and r.get("downtime") is not None]
            if not runs:
                continue
            replayed = [r["replayed"] for r in runs]
            problems = [p for r in runs for p in r["problems"]]
            lost = sum(r["lost"] for r in runs)
            text = f"replayed records per upgrade {replayed}, lost {lost}"
            text += "; " + ("; ".join(problems) if problems else "no key skipped or fell back unexpectedly, never two copies")
            print(f"  {who:<14} {mode:<24} {text}")
    print()
    print("median milestones, seconds after the last record of the old version (n = runs that have the milestone):")
    print("  last_ck = the old job's last completed checkpoint (last-state: what is restored); trigger = manifest saved /")
    print("  `flink stop` started; op_snapshot = operator's stop-with-savepoint (last-state: cancel keeping the checkpoint) call;")
    print("  sp_start/sp_done = Flink triggered/completed the savepoint (sp_failed: it failed); old_end = old job FINISHED/CANCELED;")
    print("  client_stopped = `flink stop` returned; op_stopping = operator begins stopping the old pods; jm_stopped/tm_stopped =")
    print("  first old JobManager/TaskManager process gone (pods matched by role); jm_started/tm_started = first new one spawned;")
    print("  jm_script_stopped, scripts_stopped = `standalone-job.sh stop`, `taskmanager.sh stop` returned; jm_script_started,")
    print("  scripts_started = the start scripts returned; op_submit = operator's jar upload + run; client_run/client_done =")
    print("  `flink run` started/returned; jvm_log/tm_jvm_log = new JobManager's/TaskManager's first log line; rest_up = REST")
    print("  endpoint listening; jm_ready = operator's readiness probe passed;")
    print("  tm_registered = TaskManager registered; job_received = Dispatcher got the job; restore = state restore begins;")
    print("  job_running = job RUNNING (scheduled); tasks_running = every task RUNNING; first_new = first record of the new version")
    for mode in ["application/savepoint", "application/last-state", "application", "session-job/savepoint", "session-job",
                 "application/version", "application-version"]:
        for who in ["flinklet", "scripts", "scripts+speed"]:
            runs = [r for r in upgrades if r["who"] == who and r["mode"] == mode and r.get("marks")]
            if not runs:
                continue
            cells = []
            for key in MARKS:
                v = [r["marks"][key] for r in runs if key in r["marks"]]
                if v:
                    cells.append((statistics.median(v), f"{key} {statistics.median(v):+.2f}" + ("" if len(v) == len(runs) else f" (n={len(v)})")))
            cells.sort(key=lambda c: c[0])
            print(f"  {who:<14} {mode:<24} " + ", ".join(c[1] for c in cells))
    failed = [r for r in upgrades if r.get("downtime") is None]
    if failed:
        print()
        print("failed upgrades:")
        for r in failed:
            print(describe(r))


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
p = sub.add_parser("watch"); p.add_argument("--file"); p.add_argument("--out"); p.add_argument("--interval", type=float, default=0.005)
p.set_defaults(func=cmd_watch)
for command, function in [("flinklet", cmd_flinklet), ("scripted", cmd_scripted)]:
    p = sub.add_parser(command)
    for option in ["--mode", "--who", "--name", "--cluster", "--manifests", "--state", "--flinklet", "--oplog", "--out", "--logs",
                   "--results", "--dir", "--flink-home", "--jar", "--from-version", "--to-version", "--to-flink-home"]:
        p.add_argument(option)
    p.add_argument("--upgrade-mode", default="savepoint"); p.add_argument("--run", type=int, default=0)
    p.add_argument("--runs", type=int, default=3); p.add_argument("--steady", type=float, default=6)
    p.add_argument("--jitter", type=float, default=2)
    p.add_argument("--rate", type=int, default=100); p.add_argument("--keys", type=int, default=4)
    p.add_argument("--port", type=int); p.add_argument("--timeout", type=float, default=180)
    p.set_defaults(func=function)
p = sub.add_parser("ports"); p.add_argument("--start", type=int); p.add_argument("--end", type=int); p.set_defaults(func=cmd_ports)
p = sub.add_parser("wait-gone"); p.add_argument("--needle"); p.add_argument("--timeout", type=float, default=120)
p.add_argument("--flinklet"); p.add_argument("--state"); p.add_argument("--names", nargs="*", default=[])
p.set_defaults(func=cmd_wait_gone)
p = sub.add_parser("report"); p.add_argument("--results"); p.set_defaults(func=cmd_report)
args = parser.parse_args()
if getattr(args, "state", None):
    TLS_STATE_DIRS.append(args.state)
sys.exit(args.func(args) or 0)
PY
py() { PYTHONPATH="$PWD/hack" python3 "$SCRATCH/bench.py" "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load1_above() { awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v t="$1" 'BEGIN { exit !(l > t) }'; }

# ---------------------------------------------------------------------------------------------
# The operator.

STATE=$SCRATCH/flinklet/state MANIFESTS=$SCRATCH/flinklet/manifests OPLOG=$SCRATCH/flinklet/operator.log

# No --flink-home: the operator runs every installed distribution ($FLINK_HOME first for its
# version, then each .flink/flink-*/ of the working directory), as bench-flink.sh's VERSIONS runs
# do, so one operator serves the 2.3 modes and both sides of a version upgrade.
start_operator() {
    mkdir -p "$STATE" "$MANIFESTS"
    "$FLINKLET" run --manifests "$MANIFESTS" --state-dir "$STATE" \
        --ports 30000-30999 --empty-grace 1 --resync 2 --log-format json >>"$OPLOG" 2>&1 &
    OPERATOR_PID=$!
    for _ in $(seq 100); do grep -q '"adopted pods"' "$OPLOG" 2>/dev/null && break; sleep 0.1; done
    grep -q '"adopted pods"' "$OPLOG" || { echo "error: the operator did not start; its log:" >&2; cat "$OPLOG" >&2; exit 1; }
}

stop_operator() {
    kill -TERM "$OPERATOR_PID"
    wait "$OPERATOR_PID" || true
    OPERATOR_PID=""
}

# flinklet_teardown FILE...: removes the manifests (in order, each gone before the next) and
# waits until no pod process remains and the operator forgot the resources.
flinklet_teardown() {
    local file name
    for file in "$@"; do
        name=$(basename "$file" .yaml)
        rm -f "$file"
        py wait-gone --needle "$STATE/pods/default/$name/" --flinklet "$FLINKLET" --state "$STATE" --names "$name" --timeout 120 \
            || { echo "error: $name left processes or a record behind; operator log tail:" >&2; tail -20 "$OPLOG" >&2; exit 1; }
    done
}

# flinklet_episode MODE NAME [CLUSTER [OPTION...]]: the options go to bench.py (a later one wins).
flinklet_episode() {
    local mode=$1 name=$2 cluster=${3:-}
    shift 2; [ $# -gt 0 ] && shift
    echo "flinklet $mode (load $(loadavg))"
    py flinklet --mode "$mode" --name "$name" ${cluster:+--cluster "$cluster"} --manifests "$MANIFESTS" --state "$STATE" \
        --flinklet "$FLINKLET" --oplog "$OPLOG" --out "$SCRATCH/out" --logs "$SCRATCH/logs" --results "$RESULTS" \
        --runs "$RUNS" --steady "$STEADY" --jitter "$JITTER" "$@" || echo "  (episode incomplete; see above)"
    if [ -n "$cluster" ]; then
        flinklet_teardown "$MANIFESTS/$name.yaml" "$MANIFESTS/$cluster.yaml"
    else
        flinklet_teardown "$MANIFESTS/$name.yaml"
    fi
    echo "  torn down: no process left"
}

# ---------------------------------------------------------------------------------------------
# The baseline.

BASE_SEQ=0

# scripted_episode MODE (application | session-job | application-version) WHO (scripts | scripts+speed)
#   [RUN [OPTION...]]: a RUN gets a directory of its own; the options go to bench.py (a later one wins).
scripted_episode() {
    local mode=$1 who=$2 run=${3:-} port dir
    shift 2; [ $# -gt 0 ] && shift
    BASE_SEQ=$((BASE_SEQ + 1))
    port=$(py ports --start $((29000 + 10 * (BASE_SEQ % 99))) --end 29990) || { echo "error: no free ports in 29000-29999" >&2; exit 1; }
    dir=$SCRATCH/baseline/$mode-$who${run:+-$run}
    mkdir -p "$dir"
    echo "$who $mode${run:+ run $run} (ports $port-$((port + 4)), load $(loadavg))"
    py scripted --mode "$mode" --who "$who" --dir "$dir" --port "$port" --flink-home "$FLINK_HOME" --jar "$JAR" \
        --results "$RESULTS" --runs "$RUNS" --steady "$STEADY" --jitter "$JITTER" "$@" || echo "  (episode incomplete; see above)"
    py wait-gone --needle "$dir/" --timeout 30 || { echo "error: baseline processes left behind" >&2; exit 1; }
    echo "  stopped: no process left"
}

# ---------------------------------------------------------------------------------------------

mkdir -p "$SCRATCH/out" "$SCRATCH/logs" "$SCRATCH/baseline"
echo "machine: $(nproc) cores, MemTotal $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), MemAvailable $(awk '/MemAvailable/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
flink_release() { basename "$(ls "$1"/lib/flink-dist*.jar)" .jar | sed 's/flink-dist-//'; }
echo "flinklet $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources hack/bench-upgrade.sh || echo '+changes'), Flink $(flink_release "$FLINK_HOME")${FROM_HOME:+ (version upgrade: $(flink_release "$FROM_HOME") → $(flink_release "$TO_HOME"))}, $(java -version 2>&1 | head -1)"
echo "scratch: $SCRATCH"
echo "uptime at start: $(uptime)"
if [ "${NO_LOAD_WAIT:-0}" != 1 ] && load1_above 3; then
    echo "load $(cut -d' ' -f1 /proc/loadavg) > 3 at start: waiting up to 10 minutes for it to fall below 2"
    waited=0
    while [ "$waited" -lt 600 ] && load1_above 1.99; do sleep 10; waited=$((waited + 10)); done
    if load1_above 1.99; then
        echo "waited $waited s; load is still $(loadavg): measuring anyway (other work shares the machine; see the load per run)"
    else
        echo "waited $waited s; load now $(loadavg)"
    fi
fi
echo

start_operator
for mode in $MODES; do
    case $mode in
        application-savepoint)
            [ "${SKIP_FLINKLET:-0}" = 1 ] || flinklet_episode application/savepoint app-sp
            if [ "${SKIP_SCRIPTS:-0}" != 1 ]; then
                scripted_episode application scripts
            fi ;;
        application-last-state)
            [ "${SKIP_FLINKLET:-0}" = 1 ] || flinklet_episode application/last-state app-ls
            if [ "${SKIP_SCRIPTS:-0}" != 1 ] && [ "$SPEED_BASELINE" = 1 ]; then
                scripted_episode application scripts+speed
            fi ;;
        application-version)
            # A fresh job per upgrade (a version only goes forward), Flinklet's and the baseline's alternating.
            for run in $(seq 1 "$RUNS"); do
                [ "${SKIP_FLINKLET:-0}" = 1 ] || flinklet_episode application/version "app-version-$run" "" \
                    --runs 1 --run "$run" --from-version "$FROM" --to-version "$TO" --upgrade-mode "$VERSION_UPGRADE_MODE"
                if [ "${SKIP_SCRIPTS:-0}" != 1 ]; then
                    scripted_episode application-version scripts "$run" \
                        --runs 1 --run "$run" --from-version "$FROM" --to-version "$TO" --flink-home "$FROM_HOME" --to-flink-home "$TO_HOME"
                    [ "$SPEED_BASELINE" = 1 ] && scripted_episode application-version scripts+speed "$run" \
                        --runs 1 --run "$run" --from-version "$FROM" --to-version "$TO" --flink-home "$FROM_HOME" --to-flink-home "$TO_HOME"
                fi
            done ;;
        session-job)
            [ "${SKIP_FLINKLET:-0}" = 1 ] || flinklet_episode session-job/savepoint counter session
            if [ "${SKIP_SCRIPTS:-0}" != 1 ]; then
                scripted_episode session-job scripts
                [ "$SPEED_BASELINE" = 1 ] && scripted_episode session-job scripts+speed
            fi ;;
        *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    echo
done
stop_operator

echo "================================================================================"
echo "machine: $(nproc) cores, MemTotal $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load before each upgrade is on its line above; uptime now: $(uptime)"
py report --results "$RESULTS"
