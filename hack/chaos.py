#!/usr/bin/env python3
"""Chaos test of the real operator and real Flink (stdlib only; run through hack/chaos.sh).

World: a fresh root (manifests/, state/, output/, operator.log) and one `flinklet run` child on
its own port range. Resources: an application FlinkDeployment `app` running the counter job
(checkpoints every 2 s, --rate 20 over 4 keys, tag vN) and, unless --no-session, a session
FlinkDeployment `session` with a FlinkSessionJob `sjob` (the same job, its own output file).

Each round picks, from the seed, one lifecycle change and writes it atomically (dot-file +
rename), while injecting faults on a timeline drawn from the same seed:
  - op-kill:    SIGKILL the operator 0-3 s after the write, restart it 0-3 s later (every write);
  - late-kill:  sometimes a second SIGKILL 3-10 s after that restart (mid-restore);
  - jvm-kill:   sometimes kill -9 one random JVM of any resource (pid from /proc cmdlines naming
                the state dir's pod directories) 0-4 s after the write;
  - power-loss: sometimes, instead of op-kill, SIGKILL the operator AND every JVM at once.
Changes: savepoint upgrade, last-state upgrade (new tag), parallelism 1<->2, suspend then
resume, restartNonce bump, session-job upgrade, delete and re-create (a new incarnation writes a
new output file and starts from an empty state), and faults only (no change, after the jobs ran
10-25 s, with JVM kills and power losses likelier: faults hitting bystanders, not just the
resource being changed).

Flink versions (--versions HOME[,HOME...], from CHAOS_VERSIONS="1.20 2.3"): the manifests name
the first listed version (flinkVersion v1_20, ...) and the tags are vN-%v, which the job expands
to the release that runs it (`k 12 v3-1.20.5`). With one version the operator runs --flink-home
that distribution; with two or more it runs without it, in <root>/operator, whose .flink/ links
to the listed distributions only ($FLINK_HOME unset), and one more change is drawn:
  version-change: flinkVersion of the app (a savepoint upgrade; with probability 0.4 with a new
             tag too), of the session cluster (its session job, whose manifest is not touched, is
             stopped with a savepoint, the cluster restarts on the new version, the job resumes
             there as a new job) or of both in one write, to a newer listed version: Flink
             restores savepoints of its own and older versions only (1.20 reads checkpoint
             metadata up to format 4, 2.0 writes 5, 2.1-2.3 write 6; a 2.3 savepoint on 1.20
             fails with "Unrecognized checkpoint version number: 6"). When neither can move up,
             the app, or the session job and its cluster, are deleted and re-created on the oldest
             listed version (fresh state), so later rounds upgrade again.
  --downgrades (CHAOS_DOWNGRADES=1): version changes go to any other listed version, older ones
             included, and the operator's refusal is the invariant: a flinkVersion older than the
             one a stateful job runs on is refused before anything stops (the app's whole spec
             change: args, parallelism, restartNonce or a suspension written with the older version
             are refused too, until a manifest names the running version again; a session
             cluster's while its session job exists). The model (settle_app, settle_session) keeps
             what runs apart from what the manifests say; while a resource is refused:
  refused    its status is Stalled=True, reason FlinkVersionDowngrade, of the current generation
             (the app's Ready=False with that reason; the session cluster's Ready says how its pods
             are), within the convergence bound; the job of the last accepted spec keeps RUNNING on
             the newer version (REST /config, the output's writer vN-<newer release>, its
             parallelism), the session job too; no JVM of another version runs for it, no
             JobManager starts unless the phase's faults killed its JobManager (then it is
             recovered on the newer version, from its checkpoint) and no TaskManager unless they
             killed one of its JVMs, and its job id stays unless its JobManager was killed
             (refused-version, refused-restart). The same holds for a version changed back to the
             one that runs with nothing else changed (nothing restarts for it); changed back with
             other changes, it is an upgrade on that version. A session job upgraded while its
             cluster is refused moves on the newer version; once the session job is deleted, the
             cluster moves to the version its manifest names. Fall-backs in such rounds are noted
             (the counts checks hold as everywhere). `--plan` prints the rounds a seed draws and
             which writes are refused, without running anything.
Without --versions (the default): --flink-home, flinkVersion v2_3 and tags vN, as before; the
seeded draws are the same as before.

Invariants, checked by Flink's REST API, /proc and the job's own output, not by status alone:
  converge   within 120 s of the last operator restart of the phase (a relapse while faults
             still take effect sends it back to waiting): status.spec is what was
             written, observedGeneration == generation, lifecycleState STABLE (SUSPENDED when
             suspended); Flink REST shows exactly one non-terminal job, RUNNING with every task
             RUNNING or FINISHED (a source subtask without a split finishes at once when a job is
             restored at a higher parallelism than its snapshot has splits), with the status' job id (and the expected parallelism; a new id after a
             restartNonce); the first line of the expected tag appeared; then the output grows
             by >= 5 lines under that tag within 20 s while REST still shows that job. Suspended:
             no process of the deployment and no new output for 4 s. Deleted: no record, no
             process, (session job) no non-terminal job in the session cluster.
  counts     per key and output file, in file order: the first count is 1; each next count is
             last+1, or a fall-back (restore) to c <= last. A jump (c > last+1) means lost
             output or two writers interleaving. A fall-back to 1 after the key passed
             RESET_AFTER, or replaying more than REPLAY_BOUND records, is a violation.
  tags       after the first line of tag vK, no line with an older tag vJ (J < K).
  versions   (with --versions) in each output file the writer is the (tag, release) of the latest
             line. A new writer must be one a manifest asked for when it was written (else
             `unexpected-version`); a writer that was replaced (a version change, a new tag) never
             writes again (`superseded-version`: two Flink versions writing interleaved), unless a
             later manifest asks for it again (a flinkVersion flipped back). At convergence the
             Flink that answers on the resource's REST port (/config flink-version) is the release
             the manifest names (the session job's: its cluster's), the output grew by >= 5 lines
             of vN-<that release>, and its latest line is of that writer (`latest-version`).
             Counts continue across a version change as across any upgrade; a fall-back in a
             version-change round (a restore from a checkpoint rather than the change's savepoint,
             when faults interrupted it) is a note, as in savepoint-upgrade rounds; the bounds hold.
  one JM     /proc is sampled every 0.5 s: at most one JobManager JVM per resource.
  frozen     the output of a deleted incarnation never grows after its deletion converged.
  savepoints every location in status.jobStatus.savepointInfo exists on disk at each
             convergence; when SUSPENDED, the recorded restore point (upgradeSavepointPath)
             exists on disk; after the final delete, every savepoint path of the last status.
  leftovers  after the final delete and the operator's stop, no process whose command line or
             working directory is under the root remains.

Bounds (per key rate r = rate/keys = 5/s with the defaults):
  REPLAY_BOUND = ceil(r * (checkpoint interval 2 s + heartbeat.timeout 10 s + 4 s slack)) = 80.
    A restore replays what was counted after the restored checkpoint: at most one interval plus
    the checkpoint's own latency, plus however long the old writer ran on after the fault. A
    killed JVM or a power loss stops writing at once; a cancel stops it within a second; a
    JobManager killed (while the operator may be down up to 3 s) leaves its TaskManagers
    writing until the operator stops them or Flink's heartbeat (10 s, set by Flinklet) times
    out. Anything beyond is a restore from a stale snapshot.
  RESET_AFTER = r * (2 s + 4 s) = 30: a key that reached 30 has been through at least one
    completed checkpoint, so coming back to 1 means its state was lost.
A savepoint upgrade interrupted by faults may legitimately fall back to the newest checkpoint
(`last-state-fallback`); fall-backs in savepoint rounds are reported as notes, not violations.
"""
import argparse
import collections
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from datetime import datetime, timezone

ENTRY_CLASS = "dev.flinklet.examples.CounterJob"
JAR_URI = "local:///opt/flink/usrlib/flinklet-counter-job.jar"
TERMINAL = {"FINISHED", "CANCELED", "FAILED", "SUSPENDED"}
CHECKPOINT_S = 2
HEARTBEAT_TIMEOUT_S = 10
CONVERGE_TIMEOUT = 120.0
GROWTH_TIMEOUT = 20.0
GROWTH_LINES = 5
P_POWER = 0.15
P_JVM = 0.4
P_LATE = 0.3
MAX_DETAILED = 3  # per (file, kind) violations quoted in full; the rest are counted


def flink_release(home):
    """The release of a Flink distribution (from its lib/flink-dist-<release>.jar): 1.20.5."""
    for jar in sorted(os.listdir(f"{home}/lib")):
        m = re.fullmatch(r"flink-dist[_\w.-]*?-(\d+\.\d+\.\d+\S*)\.jar", jar)
        if m:
            return m.group(1)
    raise SystemExit(f"error: {home} is not a Flink distribution (no lib/flink-dist-*.jar)")


def jvm_release(cmd):
    """The Flink release a JVM runs, from its classpath (.../flink-2.3.0/lib/...), or None."""
    m = re.search(r"/flink-(\d+\.\d+\.\d+[^/\s:]*)/lib/", cmd)
    return m.group(1) if m else None


def release_key(release):
    """Release order: 1.20.5 < 2.0.2 < 2.3.0."""
    return tuple(int(x) if x.isdigit() else 0 for x in release.split("."))


RUN_FIELDS = ("inc", "tag", "mode", "p", "state", "nonce", "version")


def settle_app(manifest, run):
    """(what the app runs once `manifest` is read while `run` ran, whether the manifest is refused).
    The operator refuses a flinkVersion older than the one a stateful job runs on before anything
    stops (JobLifecycle.downgrade): the whole spec change is refused, whatever else it changes
    (args, parallelism, restartNonce, a suspension), and the last accepted spec keeps running
    until a manifest names that version (or a newer one) again. A new incarnation (or the first
    deployment) starts on the manifest's version from empty state; a suspended job is not
    refused by the operator (it would resume from a newer version's savepoint), and chaos never
    changes the version of a suspended app."""
    if not manifest["present"]:
        return None, False
    if run is None or run["inc"] != manifest["inc"]:
        return {f: manifest[f] for f in RUN_FIELDS}, False
    if (run["state"] == "running" and manifest["mode"] != "stateless" and None not in (manifest["version"], run["version"])
            and release_key(manifest["version"]) < release_key(run["version"])):
        return run, True
    return {f: manifest[f] for f in RUN_FIELDS}, False


def settle_session(manifest, run, present, sjob_present):
    """(the release the session cluster runs once its manifest naming `manifest` is read while it
    ran `run`, whether that is refused). A session cluster refuses an older version while its
    session job has state of the newer one: while the job runs, and also while it is stopped
    for its own upgrade (between its savepoint and the resubmission) or lost with a JobManager
    killed, since its savepoint or checkpoint restores on the newer version only. Once the
    session job is deleted, the cluster moves to the manifest's version; a new cluster starts
    on it."""
    if not present:
        return None, False
    if run is None:
        return manifest, False
    if sjob_present and None not in (manifest, run) and release_key(manifest) < release_key(run):
        return run, True
    return manifest, False


def refusal_conditions(obj, ready_false):
    """(ok, detail): the status says the manifest's downgrade is refused: Stalled=True with reason
    FlinkVersionDowngrade for the current generation (and, ready_false, Ready=False with it)."""
    st = (obj or {}).get("status") or {}
    generation = ((obj or {}).get("metadata") or {}).get("generation")
    conditions = {c.get("type"): c for c in st.get("conditions") or []}
    stalled, ready = conditions.get("Stalled") or {}, conditions.get("Ready") or {}
    if stalled.get("status") != "True" or stalled.get("reason") != "FlinkVersionDowngrade":
        return False, "no Stalled=True FlinkVersionDowngrade condition"
    if stalled.get("observedGeneration") not in (None, generation):
        return False, f"Stalled FlinkVersionDowngrade is of generation {stalled.get('observedGeneration')}, not {generation}"
    if ready_false and (ready.get("status") != "False" or ready.get("reason") != "FlinkVersionDowngrade"):
        return False, f"Ready={ready.get('status')} {ready.get('reason')}, not False FlinkVersionDowngrade"
    return True, "Stalled FlinkVersionDowngrade"


def refused_downgrade_left(obj):
    """A Stalled FlinkVersionDowngrade condition on a resource whose refusal should be over."""
    st = (obj or {}).get("status") or {}
    return any(c.get("type") == "Stalled" and c.get("status") == "True" and c.get("reason") == "FlinkVersionDowngrade"
               for c in st.get("conditions") or [])


def jvm_verdict(seen, before, release, jm_killed, any_killed):
    """The JVMs of a resource whose refused downgrade (or a version changed back to the one it runs)
    must leave its cluster alone: [(kind, detail)]. `seen`: {(pid, start): (role, release)} of every
    JVM of the resource sampled during the phase; `before`: the (pid, start)s that ran when the
    phase began. None may run another Flink than `release` (`refused-version`). A JobManager not
    running before may start only when the phase's faults killed the JobManager (a recovery); a
    TaskManager only when they killed one of the resource's JVMs (`refused-restart`)."""
    found = []
    name = lambda key: f"{seen[key][0]} pid {key[0]} (Flink {seen[key][1]})"
    other = sorted(name(k) for k, (_, r) in seen.items() if r is not None and r != release)
    if other:
        found.append(("refused-version", f"JVM(s) of another Flink than {release} ran: {', '.join(other)}"))
    new = [k for k in seen if k not in before]
    jms = sorted(name(k) for k in new if seen[k][0] == "jobmanager")
    tms = sorted(name(k) for k in new if seen[k][0] != "jobmanager")
    if jms and not jm_killed:
        found.append(("refused-restart", f"JobManager(s) started although no fault killed its JobManager: {', '.join(jms)}"))
    if tms and not any_killed:
        found.append(("refused-restart", f"TaskManager(s) started although no fault killed a JVM of it: {', '.join(tms)}"))
    return found


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log(msg):
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def fs_path(location):
    """A Flink location (`file:/x`, `file:///x` or `/x`) as a local path."""
    if location is None:
        return None
    if location.startswith("file://"):
        return location[len("file://"):]
    if location.startswith("file:"):
        return location[len("file:"):]
    return location


from flinkrest import TLS_STATE_DIRS, open_rest as _open  # noqa: E402 - hack/ is on the path


def rest(port, path, timeout=3):
    try:
        with _open(port, path, timeout) as answer:
            return json.load(answer)
    except Exception as error:  # noqa: BLE001 - any failure is "no answer"
        return {"_error": f"{type(error).__name__}: {error}"}


class Proc:
    __slots__ = ("pid", "pgid", "ppid", "start", "cmd", "namespace", "resource", "pod", "role")

    def __repr__(self):
        return f"pid {self.pid} ({self.pod or 'operator?'} {self.role or ''})"


def scan(root, state, exclude_parent=None, include_cwd=False):
    """Live (non-zombie) processes whose command line (or, with include_cwd, working directory)
    is under `root`. Processes whose parent is `exclude_parent` (the harness' own `flinklet get`
    clients) are left out. Other users' environments are never read."""
    pod_re = re.compile(re.escape(state) + r"/pods/([^/\s]+)/([^/\s]+)/([^/\s]+)/")
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue
        hit = root in cmd
        if not hit and include_cwd:
            try:
                hit = os.readlink(f"/proc/{entry}/cwd").startswith(root)
            except OSError:
                pass
        if not hit:
            continue
        p = Proc()
        p.pid, p.ppid, p.pgid, p.start, p.cmd = int(entry), int(fields[1]), int(fields[2]), int(fields[19]), cmd
        if exclude_parent is not None and p.ppid == exclude_parent and " run " not in f" {cmd} ":
            continue
        m = pod_re.search(cmd)
        p.namespace, p.resource, p.pod = (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)
        low = cmd.lower()
        p.role = "jobmanager" if "clusterentrypoint" in low else "taskmanager" if "taskmanagerrunner" in low else \
            ("operator" if " run " in f" {cmd} " and "--manifests" in cmd else None)
        found.append(p)
    return found


class OutputChecker:
    """One output file (one incarnation of one job), read incrementally and checked line by line."""

    def __init__(self, h, resource, incarnation, path):
        self.h, self.resource, self.incarnation, self.path = h, resource, incarnation, path
        self.offset, self.partial, self.lineno = 0, b"", 0
        self.keys = {}
        self.tag_first = {}  # tag (as written: vN, or vN-<release> with versions) -> (lineno, time read)
        self.tag_count = collections.Counter()
        self.max_tag = None
        self.tagn_first = {}  # N of vN -> lineno of its first line
        # Versions (tags vN-<release>): the writer is the (N, release) of the latest line; one that
        # was replaced is retired and may not write again unless the harness asks for it again
        # (arm: a flinkVersion flipped back); a new writer must be one the harness asked for.
        self.writer = None
        self.writer_since = None  # lineno where the current writer took over
        self.armed = set()
        self.retired = {}  # (N, release) -> (lineno where its successor took over, successor)
        self.switches = 0  # changes of release between consecutive writers
        self.frozen = None  # (size, round) once the incarnation's deletion converged
        self.fallbacks = []  # (round, key, high, to, lineno)
        self.reported = collections.Counter()
        self.recent = collections.deque(maxlen=8)

    def label(self):
        return f"{self.resource}#{self.incarnation} ({os.path.basename(self.path)})"

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        if not data:
            return
        if self.frozen is not None:
            extra = (self.partial + data).decode(errors="replace").splitlines()
            self.violation("frozen", f"output of deleted incarnation {self.label()} grew after its deletion converged "
                                     f"(round {self.frozen[1]}): {len(extra)} new line(s)",
                           [f"{self.path}: +{line}" for line in extra[:6]])
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        seen = time.time()
        for raw in lines:
            self.feed(raw.decode(errors="replace"), seen)

    def violation(self, kind, message, evidence):
        self.reported[kind] += 1
        if self.reported[kind] <= MAX_DETAILED:
            self.h.violation(kind, message, evidence)
        else:
            self.h.suppressed[kind] += 1

    def arm(self, identity):
        """The harness asks for writer `identity` ((N, release)) from now on: it may take over,
        also after it was retired (a flinkVersion flipped back)."""
        self.armed.add(identity)
        self.retired.pop(identity, None)

    def feed(self, line, seen):
        self.lineno += 1
        here = f"{os.path.basename(self.path)}:{self.lineno}: {line}"
        parts = line.split()
        m = re.fullmatch(r"v(\d+)(?:-(\S+))?", parts[2]) if len(parts) == 3 else None
        if m is None or not parts[1].isdigit():
            self.violation("malformed", f"{self.label()}: malformed output line", list(self.recent) + [here])
            return
        key, count, tag = parts[0], int(parts[1]), parts[2]
        tag_n, release = int(m.group(1)), m.group(2)
        self.tag_count[tag] += 1
        if tag not in self.tag_first:
            self.tag_first[tag] = (self.lineno, seen)
        self.tagn_first.setdefault(tag_n, self.lineno)
        if self.max_tag is not None and tag_n < self.max_tag:
            self.violation("superseded-tag", f"{self.label()}: line of superseded tag {tag} after the first line of v{self.max_tag} "
                                             f"(line {self.tagn_first[self.max_tag]}): two versions wrote",
                           list(self.recent) + [here])
        elif release is not None:
            self.feed_writer((tag_n, release), here)
        self.max_tag = tag_n if self.max_tag is None else max(self.max_tag, tag_n)
        st = self.keys.get(key)
        if st is None:
            st = self.keys[key] = {"last": None, "high": 0, "recent": collections.deque(maxlen=6)}
        if st["last"] is None:
            if count != 1:
                self.violation("starts-not-at-1", f"{self.label()}: {key} starts at {count}, not 1 (a fresh incarnation must start empty)",
                               list(st["recent"]) + [here])
        elif count == st["last"] + 1:
            pass
        elif count > st["last"] + 1:
            self.violation("jump", f"{self.label()}: {key} jumps from {st['last']} to {count} (lost output, or two writers interleaving)",
                           list(st["recent"]) + [here])
        else:
            replay = st["high"] - count + 1
            self.fallbacks.append((self.h.round, key, st["high"], count, self.lineno))
            if count == 1 and st["high"] >= self.h.reset_after:
                self.violation("reset", f"{self.label()}: {key} resets to 1 after reaching {st['high']} (state lost)",
                               list(st["recent"]) + [here])
            elif replay > self.h.replay_bound:
                self.violation("replay", f"{self.label()}: {key} falls back from {st['high']} to {count}: {replay} records replayed "
                                         f"> bound {self.h.replay_bound}", list(st["recent"]) + [here])
        st["last"] = count
        st["high"] = max(st["high"], count)
        st["recent"].append(here)
        self.recent.append(here)

    def feed_writer(self, identity, here):
        """The version check of one line written by `identity` (N, release)."""
        if identity == self.writer:
            return
        name = lambda i: f"v{i[0]}-{i[1]}"
        if identity in self.retired:
            at, successor = self.retired[identity]
            self.violation("superseded-version", f"{self.label()}: line of {name(identity)} after {name(successor)} took over at line {at}: "
                                                 f"two Flink versions (or job versions) wrote", list(self.recent) + [here])
            return
        if identity not in self.armed:
            self.violation("unexpected-version", f"{self.label()}: {name(identity)} writes, which no manifest asked for "
                                                 f"(asked: {', '.join(sorted(name(i) for i in self.armed)) or 'none'}"
                                                 f"{'; writing: ' + name(self.writer) if self.writer else ''})", list(self.recent) + [here])
        if self.writer is not None:
            self.retired[self.writer] = (self.lineno, identity)
            self.armed.discard(self.writer)
            self.switches += self.writer[1] != identity[1]
        self.writer, self.writer_since = identity, self.lineno
        self.armed.discard(identity)


class Harness:
    def __init__(self, a):
        self.a = a
        self.seed = a.seed
        self.rng = random.Random(a.seed)
        self.root = a.root
        self.manifests = f"{self.root}/manifests"
        self.state = f"{self.root}/state"
        TLS_STATE_DIRS[:] = [self.state]
        self.outdir = f"{self.root}/output"
        self.oplog = f"{self.root}/operator.log"
        for d in (self.manifests, self.state, self.outdir):
            os.makedirs(d, exist_ok=True)
        per_key = a.rate / a.keys
        self.replay_bound = math.ceil(per_key * (CHECKPOINT_S + HEARTBEAT_TIMEOUT_S + 4))
        self.reset_after = math.ceil(per_key * (CHECKPOINT_S + 4))
        self.lock = threading.RLock()
        self.op = None
        self.op_starts = 0
        self.round = 0
        self.round_started = time.time()
        self.violations = []
        self.notes = []
        self.suppressed = collections.Counter()
        self.injections = collections.Counter()
        self.changes = collections.Counter()
        self.converge_times = []
        self.phases = 0
        self.phases_converged = 0
        self.rounds_done = 0
        self.rounds_converged = 0
        self.sjob_recreate = True
        self.version_moved = set()  # the resources whose Flink version the current round changes
        self.session_present = True
        self.round_phases = 1  # the phases the current round has when none fails
        self.tag_seq = 0
        self.checkers = {}
        self.jm_reported = set()
        self.max_jm = collections.Counter()
        self.stop_sampler = threading.Event()
        # Flink versions: default (no --versions) the one of --flink-home, its manifests saying v2_3 and
        # tags vN as always; with --versions the listed distributions (releases), the tags vN-%v
        # (the job writes the release that runs it) and, with two or more, version-change rounds.
        self.homes = {}  # release -> distribution directory
        for home in a.versions or []:
            self.homes.setdefault(flink_release(home), home)
        self.releases = list(self.homes) or [None]
        self.versioned = bool(a.versions)
        self.op_cwd, self.op_env, self.op_home = None, None, a.flink_home
        if self.versioned and len(self.releases) == 1:
            self.op_home = self.homes[self.releases[0]]
        elif self.versioned:
            # No --flink-home: the operator finds every distribution as it does by itself, as
            # .flink/flink-<release>/ of its working directory (here links to the listed ones only,
            # so a version not listed is not installed for it) and $FLINK_HOME (left out).
            self.op_home = None
            self.op_cwd = f"{self.root}/operator"
            os.makedirs(f"{self.op_cwd}/.flink", exist_ok=True)
            for release, home in self.homes.items():
                link = f"{self.op_cwd}/.flink/flink-{release}"
                if not os.path.islink(link):
                    os.symlink(os.path.abspath(home), link)
            self.op_env = {k: v for k, v in os.environ.items() if k != "FLINK_HOME"}
        # desired state
        first = self.releases[0]
        self.app = {"present": True, "inc": 1, "tag": self.next_tag(), "mode": a.mode, "p": 1, "state": "running", "nonce": 0,
                    "version": first}
        self.session = a.session
        self.session_version = first
        self.sjob = {"present": a.session, "inc": 1, "tag": self.next_tag(), "mode": "savepoint"} if a.session else None
        # What the operator runs, which differs from the manifests only while a downgrade is refused
        # (settle): the app's last accepted spec (None: not deployed yet, or deleted) and the Flink
        # release of the session cluster (None likewise); `refused` names the resources whose
        # manifest names an older version than the one their stateful job runs on.
        self.app_run = None
        self.session_run = None
        self.refused = set()
        self.phase_kills = set()  # (resource, role) of the JVMs this phase's faults killed; role None: all (power loss)
        self.jvm_seen = collections.defaultdict(dict)  # resource -> {(pid, start): (role, release)} of the JVMs seen this phase
        self.round_watch = collections.defaultdict(set)  # resource -> why it was watched in this round's phases (expect_refusals)
        self.refusal_times = []  # seconds from a refused write to Stalled FlinkVersionDowngrade on record
        self.refusal_counts = collections.Counter()
        self.refusal_seen = {}
        self.phase_t0 = time.time()
        self.sjob_settled = None

    # ---- bookkeeping ---------------------------------------------------------------------------

    def next_tag(self):
        self.tag_seq += 1
        return f"v{self.tag_seq}"

    def violation(self, kind, message, evidence):
        with self.lock:
            record = {"round": self.round, "seed": self.seed, "kind": kind, "message": message, "evidence": evidence,
                      "oplog": self.oplog, "time": now_iso()}
            self.violations.append(record)
        log(f"VIOLATION [{kind}] round {self.round}: {message}")
        for line in evidence:
            print(f"      | {line}", flush=True)
        # The pods' own logs, before a recovery deletes them: where a violation is explained.
        kept = f"{self.root}/evidence/round-{self.round}-{kind}"
        try:
            shutil.copytree(f"{self.root}/state/pods", kept, dirs_exist_ok=True)
            log(f"pod logs kept in {kept}")
        except OSError as error:
            log(f"pod logs not kept: {error}")

    def note(self, message):
        self.notes.append(f"round {self.round}: {message}")
        log(f"note: {message}")

    def output_path(self, name, inc):
        return f"{self.outdir}/{name}.{inc}.out"

    def release_of(self, name):
        """The Flink release `name` (app, session, sjob) is expected to run on: the manifests', or,
        while a downgrade of it is refused, the newer one it runs on."""
        if name == "app":
            return self.runs("app")["version"]
        return self.session_run or self.session_version

    def runs(self, name):
        """The spec `name` ('app' or 'sjob') is expected to run: the app's last accepted one (the
        manifest's unless a downgrade is refused), the session job's manifest."""
        if name == "app":
            return self.app_run or self.app
        return self.sjob

    def settle(self):
        """What runs once the manifests as the model has them now are read (see settle_app,
        settle_session); updates app_run, session_run and refused. Idempotent."""
        self.app_run, app_refused = settle_app(self.app, self.app_run)
        if self.session:
            self.session_run, session_refused = settle_session(self.session_version, self.session_run, self.session_present,
                                                               self.sjob["present"])
        else:
            session_refused = False
        self.refused = {name for name, refused in [("app", app_refused), ("session", session_refused)] if refused}
        self.sjob_settled = self.sjob_run

    def flink_version(self, release):
        """spec.flinkVersion of a release: 1.20.5 -> v1_20. Without --versions, v2_3 as always."""
        if not self.versioned:
            return "v2_3"
        major, minor = release.split(".")[:2]
        return f"v{major}_{minor}"

    def out_tag(self, name):
        """The tag the running job of `name` writes: vN, or vN-<release> with versions."""
        m = self.runs(name)
        return f"{m['tag']}-{self.release_of(name)}" if self.versioned else m["tag"]

    def arm(self):
        """Tells the output checkers which writer (tag, release) each resource is asked for now."""
        self.settle()
        if not self.versioned:
            return
        with self.lock:
            for name, m in [("app", self.app), ("sjob", self.sjob)]:
                if m and m["present"]:
                    self.checker(name, m["inc"]).arm((int(self.runs(name)["tag"][1:]), self.release_of(name)))

    def checker(self, name, inc):
        with self.lock:
            key = (name, inc)
            if key not in self.checkers:
                self.checkers[key] = OutputChecker(self, name, inc, self.output_path(name, inc))
            return self.checkers[key]

    # ---- processes -----------------------------------------------------------------------------

    def procs(self):
        return scan(self.root, self.state, exclude_parent=os.getpid())

    def jvms(self, resource=None):
        return [p for p in self.procs() if p.pod and (resource is None or p.resource == resource)]

    def sample(self):
        with self.lock:
            procs = self.procs()
            jms = collections.defaultdict(list)
            for p in procs:
                if p.role == "jobmanager" and p.resource:
                    jms[p.resource].append(p)
            for p in procs:
                if p.resource and p.role in ("jobmanager", "taskmanager"):
                    self.jvm_seen[p.resource].setdefault((p.pid, p.start), (p.role, jvm_release(p.cmd)))
            for resource, group in jms.items():
                self.max_jm[resource] = max(self.max_jm[resource], len(group))
                if len(group) > 1 and (self.round, resource) not in self.jm_reported:
                    self.jm_reported.add((self.round, resource))
                    self.violation("two-jobmanagers", f"{len(group)} JobManager JVMs of {resource} alive at once",
                                   [f"pid {p.pid} pgid {p.pgid} start {p.start} pod {p.pod}: {p.cmd[-160:]}" for p in group])
            for c in list(self.checkers.values()):
                c.poll()

    def sampler(self):
        while not self.stop_sampler.is_set():
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - the sampler must not die silently
                log("sampler error:\n" + traceback.format_exc())
            self.stop_sampler.wait(0.5)

    # ---- the operator --------------------------------------------------------------------------

    def start_operator(self):
        self.op_starts += 1
        with open(self.oplog, "a") as f:
            f.write(json.dumps({"chaos": "operator start", "n": self.op_starts, "round": self.round, "time": now_iso()}) + "\n")
        out = open(self.oplog, "ab")
        home = ["--flink-home", self.op_home] if self.op_home else []
        self.op = subprocess.Popen(
            [self.a.flinklet, "run", "--manifests", self.manifests, "--state-dir", self.state, *home,
             "--ports", self.a.ports, "--resync", "2", "--empty-grace", "1", "--log-format", "json"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=unblock_signals,
            cwd=self.op_cwd, env=self.op_env)
        out.close()

    def kill_operator(self):
        if self.op is None:
            return
        try:
            os.kill(self.op.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.op.wait()
        with open(self.oplog, "a") as f:
            f.write(json.dumps({"chaos": "operator SIGKILL", "round": self.round, "time": now_iso()}) + "\n")
        self.op = None

    def operator_alive(self):
        """Restarts an operator that exited by itself (and says so: that is an operator bug)."""
        if self.op is not None and self.op.poll() is not None:
            code = self.op.returncode
            self.violation("operator-exited", f"the operator exited by itself with status {code}", self.oplog_tail(8, levels=None))
            self.op = None
            self.start_operator()

    def oplog_tail(self, n, levels=("warning", "error", "critical"), since=None):
        try:
            with open(self.oplog, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        picked = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                if levels is None:
                    picked.append(line)
                continue
            if "chaos" in entry:
                continue
            if since and entry.get("time", "") < since:
                continue
            if levels is None or entry.get("level") in levels:
                picked.append(line)
        return [f"operator.log: {line[:400]}" for line in picked[-n:]]

    # ---- status and REST -----------------------------------------------------------------------

    def get(self, kind, name):
        """(object, error): object None with error 'NotFound' when there is no record."""
        try:
            r = subprocess.run([self.a.flinklet, "get", kind, name, "-o", "json", "--state-dir", self.state],
                               capture_output=True, text=True, timeout=30, preexec_fn=unblock_signals)
        except subprocess.TimeoutExpired:
            return None, "flinklet get timed out"
        if r.returncode != 0:
            return None, ("NotFound" if "NotFound" in r.stderr else r.stderr.strip()[:300])
        try:
            return json.loads(r.stdout), None
        except ValueError:
            return None, "unparsable: " + r.stdout[:200]

    @staticmethod
    def status_line(obj):
        if obj is None:
            return "no record"
        st = obj.get("status") or {}
        js = st.get("jobStatus") or {}
        conditions = "; ".join(f"{c.get('type')}={c.get('status')} {c.get('reason')}: {c.get('message')}" for c in st.get("conditions") or [])
        flink = (st.get("clusterInfo") or {}).get("flink-version")
        return (f"generation {obj['metadata'].get('generation')} observed {st.get('observedGeneration')} "
                f"lifecycle {st.get('lifecycleState')}{' flink ' + flink if flink else ''} jm {st.get('jobManagerDeploymentStatus')} job {js.get('jobId')} {js.get('state')} "
                f"restore {js.get('upgradeSavepointPath')} error {st.get('error')} | {conditions}")

    # ---- manifests -----------------------------------------------------------------------------

    def write(self, file, text):
        path = f"{self.manifests}/{file}"
        temporary = f"{self.manifests}/.{file}.tmp"
        with open(temporary, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temporary, path)

    def remove(self, file):
        try:
            os.unlink(f"{self.manifests}/{file}")
        except FileNotFoundError:
            pass

    def args(self, name, m):
        tag = m["tag"] + "-%v" if self.versioned else m["tag"]
        return ["--rate", str(self.a.rate), "--keys", str(self.a.keys), "--tag", tag, "--output", self.output_path(name, m["inc"])]

    def app_manifest(self):
        m = self.app
        nonce = f"  restartNonce: {m['nonce']}\n" if m["nonce"] else ""
        return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: app
spec:
  flinkVersion: {self.flink_version(m["version"])}
  mode: application
{nonce}  flinkConfiguration:
    execution.checkpointing.interval: "{CHECKPOINT_S}s"
    taskmanager.numberOfTaskSlots: "2"
  jobManager:
    resource:
      memory: 768m
  taskManager:
    resource:
      memory: 1024m
  job:
    jarURI: {JAR_URI}
    entryClass: {ENTRY_CLASS}
    args: {json.dumps(self.args("app", m))}
    parallelism: {m['p']}
    upgradeMode: {m['mode']}
    state: {m['state']}
"""

    def session_manifest(self):
        return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: session
spec:
  flinkVersion: {self.flink_version(self.session_version)}
  mode: session
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "2"
  jobManager:
    resource:
      memory: 768m
  taskManager:
    replicas: 1
    resource:
      memory: 1024m
"""

    def sjob_manifest(self):
        m = self.sjob
        return f"""apiVersion: flink.apache.org/v1beta1
kind: FlinkSessionJob
metadata:
  name: sjob
spec:
  deploymentName: session
  flinkConfiguration:
    execution.checkpointing.interval: "{CHECKPOINT_S}s"
  job:
    jarURI: {JAR_URI}
    entryClass: {ENTRY_CLASS}
    args: {json.dumps(self.args("sjob", m))}
    parallelism: 1
    upgradeMode: {m['mode']}
"""

    def write_app(self):
        self.write("app.yaml", self.app_manifest())

    def write_sjob(self):
        self.write("sjob.yaml", self.sjob_manifest())

    # ---- fault injection -----------------------------------------------------------------------

    def plan_faults(self, allow_jvm=True, boost=False):
        """The fault timeline of one manifest write, drawn from the seeded generator (boost: the
        faults-only round, where JVM kills and power losses are likelier)."""
        rng = self.rng
        kill_at, down = rng.uniform(0, 3), rng.uniform(0, 3)
        power = rng.random() < (0.3 if boost else P_POWER)
        jvm = rng.random() < (0.8 if boost else P_JVM)
        jvm_at, jvm_pick = rng.uniform(0, 4), rng.random()
        late = rng.random() < P_LATE
        late_at, late_down = kill_at + down + rng.uniform(3, 10), rng.uniform(0, 3)
        timeline = [(kill_at, "power-loss" if power else "op-kill", None), (kill_at + down, "op-start", None)]
        if jvm and not power and allow_jvm:
            timeline.append((jvm_at, "jvm-kill", jvm_pick))
        if late:
            timeline += [(late_at, "late-op-kill", None), (late_at + late_down, "op-start", None)]
        return sorted(timeline, key=lambda t: t[0])

    def run_timeline(self, t0, timeline):
        """Executes the timeline (offsets from t0); returns a description and the last restart time."""
        done, last_start = [], time.time()
        for at, action, arg in timeline:
            delay = t0 + at - time.time()
            if delay > 0:
                time.sleep(delay)
            if action in ("op-kill", "late-op-kill"):
                self.kill_operator()
                self.injections["operator-kill"] += 1
                done.append(f"{action}@{at:.1f}s")
            elif action == "power-loss":
                self.kill_operator()
                victims = self.jvms()
                for p in victims:
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.injections["power-loss"] += 1
                self.phase_kills.add((None, None))
                with open(self.oplog, "a") as f:
                    f.write(json.dumps({"chaos": "power loss", "round": self.round, "killed": [p.pod for p in victims], "time": now_iso()}) + "\n")
                done.append(f"power-loss@{at:.1f}s({len(victims)} JVMs)")
            elif action == "op-start":
                self.start_operator()
                last_start = time.time()
                done.append(f"op-start@{at:.1f}s")
            elif action == "jvm-kill":
                candidates = sorted(self.jvms(), key=lambda p: (p.resource, p.pod, p.pid))
                if not candidates:
                    done.append(f"jvm-kill@{at:.1f}s(no JVM alive: skipped)")
                    continue
                victim = candidates[min(int(arg * len(candidates)), len(candidates) - 1)]
                try:
                    os.kill(victim.pid, signal.SIGKILL)
                    self.injections["jvm-kill"] += 1
                    self.phase_kills.add((victim.resource, victim.role))
                    done.append(f"jvm-kill@{at:.1f}s({victim.pod} pid {victim.pid})")
                    with open(self.oplog, "a") as f:
                        f.write(json.dumps({"chaos": "jvm kill", "round": self.round, "pod": victim.pod, "pid": victim.pid, "time": now_iso()}) + "\n")
                except ProcessLookupError:
                    done.append(f"jvm-kill@{at:.1f}s({victim.pod} already gone)")
        return done, last_start

    # ---- convergence ---------------------------------------------------------------------------

    def check_deployment_job(self, name, m, expect_args, pre_jid, restart_expected, t_write, kind="flinkdep", port_from=None,
                             refused=False):
        """(ok, detail, jid) for a running job: a FlinkDeployment (application) or a session job.
        `m` is the manifest; what runs is `runs(name)`, which differs while its downgrade is
        `refused`: then the status must say so (Stalled and Ready=False, FlinkVersionDowngrade)
        instead of STABLE, and the job of the last accepted spec runs on."""
        obj, err = self.get(kind, name)
        if obj is None:
            return False, f"{name}: no record ({err})", None
        spec, st = obj.get("spec") or {}, obj.get("status") or {}
        job = spec.get("job") or {}
        if job.get("args") != expect_args or (kind == "flinkdep" and (job.get("parallelism") != m["p"] or job.get("state") != m["state"]
                                                                      or (spec.get("restartNonce") or 0) != m["nonce"]
                                                                      or spec.get("flinkVersion") != self.flink_version(m["version"]))) \
                or job.get("upgradeMode") != m["mode"]:
            return False, f"{name}: the operator has not read the written spec yet | {self.status_line(obj)}", None
        if st.get("observedGeneration") != obj["metadata"].get("generation"):
            return False, f"{name}: {self.status_line(obj)}", None
        if refused:
            ok, detail = refusal_conditions(obj, ready_false=True)
            if not ok:
                return False, f"{name}: the downgrade is not refused on record ({detail}) | {self.status_line(obj)}", None
            self.refusal_on_record(name)
        elif st.get("lifecycleState") != "STABLE":
            return False, f"{name}: {self.status_line(obj)}", None
        jid = (st.get("jobStatus") or {}).get("jobId")
        if kind == "flinkdep":
            port = (st.get("clusterInfo") or {}).get("rest-port")
        else:
            port = port_from
        if not port:
            return False, f"{name}: no REST port | {self.status_line(obj)}", jid
        overview = rest(port, "/jobs/overview")
        if "_error" in overview:
            return False, f"{name}: REST {port} /jobs/overview: {overview['_error']} | {self.status_line(obj)}", jid
        jobs = overview.get("jobs", [])
        live = [j for j in jobs if j.get("state") not in TERMINAL]
        rest_text = f"REST {port}: " + ", ".join(f"{j['jid']} {j['state']} tasks {j['tasks'].get('running')}/{j['tasks'].get('total')}"
                                                 + (f" ({j['tasks']['finished']} finished)" if j["tasks"].get("finished") else "") for j in jobs)
        if len(live) != 1:
            return False, f"{name}: {len(live)} non-terminal jobs | {rest_text} | {self.status_line(obj)}", jid
        j = live[0]
        # A source subtask with no split FINISHES at once (a job restored at a higher parallelism than
        # its savepoint's number of splits): running + finished == total is a running job.
        tasks = j["tasks"]
        if j["state"] != "RUNNING" or tasks.get("running", 0) < 1 or tasks.get("running", 0) + tasks.get("finished", 0) != tasks.get("total"):
            return False, f"{name}: {rest_text} | {self.status_line(obj)}", jid
        if j["jid"] != jid:
            return False, f"{name}: REST runs {j['jid']}, status names {jid} | {rest_text}", jid
        if restart_expected and jid == pre_jid:
            return False, f"{name}: still job {jid}, a restart was asked for | {rest_text}", jid
        if self.versioned:
            ok, detail = self.check_rest_version(name, port)
            if not ok:
                return False, f"{detail} | {rest_text}", jid
        if kind == "flinkdep":
            details = rest(port, f"/jobs/{jid}")
            parallelism = sorted({v.get("parallelism") for v in details.get("vertices", [])}) if "_error" not in details else None
            want_p = self.runs(name)["p"]
            if parallelism != [want_p]:
                return False, f"{name}: vertex parallelism {parallelism}, want {want_p} | {rest_text}", jid
        c = self.checker(name, m["inc"])
        tag = self.out_tag(name)
        with self.lock:
            c.poll()
            first = c.tag_first.get(tag)
        if first is None:
            return False, f"{name}: no output line of {tag} yet | {rest_text}", jid
        if first[1] < t_write and c.tag_count[tag] and restart_expected:
            pass  # a tag that already ran (resume, nonce): the REST job id proves the restart
        return True, f"{name}: job {jid} RUNNING ({rest_text})", jid

    def check_rest_version(self, name, port):
        """The Flink that answers on `port` (REST /config) is the release the manifest names."""
        want = self.release_of(name)
        got = rest(port, "/config")
        if got.get("flink-version") != want:
            return False, f"{name}: REST {port} /config says Flink {got.get('flink-version', got.get('_error'))}, the manifest names {want}"
        return True, ""

    def session_port(self):
        obj, _ = self.get("flinkdep", "session")
        return ((obj or {}).get("status") or {}).get("clusterInfo", {}).get("rest-port"), obj

    def check_session(self):
        obj, err = self.get("flinkdep", "session")
        if obj is None:
            return False, f"session: no record ({err})"
        st = obj.get("status") or {}
        if (obj.get("spec") or {}).get("flinkVersion") != self.flink_version(self.session_version):
            return False, f"session: the operator has not read the written spec yet | {self.status_line(obj)}"
        if "session" in self.refused:
            # Refused: the cluster runs on (its Ready and lifecycle say how its pods are), Stalled says why.
            if st.get("observedGeneration") != obj["metadata"].get("generation"):
                return False, f"session: {self.status_line(obj)}"
            ok, detail = refusal_conditions(obj, ready_false=False)
            if not ok:
                return False, f"session: the downgrade is not refused on record ({detail}) | {self.status_line(obj)}"
            self.refusal_on_record("session")
        elif st.get("observedGeneration") != obj["metadata"].get("generation") or st.get("lifecycleState") != "STABLE":
            return False, f"session: {self.status_line(obj)}"
        elif refused_downgrade_left(obj):
            return False, f"session: still Stalled FlinkVersionDowngrade, its manifest names the version it runs | {self.status_line(obj)}"
        port = (st.get("clusterInfo") or {}).get("rest-port")
        overview = rest(port, "/overview") if port else {"_error": "no port"}
        if "_error" in overview or overview.get("taskmanagers", 0) < 1:
            return False, f"session: REST {port} /overview: {overview}"
        if self.versioned:
            ok, detail = self.check_rest_version("session", port)
            if not ok:
                return False, f"{detail} | {self.status_line(obj)}"
        return True, "session: STABLE"

    def check_gone(self, kind, name):
        obj, err = self.get(kind, name)
        if obj is not None or err != "NotFound":
            return False, f"{name}: record still there ({err or self.status_line(obj)})"
        if kind == "flinkdep":
            left = self.jvms(name)
            if left:
                return False, f"{name}: record gone but processes remain: {left}"
        else:
            port, _ = self.session_port()
            overview = rest(port, "/jobs/overview") if port else {"_error": "no session port"}
            live = [j for j in overview.get("jobs", []) if j.get("state") not in TERMINAL]
            if live:
                return False, f"{name}: record gone but the session cluster runs {[(j['jid'], j['state']) for j in live]}"
        return True, f"{name}: gone"

    def check_suspended(self):
        obj, err = self.get("flinkdep", "app")
        if obj is None:
            return False, f"app: no record ({err})"
        st = obj.get("status") or {}
        if (obj.get("spec") or {}).get("job", {}).get("state") != "suspended":
            return False, f"app: the operator has not read the written spec yet | {self.status_line(obj)}"
        if st.get("observedGeneration") != obj["metadata"].get("generation") or st.get("lifecycleState") != "SUSPENDED":
            return False, f"app: {self.status_line(obj)}"
        left = self.jvms("app")
        if left:
            return False, f"app: SUSPENDED but processes remain: {left}"
        return True, "app: SUSPENDED"

    def expectations(self, pre):
        """The checks of the desired state of every resource: list of (name, function)."""
        checks = []
        a = self.app
        if not a["present"]:
            checks.append(("app", lambda: self.check_gone("flinkdep", "app")[:2]))
        elif self.runs("app")["state"] == "suspended":
            checks.append(("app", self.check_suspended))
        else:
            checks.append(("app", lambda: self.check_deployment_job("app", a, self.args("app", a), pre.get("app"),
                                                                    pre.get("app-restart", False), pre["t_write"],
                                                                    refused="app" in self.refused)[:2]))
        if self.session:
            checks.append(("session", self.check_session if self.session_present else lambda: self.check_gone("flinkdep", "session")))
            s = self.sjob
            if not s["present"]:
                checks.append(("sjob", lambda: self.check_gone("sessionjob", "sjob")))
            else:
                checks.append(("sjob", lambda: self.check_deployment_job("sjob", s, self.args("sjob", s), pre.get("sjob"),
                                                                         pre.get("sjob-restart", False), pre["t_write"], kind="sessionjob",
                                                                         port_from=self.session_port()[0])[:2]))
        return checks

    def savepoint_paths(self, obj, with_restore=False):
        js = ((obj or {}).get("status") or {}).get("jobStatus") or {}
        info = js.get("savepointInfo") or {}
        paths = [s.get("location") for s in info.get("savepointHistory") or []]
        if info.get("lastSavepoint"):
            paths.append(info["lastSavepoint"].get("location"))
        if with_restore and js.get("upgradeSavepointPath"):
            paths.append(js["upgradeSavepointPath"])
        return sorted({p for p in paths if p})

    def check_savepoints_exist(self, when):
        for kind, name in [("flinkdep", "app"), ("sessionjob", "sjob")]:
            obj, _ = self.get(kind, name)
            if obj is None:
                continue
            for location in self.savepoint_paths(obj):
                if not os.path.exists(fs_path(location)):
                    self.violation("savepoint-missing", f"{name}: status ({when}) names a savepoint that is not on disk: {location}",
                                   [self.status_line(obj)] + self.oplog_tail(4, since=None))

    def evidence(self, details):
        ev = [f"last check: {d}" for d in details]
        for kind, name in [("flinkdep", "app"), ("flinkdep", "session"), ("sessionjob", "sjob")]:
            obj, _ = self.get(kind, name)
            if obj is not None:
                ev.append(f"status {name}: {self.status_line(obj)}")
                port = ((obj.get("status") or {}).get("clusterInfo") or {}).get("rest-port")
                if port:
                    ev += self.rest_evidence(name, port)
            ev += self.events(kind, name)
        ev += self.flink_log_lines()
        ev += self.port_evidence()
        ev += self.oplog_tail(8, since=datetime.fromtimestamp(self.round_started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
        return ev

    def rest_evidence(self, name, port):
        """What Flink's REST API says about a cluster: its jobs, their vertices' task states, the
        TaskManagers and each live job's root exception."""
        ev = []
        overview = rest(port, "/jobs/overview")
        if "_error" in overview:
            return [f"REST {name} {port}: {overview['_error']}"]
        tms = rest(port, "/taskmanagers")
        ev.append(f"REST {name} {port} taskmanagers: " + (", ".join(f"{t.get('id')} slots {t.get('freeSlots')}/{t.get('slotsNumber')}"
                                                                  for t in tms.get("taskmanagers", [])) if "_error" not in tms else tms["_error"]))
        for j in overview.get("jobs", []):
            line = f"REST {name} {port} job {j['jid']} {j['state']} tasks " + str({k: v for k, v in j["tasks"].items() if v})
            if j["state"] not in TERMINAL:
                detail = rest(port, f"/jobs/{j['jid']}")
                for v in detail.get("vertices", []):
                    line += f" | {v.get('name')} p{v.get('parallelism')} {v.get('status')} " + str({k: c for k, c in v.get("tasks", {}).items() if c})
                exceptions = rest(port, f"/jobs/{j['jid']}/exceptions?maxExceptions=1")
                entries = (exceptions.get("exceptionHistory") or {}).get("entries") or []
                root = (exceptions.get("root-exception") or (entries[0].get("stacktrace") if entries else "") or "").strip().splitlines()
                if root:
                    cause = next((l.strip() for l in root if "Caused by" in l or "IllegalStateException" in l), "")
                    line += f" | latest exception: {root[0][:200]}" + (f" ... {cause[:250]}" if cause and cause != root[0] else "")
            ev.append(line)
        return ev

    def port_evidence(self):
        """The operator's port leases (state.db, read-only) and who listens on this run's ports: a
        process of this root (by pod), or one outside it."""
        first, last = (int(x) for x in self.a.ports.split("-"))
        ev = []
        try:
            import sqlite3
            db = sqlite3.connect(f"file:{self.state}/state.db?mode=ro", uri=True, timeout=2)
            leases = collections.defaultdict(list)
            for port, owner in db.execute("SELECT port, owner FROM port_leases ORDER BY port"):
                leases[owner].append(port)
            db.close()
            ev.append("port leases: " + "; ".join(f"{owner} {ports}" for owner, ports in sorted(leases.items())))
        except Exception as error:  # noqa: BLE001 - evidence is best effort
            ev.append(f"port leases: unreadable ({error})")
        inodes = {}
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(name) as f:
                    for line in f.readlines()[1:]:
                        fields = line.split()
                        port = int(fields[1].rsplit(":", 1)[1], 16)
                        if fields[3] == "0A" and first <= port <= last:
                            inodes[fields[9]] = port
            except OSError:
                pass
        owners = {}
        for p in self.procs():
            try:
                for fd in os.listdir(f"/proc/{p.pid}/fd"):
                    target = os.readlink(f"/proc/{p.pid}/fd/{fd}")
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        owners[inodes[target[8:-1]]] = p.pod or p.role or str(p.pid)
            except OSError:
                continue
        ev.append("listening: " + ", ".join(f"{port} {owners.get(port, 'NOT a process of this root')}" for port in sorted(inodes.values())))
        return ev

    def events(self, kind, name, n=5):
        try:
            r = subprocess.run([self.a.flinklet, "describe", kind, name, "--state-dir", self.state], capture_output=True, text=True, timeout=30,
                               preexec_fn=unblock_signals)
        except subprocess.TimeoutExpired:
            return []
        lines = r.stdout.splitlines()
        if "Events:" not in lines:
            return []
        rows = [l.strip() for l in lines[lines.index("Events:") + 2:] if l.strip()]
        return [f"event {name}: {row[:700]}" for row in rows[-n:]]

    def flink_log_lines(self, n=6):
        """Distinct failure lines of the current pods' Flink logs: the telling ones first (library
        BLOBs, restore failures, missing files, jobs FAILED), else generic exceptions."""
        strong = re.compile(r"references a different set of library BLOBs|Could not restore|FileNotFound|NoSuchFile|"
                            r"switched from \w+ to FAILED|Failed to rollback|NoResourceAvailable|Target file .* already exists|"
                            r"Registration at ResourceManager .*(failed|refused|timed out)|Fatal error occurred|BindException|"
                            r"Terminating TaskManagerRunner|Could not finalize the pending checkpoint")
        weak = re.compile(r"Exception:")
        picked = {"strong": [], "weak": []}
        for dirpath, _, files in sorted(os.walk(f"{self.state}/pods")):
            if "log" not in files:
                continue
            try:
                with open(f"{dirpath}/log", errors="replace") as f:
                    text = f.read()[-400_000:]
            except OSError:
                continue
            seen, mine = set(), {"strong": [], "weak": []}
            for line in text.splitlines():
                which = "strong" if strong.search(line) else "weak" if weak.search(line) else None
                if which is None:
                    continue
                short = re.sub(r"^\S+ \S+ ", "", line)[:200]
                if short not in seen:
                    seen.add(short)
                    mine[which].append(f"{os.path.relpath(dirpath, self.state)}/log: {line[:300]}")
            for which in mine:  # the latest two of each pod, so no pod's lines crowd out another's
                picked[which] += mine[which][-2:]
        return picked["strong"][-2 * n:] or picked["weak"][-3:]

    def converge(self, pre, t_last_start, phase):
        """Waits until every resource is in its desired state (status, REST, processes), then until
        the running jobs' output grows under their tags, then checks the desired state again: a
        fault still taking effect (a JVM killed just before the first check) sends it back to
        waiting. Returns the convergence time, or None (a violation) after the deadline."""
        self.phases += 1
        deadline = t_last_start + CONVERGE_TIMEOUT
        relapses = 0
        while True:
            while True:
                self.operator_alive()
                results = [(name, fn()) for name, fn in self.expectations(pre)]
                if all(ok for _, (ok, _) in results):
                    break
                if time.time() > deadline:
                    self.violation("not-converged", f"phase '{phase}' did not converge within {CONVERGE_TIMEOUT:.0f} s of the last operator restart"
                                   + (f" ({relapses} relapse(s) after reaching it)" if relapses else ""),
                                   self.evidence([d for _, (ok, d) in results if not ok]))
                    return None
                time.sleep(1)
            t_ok = time.time()
            pending = self.growth()
            if pending:
                if time.time() > deadline:
                    self.violation("no-growth", f"phase '{phase}': status and REST converged but the output of {sorted(pending)} did not grow "
                                                f"by {GROWTH_LINES} lines within {GROWTH_TIMEOUT:.0f} s, {CONVERGE_TIMEOUT:.0f} s after the last operator restart",
                                   self.evidence([d for _, (_, d) in results]))
                    return None
                relapses += 1
                continue
            self.check_latest_writers(phase)
            self.quiet_when_suspended()
            results = [(name, fn()) for name, fn in self.expectations(pre)]
            if all(ok for _, (ok, _) in results):
                break
            relapses += 1
        if relapses:
            self.note(f"phase '{phase}' left the desired state {relapses} time(s) before it settled (faults still taking effect)")
        elapsed = t_ok - pre["t_write"]
        self.check_savepoints_exist(f"after {phase}")
        self.phases_converged += 1
        self.converge_times.append(elapsed)
        return elapsed

    def growth(self):
        """The running jobs whose output did not grow by GROWTH_LINES lines of their tag within GROWTH_TIMEOUT."""
        running = []
        if self.app["present"] and self.runs("app")["state"] == "running":
            running.append(("app", self.app))
        if self.session and self.sjob["present"]:
            running.append(("sjob", self.sjob))
        with self.lock:
            base = {name: self.checker(name, m["inc"]).tag_count[self.out_tag(name)] for name, m in running}
        deadline = time.time() + GROWTH_TIMEOUT
        pending = set(base)
        while pending and time.time() < deadline:
            time.sleep(0.5)
            with self.lock:
                for name, m in running:
                    c = self.checker(name, m["inc"])
                    c.poll()
                    if c.tag_count[self.out_tag(name)] - base[name] >= GROWTH_LINES:
                        pending.discard(name)
        return pending

    def check_latest_writers(self, phase):
        """With versions: after the output grew under the expected tag, its latest line is the
        expected writer's, the release the manifest names (the version that runs is the one asked for)."""
        if not self.versioned:
            return
        with self.lock:
            for name, m in [("app", self.app), ("sjob", self.sjob)]:
                if not m or not m["present"] or (name == "app" and self.runs("app")["state"] != "running"):
                    continue
                c = self.checker(name, m["inc"])
                c.poll()
                want = (int(self.runs(name)["tag"][1:]), self.release_of(name))
                if c.writer != want:
                    self.violation("latest-version", f"phase '{phase}': the latest output of {c.label()} is "
                                                     f"{'v%d-%s' % c.writer if c.writer else 'none'}, the manifests ask for v{want[0]}-{want[1]}",
                                   list(c.recent)[-4:])

    def quiet_when_suspended(self):
        """A SUSPENDED app (no process left) writes nothing for 4 s."""
        if not (self.app["present"] and self.runs("app")["state"] == "suspended"):
            return
        with self.lock:
            c = self.checker("app", self.app["inc"])
            c.poll()
            size = c.offset
        time.sleep(4)
        with self.lock:
            c.poll()
            if c.offset != size:
                self.violation("suspended-writes", "app is SUSPENDED but its output still grows",
                               [f"{c.path}: {size} -> {c.offset} bytes"] + list(c.recent)[-4:])

    # ---- rounds --------------------------------------------------------------------------------

    def current_jids(self):
        jids = {}
        for kind, name in [("flinkdep", "app"), ("sessionjob", "sjob")]:
            obj, _ = self.get(kind, name)
            jids[name] = ((obj or {}).get("status") or {}).get("jobStatus", {}).get("jobId")
        return jids

    def phase(self, description, apply, restart=None, allow_jvm=True, boost=False):
        """One manifest write with its faults, then convergence. Returns (converged time or None, faults)."""
        pre = self.current_jids()
        pre.update(restart or {})
        self.read_write(pre, description)
        timeline = self.plan_faults(allow_jvm, boost)
        with self.lock:
            pre["jvms"] = collections.defaultdict(set)
            for p in self.jvms():
                pre["jvms"][p.resource].add((p.pid, p.start))
            self.jvm_seen.clear()
            self.phase_kills = set()
            self.refusal_seen = {}
        pre["t_write"] = self.phase_t0 = t0 = time.time()
        self.arm()
        apply()
        faults, last_start = self.run_timeline(t0, timeline)
        elapsed = self.converge(pre, last_start, description)
        self.check_refusals(pre, description, converged=elapsed is not None)
        return elapsed, faults

    @property
    def sjob_run(self):
        s = self.sjob
        return (s["present"], s["inc"], s["tag"], s["mode"]) if s else None

    def read_write(self, pre, description):
        """What the operator runs once the phase's write (the model as it is now) is read, and what
        the phase expects of refusals (expect_refusals, into `pre`)."""
        was, app_before, session_before, sjob_before = set(self.refused), self.app_run, self.session_run, self.sjob_settled
        self.settle()
        self.expect_refusals(pre, description, was, app_before, session_before, sjob_before)

    def expect_refusals(self, pre, description, was, app_before, session_before, sjob_before):
        """What a phase expects of a refused downgrade, and of a version changed back to the one that
        runs (settle has just read the write): a resource refused, or changed back with nothing else
        changed, keeps its cluster and job (pre["watch"]: its JobManager and, unless faults killed
        that JobManager, its job id stay; no JobManager of another version starts), so no restart
        is expected of it; its session job restarts only for a change of its own."""
        pre["watch"] = {}
        for name, before, after in [("app", app_before, self.app_run), ("session", session_before, self.session_run)]:
            if name in self.refused:
                pre["watch"][name] = "refused downgrade"
                self.refusal_counts[f"{name} refused" if name not in was else f"{name} phases while refused"] += 1
            elif name in was:
                if after is None or (name == "session" and not self.sjob["present"]):
                    self.refusal_counts["refusal over otherwise"] += 1  # deleted, or its session job is
                elif before == after:
                    pre["watch"][name] = "version changed back"  # nothing else changed: nothing restarts
                    self.refusal_counts["changed back"] += 1
                else:
                    self.refusal_counts["changed back with other changes"] += 1  # an upgrade on the version it ran
        if "app" in pre["watch"]:
            pre.pop("app-restart", None)
            pre["same-app"] = True
            self.version_moved.discard("app")
        if "session" in pre["watch"]:
            self.version_moved.discard("sjob")
            if self.sjob["present"] and sjob_before == self.sjob_run:
                pre.pop("sjob-restart", None)
                pre["same-sjob"] = True
        if self.refused:
            log(f"  {description}: downgrade refused for " + ", ".join(
                f"{name} (manifest {self.flink_version(self.app['version'] if name == 'app' else self.session_version)}, "
                f"runs {self.flink_version(self.release_of(name))})" for name in sorted(self.refused)))

    def killed_jobmanager(self, resource):
        """This phase's faults killed `resource`'s JobManager (a power loss kills every one)."""
        return (None, None) in self.phase_kills or (resource, "jobmanager") in self.phase_kills

    def killed_any(self, resource):
        """This phase's faults killed a JVM of `resource`."""
        return any(r in (None, resource) for r, _ in self.phase_kills)

    def check_refusals(self, pre, phase, converged=True):
        """After the phase: the resources pre["watch"] names kept their cluster (the same JobManager
        unless a fault killed it, none of another version) and job (the same id unless a fault
        killed its JobManager). A phase that did not converge is checked for JVMs of another
        version only (what else changed is part of the failure)."""
        for resource, why in sorted(pre.get("watch", {}).items()):
            killed = self.killed_jobmanager(resource)
            self.round_watch[resource].add(f"{why}{', JVMs killed' if self.killed_any(resource) else ''}")
            with self.lock:
                seen = dict(self.jvm_seen[resource])
            for kind, detail in jvm_verdict(seen, pre["jvms"][resource], self.release_of(resource), killed, self.killed_any(resource)):
                if not converged and kind != "refused-version":
                    continue
                obj, _ = self.get("flinkdep", resource)
                self.violation(kind, f"phase '{phase}': {resource} ({why}, runs Flink {self.release_of(resource)}): {detail}",
                               [f"status {resource}: {self.status_line(obj)}"] + self.oplog_tail(
                                   8, levels=None, since=datetime.fromtimestamp(pre["t_write"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")))
            job, kind = ("app", "flinkdep") if resource == "app" else ("sjob", "sessionjob")
            if converged and pre.get(f"same-{job}") and not killed and pre.get(job):
                obj, _ = self.get(kind, job)
                jid = ((obj or {}).get("status") or {}).get("jobStatus", {}).get("jobId")
                if jid != pre[job]:
                    self.violation("refused-restart", f"phase '{phase}': {job} ({resource}: {why}) runs job {jid}, not {pre[job]}, "
                                                      f"although no fault killed its JobManager", [f"status {job}: {self.status_line(obj)}"])

    def refusal_on_record(self, name):
        """The status of `name` says its downgrade is refused: the time from the write is kept (once per phase)."""
        if name not in self.refusal_seen:
            self.refusal_seen[name] = time.time() - self.phase_t0
            self.refusal_times.append(self.refusal_seen[name])

    def freeze(self, name, inc):
        with self.lock:
            c = self.checker(name, inc)
            c.poll()
            c.frozen = (c.offset, self.round)

    def choose(self):
        kinds = [("savepoint-upgrade", 3), ("last-state-upgrade", 2), ("parallelism", 2), ("suspend-resume", 2),
                 ("restart-nonce", 1.5), ("delete-recreate", 1.5), ("faults-only", 2)]
        if self.session:
            kinds.append(("session-job-upgrade", 2))
        if len(self.releases) > 1:
            kinds.append(("version-change", 5))
        total = sum(w for _, w in kinds)
        x = self.rng.uniform(0, total)
        for kind, w in kinds:
            x -= w
            if x <= 0:
                return kind
        return kinds[-1][0]

    def do_round(self, kind):
        a, s = self.app, self.sjob
        results = []
        self.round_phases = 2 if kind in ("suspend-resume", "delete-recreate") else 1
        self.version_moved = set()
        if kind in ("savepoint-upgrade", "last-state-upgrade"):
            a["mode"] = "savepoint" if kind == "savepoint-upgrade" else "last-state"
            a["tag"] = self.next_tag()
            results.append((f"{kind} app -> {a['tag']}", *self.phase(f"{kind} {a['tag']}", self.write_app)))
        elif kind == "parallelism":
            a["p"] = 3 - a["p"]
            results.append((f"parallelism app -> {a['p']}", *self.phase(f"parallelism {a['p']}", self.write_app)))
        elif kind == "faults-only":
            # No change: the jobs have run 10-25 s past their last restore (many checkpoints), so a
            # restore from anything but the newest checkpoint shows as a large fall-back.
            time.sleep(self.rng.uniform(10, 25))
            results.append(("faults only (no change)", *self.phase("faults only", lambda: None, boost=True)))
        elif kind == "restart-nonce":
            a["nonce"] += 1
            results.append((f"restartNonce app -> {a['nonce']}",
                            *self.phase(f"restartNonce {a['nonce']}", self.write_app, restart={"app-restart": True})))
        elif kind == "suspend-resume":
            a["state"] = "suspended"
            r1 = self.phase("suspend", self.write_app)
            results.append(("suspend app", *r1))
            if r1[0] is None:
                return results
            obj, _ = self.get("flinkdep", "app")
            restore = ((obj or {}).get("status") or {}).get("jobStatus", {}).get("upgradeSavepointPath")
            if self.runs("app")["state"] != "suspended":
                pass  # the suspension was refused (a downgrade is): the job runs on
            elif restore and not os.path.exists(fs_path(restore)):
                self.violation("restore-point-missing", f"app is SUSPENDED with restore point {restore}, which is not on disk: resume cannot restore it",
                               [self.status_line(obj), f"ls {os.path.dirname(fs_path(restore))}: {sorted(os.listdir(os.path.dirname(fs_path(restore)))) if os.path.isdir(os.path.dirname(fs_path(restore))) else 'missing'}"]
                               + self.oplog_tail(6, since=datetime.fromtimestamp(self.round_started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")))
            elif not restore:
                self.note("app SUSPENDED with no restore point recorded")
            a["state"] = "running"
            results.append(("resume app", *self.phase("resume", self.write_app, restart={"app-restart": True})))
        elif kind == "version-change":
            # flinkVersion of the app, of the session cluster (its session job moves by itself:
            # its manifest is not touched) or of both in one write; the app's sometimes with a new tag.
            # To a newer listed version only (--downgrades: any other): Flink restores a savepoint
            # of its own or an older version, not of a newer one (1.20 reads checkpoint metadata
            # up to version 4; 2.0 writes 5, 2.1-2.3 write 6). When neither can move up, one of
            # them is deleted and re-created on the oldest listed version (fresh state).
            targets = {"app": self.version_targets(a["version"])}
            if self.session:
                targets["session"] = self.version_targets(self.session_version)
            options = [t for t, ups in targets.items() if ups]
            if len(options) == 2:
                options.append("both")
            if not options:
                return self.version_reset(results)
            target = self.rng.choice(options)
            restart, labels, files = {}, [], []
            if target in ("app", "both"):
                a["version"] = self.rng.choice(targets["app"])
                if self.rng.random() < 0.4:
                    a["tag"] = self.next_tag()
                restart["app-restart"] = True
                self.version_moved.add("app")
                labels.append(f"app -> {self.flink_version(a['version'])} {a['tag']}"
                              + (" (refused)" if settle_app(a, self.app_run)[1] else ""))
                files.append(("app.yaml", self.app_manifest))
            if target in ("session", "both"):
                self.session_version = self.rng.choice(targets["session"])
                if s["present"]:
                    restart["sjob-restart"] = True
                    self.version_moved.add("sjob")
                labels.append(f"session -> {self.flink_version(self.session_version)}"
                              + (" (refused)" if settle_session(self.session_version, self.session_run, self.session_present, s["present"])[1] else ""))
                files.append(("session.yaml", self.session_manifest))
            label = "flinkVersion " + ", ".join(labels)
            results.append((label, *self.phase(label, lambda: [self.write(f, text()) for f, text in files], restart=restart)))
        elif kind == "session-job-upgrade":
            s["mode"] = self.rng.choice(["savepoint", "last-state"])
            s["tag"] = self.next_tag()
            results.append((f"session-job {s['mode']} upgrade -> {s['tag']}", *self.phase(f"sjob upgrade {s['tag']}", self.write_sjob)))
        elif kind == "delete-recreate":
            target = "sjob" if self.session and self.rng.random() < 0.35 and self.sjob_recreate else "app"
            m = s if target == "sjob" else a
            m["present"] = False
            r1 = self.phase(f"delete {target}", lambda: self.remove(f"{target}.yaml"))
            results.append((f"delete {target}", *r1))
            if r1[0] is None:
                return results
            self.freeze(target, m["inc"])
            m.update(present=True, inc=m["inc"] + 1, tag=self.next_tag())
            if target == "app":
                m.update(p=1, nonce=0, state="running")
            results.append((f"re-create {target} #{m['inc']} {m['tag']}",
                            *self.phase(f"re-create {target}", self.write_app if target == "app" else self.write_sjob)))
            if target == "sjob" and results[-1][1] is None:
                self.sjob_recreate = False
                self.note("session-job re-creation failed to converge: later delete-recreate rounds target the app only")
        return results

    def version_targets(self, release):
        """The listed releases a resource on `release` may change to: the newer ones (any other
        with --downgrades)."""
        key = lambda r: tuple(int(x) if x.isdigit() else 0 for x in r.split("."))
        return [r for r in self.releases if r != release and (self.a.downgrades or key(r) > key(release))]

    def version_reset(self, results):
        """No newer version for the app or the session cluster: one of them is deleted and
        re-created on the oldest listed version (the session cluster after its session job, which
        is re-created with it), so later rounds can upgrade it again."""
        a, s = self.app, self.sjob
        oldest = min(self.releases, key=lambda r: tuple(int(x) if x.isdigit() else 0 for x in r.split(".")))
        target = self.rng.choice(["app", "session"]) if self.session else "app"
        self.round_phases = 2 if target == "app" else 3
        if target == "app":
            a["present"] = False
            r1 = self.phase("delete app (no newer version)", lambda: self.remove("app.yaml"))
            results.append(("delete app (no newer version)", *r1))
            if r1[0] is None:
                return results
            self.freeze("app", a["inc"])
            a.update(present=True, inc=a["inc"] + 1, tag=self.next_tag(), p=1, nonce=0, state="running", version=oldest)
            label = f"re-create app #{a['inc']} on {self.flink_version(oldest)} {a['tag']}"
            results.append((label, *self.phase(label, self.write_app)))
            return results
        s["present"] = False
        r1 = self.phase("delete sjob (no newer version)", lambda: self.remove("sjob.yaml"))
        results.append(("delete sjob (no newer version)", *r1))
        if r1[0] is None:
            return results
        self.freeze("sjob", s["inc"])
        self.session_present = False
        r2 = self.phase("delete session", lambda: self.remove("session.yaml"))
        results.append(("delete session", *r2))
        if r2[0] is None:
            return results
        self.session_present, self.session_version = True, oldest
        s.update(present=True, inc=s["inc"] + 1, tag=self.next_tag())
        label = f"re-create session on {self.flink_version(oldest)} and sjob #{s['inc']} {s['tag']}"
        results.append((label, *self.phase(label, lambda: (self.write("session.yaml", self.session_manifest()), self.write_sjob()))))
        return results

    def recover(self):
        """After a non-converged phase: delete everything (the session job first) and start fresh
        incarnations (a fresh session cluster too), so later rounds test the operator again rather
        than repeat one failure. Returns False if that is impossible."""
        log("recovery: deleting every resource and re-creating fresh incarnations")
        self.remove("sjob.yaml")
        if self.session and not self.wait_for(lambda: self.check_gone("sessionjob", "sjob"), 120):
            return False
        self.remove("app.yaml")
        self.remove("session.yaml")
        if not self.wait_for(lambda: self.check_gone("flinkdep", "app"), 120):
            return False
        if self.session and not self.wait_for(lambda: self.check_gone("flinkdep", "session"), 120):
            return False
        self.freeze("app", self.app["inc"])
        self.app.update(present=True, inc=self.app["inc"] + 1, tag=self.next_tag(), p=1, nonce=0, state="running")
        self.app_run, self.session_run = None, None  # new clusters: their manifests' versions
        self.arm()
        self.write_app()
        if self.session:
            self.freeze("sjob", self.sjob["inc"])
            self.sjob.update(present=True, inc=self.sjob["inc"] + 1, tag=self.next_tag())
            self.session_present = True
            self.arm()
            self.write("session.yaml", self.session_manifest())
            self.write_sjob()
        pre = self.current_jids()
        pre["t_write"] = time.time()
        ok = self.wait_for(lambda: self.all_ok(pre), 180)
        log(f"recovery {'done' if ok else 'FAILED'}")
        return ok

    def all_ok(self, pre):
        results = [fn() for _, fn in self.expectations(pre)]
        return all(r[0] for r in results), "; ".join(r[1] for r in results if not r[0])

    def wait_for(self, fn, timeout, kind="recovery-failed", what="a recovery step"):
        deadline = time.time() + timeout
        detail = ""
        while time.time() < deadline:
            self.operator_alive()
            ok, detail = fn()
            if ok:
                return True
            time.sleep(1)
        self.violation(kind, f"{what} did not finish within {timeout} s", self.evidence([detail]))
        return False

    # ---- the run -------------------------------------------------------------------------------

    def run(self):
        a = self.a
        log(f"root {self.root}, seed {self.seed}, rounds {a.rounds}, ports {a.ports}, session {'on' if self.session else 'off'}")
        if self.versioned:
            log("Flink versions: " + ", ".join(f"{self.flink_version(r)} {self.homes[r]}" for r in self.releases)
                + (f" (the operator runs --flink-home {self.op_home})" if self.op_home else
                   f" (the operator finds them in {self.op_cwd}/.flink; version changes on)"))
        log(f"bounds: replay <= {self.replay_bound} records per key, reset-to-1 forbidden after {self.reset_after}, "
            f"convergence <= {CONVERGE_TIMEOUT:.0f} s")
        threading.Thread(target=self.sampler, daemon=True).start()
        self.start_operator()
        if a.ports_lock is not None:
            a.ports_lock.close()
        # Initial deployment (no faults): the baseline everything else is compared with.
        self.arm()
        self.write_app()
        if self.session:
            self.write("session.yaml", self.session_manifest())
            self.write_sjob()
        pre = self.current_jids()
        pre["t_write"] = time.time()
        self.round_started = time.time()
        if self.converge(pre, time.time(), "initial deployment") is None:
            log("the initial deployment did not converge: stopping")
            return
        time.sleep(3)
        started = time.time()
        for number in range(1, a.rounds + 1):
            if a.duration and time.time() - started > a.duration:
                log(f"time budget of {a.duration:.0f} s used: stopping after {number - 1} rounds")
                break
            self.round = number
            self.round_started = time.time()
            kind = self.choose()
            self.changes[kind] += 1
            log(f"round {number}/{a.rounds}: {kind}")
            results = self.do_round(kind)
            worst = collections.Counter()
            restores = 0
            for c in list(self.checkers.values()):
                for f in c.fallbacks:
                    if f[0] == number:
                        restores += 1
                        worst[c.resource] = max(worst[c.resource], f[2] - f[3] + 1)
            for label, elapsed, faults in results:
                log(f"  {label}: faults [{', '.join(faults)}] -> " + (f"converged in {elapsed:.1f} s" if elapsed is not None else "NOT converged"))
            log(f"  round {number} done in {time.time() - self.round_started:.0f} s; largest fall-back per key: "
                + (", ".join(f"{name} {n}" for name, n in sorted(worst.items())) + f" ({restores} key restore(s))" if worst else "none"))
            if worst["app"] and kind == "savepoint-upgrade":
                self.note(f"app's savepoint upgrade replayed up to {worst['app']} record(s) per key (restored from a checkpoint: faults interrupted the savepoint)")
            moved = {name: worst[name] for name in sorted(self.version_moved) if worst[name]} if kind == "version-change" else {}
            if moved:
                self.note(f"flinkVersion change replayed up to {moved} record(s) per key (a restore from a checkpoint, not "
                          f"the change's savepoint, or a fault after it; faults: {'; '.join(', '.join(f) for _, _, f in results)})")
            for resource, whys in sorted(self.round_watch.items()):
                job = "app" if resource == "app" else "sjob"
                if worst[job]:
                    self.note(f"{job} fell back up to {worst[job]} record(s) per key in a round where {resource} kept running "
                              f"({'; '.join(sorted(whys))}): a restore from a checkpoint, with its JobManager and job id unchanged "
                              f"unless a fault killed them (refused-restart otherwise)")
            self.round_watch.clear()
            self.rounds_done = number
            if results and all(elapsed is not None for _, elapsed, _ in results) and len(results) == self.round_phases:
                self.rounds_converged += 1
            if any(elapsed is None for _, elapsed, _ in results) or len(results) < self.round_phases:
                if not self.recover():
                    log("recovery failed: stopping the run")
                    break
            time.sleep(self.rng.uniform(2, 6))

    def final(self):
        """Deletes everything, checks the savepoints and that nothing is left."""
        self.round = "final"
        self.round_started = time.time()
        self.operator_alive()
        last = {}
        for kind, name in [("flinkdep", "app"), ("sessionjob", "sjob")]:
            obj, _ = self.get(kind, name)
            if obj is not None:
                last[name] = obj
        self.remove("sjob.yaml")
        if self.session:
            self.wait_for(lambda: self.check_gone("sessionjob", "sjob"), 120, "not-deleted", "the final delete of sjob")
        self.remove("app.yaml")
        self.remove("session.yaml")
        self.wait_for(lambda: self.check_gone("flinkdep", "app"), 120, "not-deleted", "the final delete of app")
        if self.session:
            self.wait_for(lambda: self.check_gone("flinkdep", "session"), 120, "not-deleted", "the final delete of session")
        self.freeze("app", self.app["inc"])
        if self.session:
            self.freeze("sjob", self.sjob["inc"])
        checked = 0
        for name, obj in last.items():
            for location in self.savepoint_paths(obj, with_restore=False):
                checked += 1
                if not os.path.exists(fs_path(location)):
                    self.violation("savepoint-missing", f"{name}: the last status names a savepoint not on disk after the delete: {location}",
                                   [self.status_line(obj)])
            restore = ((obj.get("status") or {}).get("jobStatus") or {}).get("upgradeSavepointPath")
            if restore and "/savepoints/" in fs_path(restore):
                checked += 1
                if not os.path.exists(fs_path(restore)):
                    self.violation("savepoint-missing", f"{name}: upgradeSavepointPath of the last status not on disk after the delete: {restore}",
                                   [self.status_line(obj)])
        log(f"final delete done; {checked} savepoint path(s) of the last status checked on disk")
        time.sleep(1)
        left = [p for p in self.procs() if p.role != "operator"]
        if left:
            self.violation("leftover", "processes under the root remain after the final delete converged",
                           [f"pid {p.pid} {p.pod}: {p.cmd[-160:]}" for p in left])
        if self.op is not None:
            self.op.send_signal(signal.SIGTERM)
            try:
                self.op.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.violation("leftover", "the operator did not stop within 15 s of SIGTERM", [])
                self.kill_operator()
            self.op = None
        time.sleep(1)
        left = scan(self.root, self.state, include_cwd=True)
        if left:
            self.violation("leftover", "processes under the root remain after the operator stopped",
                           [f"pid {p.pid}: {p.cmd[-160:]}" for p in left])

    def kill_everything(self):
        """Whatever state things are in: the operator and every process under the root, by pid."""
        self.stop_sampler.set()
        if self.op is not None:
            try:
                os.kill(self.op.pid, signal.SIGKILL)
                self.op.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            self.op = None
        for _ in range(10):
            left = scan(self.root, self.state, include_cwd=True)
            if not left:
                return True
            for p in left:
                try:
                    if p.pgid == p.pid:
                        os.killpg(p.pgid, signal.SIGKILL)
                    else:
                        os.kill(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.5)
        return not scan(self.root, self.state, include_cwd=True)

    def summary(self, elapsed):
        total = sum(self.injections.values())
        times = sorted(self.converge_times)
        print()
        print("=" * 100)
        print(f"chaos summary (seed {self.seed}, root {self.root}, {elapsed / 60:.1f} min)")
        print(f"rounds: {self.rounds_done}")
        print("changes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items())))
        print(f"injections: operator-kill {self.injections['operator-kill']}, jvm-kill {self.injections['jvm-kill']}, "
              f"power-loss {self.injections['power-loss']} (total {total})")
        if self.versioned:
            switches = collections.Counter()
            for c in self.checkers.values():
                switches[c.resource] += c.switches
            print("flink versions: " + ", ".join(self.flink_version(r) for r in self.releases)
                  + f"; switches of version seen in the output: {dict(switches)}")
        print(f"converged: {self.rounds_converged}/{self.rounds_done} rounds ({self.phases_converged}/{self.phases} phases, "
              f"the initial deployment included)")
        if times:
            print(f"convergence time (manifest written -> converged): p50 {statistics.median(times):.1f} s, max {times[-1]:.1f} s")
        if self.a.downgrades:
            rc, rt = self.refusal_counts, sorted(self.refusal_times)
            print(f"downgrades refused: app {rc['app refused']}, session {rc['session refused']} (later phases while refused: "
                  f"app {rc['app phases while refused']}, session {rc['session phases while refused']}); changed back "
                  f"{rc['changed back']} (+{rc['changed back with other changes']} with other changes: an upgrade), over otherwise (deleted, session job deleted) {rc['refusal over otherwise']}"
                  + (f"; Stalled FlinkVersionDowngrade on record after p50 {statistics.median(rt):.1f} s, max {rt[-1]:.1f} s (from the write)" if rt else ""))
        fallbacks = [f for c in self.checkers.values() for f in c.fallbacks]
        print(f"restores seen in the output: {len(fallbacks)} key fall-backs, largest replay "
              f"{max((f[2] - f[3] + 1 for f in fallbacks), default=0)} (bound {self.replay_bound}); max JobManagers per resource "
              f"{dict(self.max_jm)}")
        for n in self.notes:
            print(f"note: {n}")
        by_kind = collections.Counter(v["kind"] for v in self.violations)
        print(f"violations: {len(self.violations)}" + (" (" + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())) + ")" if by_kind else "") + (f" (+{sum(self.suppressed.values())} repeats not quoted: {dict(self.suppressed)})" if self.suppressed else ""))
        for v in self.violations:
            print(f"- [{v['kind']}] round {v['round']}, seed {v['seed']}, at {v['time']}: {v['message']}")
            for line in v["evidence"]:
                print(f"    | {line}")
            print(f"    operator log: {v['oplog']}")
        print("=" * 100)


class PlanHarness(Harness):
    """--plan: the rounds a seed draws (changes, faults, refused downgrades), without running
    anything. The draws do not depend on what the operator does as long as every phase converges
    (a failed phase skips its round's later draws), so this is how a seed is chosen."""

    def phase(self, description, apply, restart=None, allow_jvm=True, boost=False):
        self.read_write({}, description)
        timeline = self.plan_faults(allow_jvm, boost)
        return 0.0, [f"{action}@{at:.1f}s" for at, action, _ in timeline]

    def get(self, kind, name):
        return None, "plan"

    def plan(self):
        self.settle()
        time.sleep = lambda seconds: None  # noqa: the rounds' pauses are drawn, not waited for
        for number in range(1, self.a.rounds + 1):
            self.round = number
            kind = self.choose()
            self.changes[kind] += 1
            results = self.do_round(kind)
            print(f"round {number}: {kind}: " + "; ".join(f"{label} [{', '.join(faults)}]" for label, _, faults in results), flush=True)
            self.rng.uniform(2, 6)
        rc = self.refusal_counts
        print(f"seed {self.seed}: changes " + ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items()))
              + f"; refused: app {rc['app refused']}, session {rc['session refused']}, later phases while refused "
              f"{rc['app phases while refused'] + rc['session phases while refused']}, changed back {rc['changed back']} "
              f"(+{rc['changed back with other changes']} with other changes), "
              f"over otherwise {rc['refusal over otherwise']}")


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def unblock_signals():
    """In a child: the stop signals the harness blocks (to learn who sends them) are delivered."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def watch_stop_signals():
    """SIGTERM/SIGINT are blocked in every thread and taken here, so the log can say which process
    asked this run to stop; the main thread then stops as on Ctrl-C (and cleans up)."""
    import _thread
    info = signal.sigwaitinfo(STOP_SIGNALS)
    try:
        with open(f"/proc/{info.si_pid}/cmdline", "rb") as f:
            sender = f.read().replace(b"\0", b" ").decode(errors="replace")[:300]
    except OSError:
        sender = "(gone)"
    log(f"received signal {info.si_signo} from pid {info.si_pid} (uid {info.si_uid}): {sender}")
    STOP_REASON.append(f"signal {info.si_signo} from pid {info.si_pid}: {sender}")
    _thread.interrupt_main()


STOP_REASON = []


PORT_CLAIMS = "/tmp/flinklet-chaos-ports.d"


def claimed_port_ranges():
    """The --ports ranges of every `flinklet run` on the machine (command lines), and the blocks
    live chaos runs chose (`PORT_CLAIMS/<pid>`): a run's operator is killed and restarted, and
    while it is down (and its JVMs too, after a power loss) neither its command line nor a
    listening port shows the block, which another run starting then would take."""
    ranges = []
    try:
        claims = os.listdir(PORT_CLAIMS)
    except OSError:
        claims = []
    for claim in claims:
        try:
            os.kill(int(claim), 0)
            with open(os.path.join(PORT_CLAIMS, claim)) as f:
                first, last = (int(x) for x in f.read().strip().split("-"))
            ranges.append((first, last))
        except (ValueError, OSError):
            continue  # not a pid, a run that ended, or a claim half written
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "run" in argv and "--ports" in argv and any(a.endswith("flinklet") for a in argv[:1]):
            try:
                first, last = (int(x) for x in argv[argv.index("--ports") + 1].split("-"))
                ranges.append((first, last))
            except (IndexError, ValueError):
                pass
        elif any(a.endswith("chaos.py") for a in argv[:2]) and "--ports" in argv:
            try:
                first, last = (int(x) for x in argv[argv.index("--ports") + 1].split("-"))
                ranges.append((first, last))
            except (IndexError, ValueError):
                pass
    return ranges


def listening_ports():
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def choose_ports():
    """A 500-port block below the kernel's ephemeral range that no other operator or chaos run on
    this machine claims and where nothing listens (the tests and benchmarks use 20000-32767)."""
    claimed, listening = claimed_port_ranges(), listening_ports()
    for first in list(range(18000, 20000, 500)) + list(range(10000, 18000, 500)):
        last = first + 499
        if any(not (last < a or first > b) for a, b in claimed):
            continue
        if any(first <= port <= last for port in listening):
            continue
        return f"{first}-{last}"
    raise SystemExit("no free 500-port block in 10000-19999")


def self_test():
    """The output checks on synthetic files: each rule fires on its case and stays quiet on legal
    restores (python3 hack/chaos.py --self-test)."""
    import tempfile

    class Fake:
        round, replay_bound, reset_after = 1, 80, 30

        def __init__(self):
            self.got, self.suppressed = [], collections.Counter()

        def violation(self, kind, message, evidence):
            self.got.append(kind)

    def run(lines, armed=()):
        fake = Fake()
        with tempfile.NamedTemporaryFile("w", suffix=".out", delete=False) as f:
            f.write("".join(line + "\n" for line in lines))
        c = OutputChecker(fake, "t", 1, f.name)
        for identity in armed:
            c.arm(identity)
        c.poll()
        os.unlink(f.name)
        return fake.got, c

    seq = lambda key, a, b, tag: [f"{key} {i} {tag}" for i in range(a, b + 1)]
    cases = [
        ("savepoint upgrade", seq("k", 1, 50, "v1") + seq("k", 51, 60, "v2"), []),
        ("checkpoint restore within the bound", seq("k", 1, 50, "v1") + seq("k", 41, 60, "v2"), []),
        ("replay beyond the bound", seq("k", 1, 200, "v1") + seq("k", 100, 110, "v1"), ["replay"]),
        ("reset to 1", seq("k", 1, 40, "v1") + seq("k", 1, 5, "v1"), ["reset"]),
        ("early restart to 1 is legal", seq("k", 1, 8, "v1") + seq("k", 1, 5, "v1"), []),
        ("lost records", seq("k", 1, 10, "v1") + seq("k", 12, 15, "v1"), ["jump"]),
        ("two writers", seq("k", 1, 10, "v1") + ["k 8 v1", "k 11 v1"], ["jump"]),
        ("superseded tag", seq("k", 1, 10, "v1") + ["k 11 v2", "k 12 v1"], ["superseded-tag"]),
        ("fresh incarnation must start at 1", seq("k", 5, 10, "v1"), ["starts-not-at-1"]),
        ("malformed", ["k 1 v1", "garbage"], ["malformed"]),
        ("keys are independent", seq("a", 1, 10, "v1") + seq("b", 1, 10, "v1") + seq("a", 11, 12, "v2"), []),
    ]
    one, two = (1, "1.20.5"), (1, "2.3.0")
    cases = [(name, lines, want, ()) for name, lines, want in cases] + [
        ("version change", seq("k", 1, 20, "v1-1.20.5") + seq("k", 21, 30, "v1-2.3.0"), [], (one, two)),
        ("version change with a new tag", seq("k", 1, 20, "v1-1.20.5") + seq("k", 21, 30, "v2-2.3.0"), [], (one, (2, "2.3.0"))),
        ("old version after the switch", seq("k", 1, 20, "v1-1.20.5") + seq("k", 21, 30, "v1-2.3.0") + ["k 31 v1-1.20.5"],
         ["superseded-version"], (one, two)),
        ("two versions interleaving", seq("k", 1, 20, "v1-1.20.5") + ["k 21 v1-2.3.0", "k 22 v1-1.20.5"],
         ["superseded-version"], (one, two)),
        ("a version no manifest asked for", seq("k", 1, 20, "v1-1.20.5") + seq("k", 21, 30, "v1-2.2.1"), ["unexpected-version"], (one, two)),
        ("flip back unasked", seq("k", 1, 20, "v1-1.20.5") + seq("k", 21, 30, "v1-2.3.0") + seq("k", 31, 35, "v1-1.20.5"),
         ["superseded-version"], (one, two)),
    ]
    failed = 0
    for name, lines, want, armed in cases:
        got, _ = run(lines, armed)
        ok = sorted(set(got)) == sorted(set(want))
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: got {got}, want {want}")
    fake = Fake()
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/x.out"
        open(path, "w").write("k 1 v1\n")
        c = OutputChecker(fake, "t", 1, path)
        c.poll()
        c.frozen = (c.offset, 1)
        open(path, "a").write("k 2 v1\n")
        c.poll()
    ok = fake.got == ["frozen"]
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} frozen output grows: got {fake.got}")
    # A flinkVersion flipped back (1.20 -> 2.3 -> 1.20): the old writer may write again once asked.
    fake = Fake()
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/x.out"
        c = OutputChecker(fake, "t", 1, path)
        c.arm(one)
        open(path, "w").write("".join(f"k {i} v1-1.20.5\n" for i in range(1, 11)))
        c.poll()
        c.arm(two)
        open(path, "a").write("".join(f"k {i} v1-2.3.0\n" for i in range(11, 21)))
        c.poll()
        c.arm(one)
        open(path, "a").write("".join(f"k {i} v1-1.20.5\n" for i in range(21, 31)) + "k 31 v1-2.3.0\n")
        c.poll()
    ok = fake.got == ["superseded-version"] and c.switches == 2 and c.writer == one
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} flinkVersion flipped back and forth: got {fake.got}, {c.switches} switches")
    # A refused downgrade (2.3 -> 1.20): the 2.3 writer stays the one asked for; the older
    # version (or the refused spec's new tag) writing is a violation.
    for name, tail, want in [("refused downgrade: 2.3 writes on", seq("k", 21, 40, "v1-2.3.0"), []),
                             ("refused downgrade: 1.20 writes", seq("k", 21, 25, "v1-1.20.5"), ["superseded-version"]),
                             ("refused downgrade: the refused tag writes", seq("k", 21, 25, "v2-1.20.5"), ["unexpected-version"])]:
        fake = Fake()
        with tempfile.TemporaryDirectory() as d:
            path = f"{d}/x.out"
            c = OutputChecker(fake, "t", 1, path)
            c.arm(one)
            open(path, "w").write("".join(f"k {i} v1-1.20.5\n" for i in range(1, 11)))
            c.poll()
            c.arm(two)
            open(path, "a").write("".join(f"k {i} v1-2.3.0\n" for i in range(11, 21)))
            c.poll()
            c.arm(two)  # the refused write asks for what runs
            open(path, "a").write("".join(line + "\n" for line in tail))
            c.poll()
        ok = sorted(set(fake.got)) == want
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: got {fake.got}, want {want}")
    failed += self_test_refusals()
    return 1 if failed else 0


def self_test_refusals():
    """The model of refused downgrades (settle_app, settle_session, Harness.read_write), the status
    check (refusal_conditions) and the JVM check (jvm_verdict). Returns the number of failures."""
    import tempfile
    failed = 0

    def expect(name, got, want):
        nonlocal failed
        ok = got == want
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: got {got}, want {want}")

    def app(**kw):
        m = {"present": True, "inc": 1, "tag": "v1", "mode": "savepoint", "p": 1, "state": "running", "nonce": 0, "version": "2.3.0"}
        m.update(kw)
        return m
    run23 = settle_app(app(), None)[0]
    expect("settle_app: first deployment runs the manifest", settle_app(app(version="1.20.5"), None), (settle_app(app(version="1.20.5"), None)[0], False))
    expect("settle_app: an upgrade is accepted", settle_app(app(), settle_app(app(version="1.20.5"), None)[0]), (run23, False))
    expect("settle_app: a downgrade of a stateful job is refused", settle_app(app(version="1.20.5"), run23), (run23, True))
    expect("settle_app: last-state too", settle_app(app(version="1.20.5", mode="last-state"), run23), (run23, True))
    expect("settle_app: args with the older version are refused", settle_app(app(version="1.20.5", tag="v2", p=2, nonce=1), run23), (run23, True))
    expect("settle_app: a suspension with the older version is refused", settle_app(app(version="1.20.5", state="suspended"), run23), (run23, True))
    expect("settle_app: back to the version that runs: nothing changes", settle_app(app(), run23), (run23, False))
    expect("settle_app: back with another tag: an upgrade", settle_app(app(tag="v2"), run23)[0]["tag"], "v2")
    expect("settle_app: stateless goes ahead", settle_app(app(version="1.20.5", mode="stateless"), run23)[1], False)
    expect("settle_app: a new incarnation starts on the older version", settle_app(app(version="1.20.5", inc=2), run23)[0]["version"], "1.20.5")
    expect("settle_app: deleted", settle_app(app(present=False), run23), (None, False))
    expect("settle_session: refused while the session job is there", settle_session("1.20.5", "2.3.0", True, True), ("2.3.0", True))
    expect("settle_session: goes ahead once it is deleted", settle_session("1.20.5", "2.3.0", True, False), ("1.20.5", False))
    expect("settle_session: an upgrade", settle_session("2.3.0", "1.20.5", True, True), ("2.3.0", False))
    expect("settle_session: a new cluster", settle_session("1.20.5", None, True, True), ("1.20.5", False))

    def status(*conditions, generation=3):
        return {"metadata": {"generation": generation},
                "status": {"conditions": [dict(zip(("type", "status", "reason", "observedGeneration"), c)) for c in conditions]}}
    refused_app = status(("Ready", "False", "FlinkVersionDowngrade", 3), ("Running", "True", "RUNNING", 3), ("Stalled", "True", "FlinkVersionDowngrade", 3))
    expect("refusal_conditions: app refused", refusal_conditions(refused_app, True)[0], True)
    expect("refusal_conditions: not yet", refusal_conditions(status(("Ready", "True", "JobRunning", 3)), True)[0], False)
    expect("refusal_conditions: an earlier generation's", refusal_conditions(status(("Ready", "False", "FlinkVersionDowngrade", 2),
                                                                                    ("Stalled", "True", "FlinkVersionDowngrade", 2)), True)[0], False)
    expect("refusal_conditions: session (Ready as its pods are)", refusal_conditions(status(("Ready", "True", "ClusterReady", 3),
                                                                                          ("Stalled", "True", "FlinkVersionDowngrade", 3)), False)[0], True)
    expect("refusal_conditions: app Ready=True is not refused on record", refusal_conditions(status(("Ready", "True", "JobRunning", 3),
                                                                                                  ("Stalled", "True", "FlinkVersionDowngrade", 3)), True)[0], False)
    expect("refused_downgrade_left", (refused_downgrade_left(refused_app), refused_downgrade_left(status(("Ready", "True", "ClusterReady", 3)))), (True, False))

    expect("jvm_release: from the classpath", [jvm_release("java -classpath /w/.flink/flink-2.3.0/lib/a.jar:/w/.flink/flink-2.3.0/lib/flink-dist-2.3.0.jar X"),
                                                jvm_release("java -classpath /r/operator/.flink/flink-1.20.5/lib/a.jar X"), jvm_release("sleep 1")],
           ["2.3.0", "1.20.5", None])
    jm, tm = ((10, 1), ("jobmanager", "2.3.0")), ((11, 1), ("taskmanager", "2.3.0"))
    before = {jm[0], tm[0]}
    kinds = lambda found: [k for k, _ in found]
    expect("jvm_verdict: left alone", kinds(jvm_verdict(dict([jm, tm]), before, "2.3.0", False, False)), [])
    expect("jvm_verdict: a JobManager of the older version", kinds(jvm_verdict(dict([jm, tm, ((12, 5), ("jobmanager", "1.20.5"))]), before, "2.3.0", False, False)),
           ["refused-version", "refused-restart"])
    expect("jvm_verdict: a new JobManager though none was killed", kinds(jvm_verdict(dict([jm, ((12, 5), ("jobmanager", "2.3.0"))]), before, "2.3.0", False, True)),
           ["refused-restart"])
    expect("jvm_verdict: a recovery after a JobManager kill", kinds(jvm_verdict(dict([jm, ((12, 5), ("jobmanager", "2.3.0")), ((13, 5), ("taskmanager", "2.3.0"))]),
                                                                          before, "2.3.0", True, True)), [])
    expect("jvm_verdict: a recovery on the older version", kinds(jvm_verdict(dict([((12, 5), ("jobmanager", "1.20.5"))]), before, "2.3.0", True, True)),
           ["refused-version"])
    expect("jvm_verdict: a TaskManager restarted after a TaskManager kill", kinds(jvm_verdict(dict([jm, ((13, 5), ("taskmanager", "2.3.0"))]), before, "2.3.0", False, True)), [])
    expect("jvm_verdict: a TaskManager restarted with nothing killed", kinds(jvm_verdict(dict([jm, ((13, 5), ("taskmanager", "2.3.0"))]), before, "2.3.0", False, False)),
           ["refused-restart"])

    # The harness' expectations across rounds (no operator: the model only).
    with tempfile.TemporaryDirectory() as d:
        homes = []
        for release in ("1.20.5", "2.3.0"):
            os.makedirs(f"{d}/flink-{release}/lib")
            open(f"{d}/flink-{release}/lib/flink-dist-{release}.jar", "w").close()
            homes.append(f"{d}/flink-{release}")
        a = argparse.Namespace(seed=1, root=f"{d}/root", versions=homes, flink_home=None, rate=20, keys=4, mode="savepoint", session=True,
                               downgrades=True)
        global log
        quiet, log = log, lambda message: None
        try:
            h = Harness(a)
            h.settle()
            app_, s = h.app, h.sjob

            def write(change, restart=None):
                change()
                pre = dict(restart or {})
                h.read_write(pre, "self-test")
                return pre
            pre = write(lambda: app_.update(version="2.3.0"), {"app-restart": True})
            expect("model: app upgraded to 2.3", (h.refused, pre.get("app-restart"), h.out_tag("app")), (set(), True, "v1-2.3.0"))
            pre = write(lambda: app_.update(version="1.20.5"), {"app-restart": True})
            expect("model: app downgrade refused", (h.refused, "app-restart" in pre, pre.get("same-app"), pre["watch"], h.out_tag("app"),
                                                    h.release_of("app")), ({"app"}, False, True, {"app": "refused downgrade"}, "v1-2.3.0", "2.3.0"))
            pre = write(lambda: app_.update(tag="v9", p=2))
            expect("model: an upgrade with the older version is refused", (h.refused, h.runs("app")["p"], h.out_tag("app"), pre.get("same-app")),
                   ({"app"}, 1, "v1-2.3.0", True))
            pre = write(lambda: app_.update(state="suspended"))
            expect("model: a suspension with the older version is refused", (h.runs("app")["state"], pre.get("same-app")), ("running", True))
            write(lambda: app_.update(state="running"))
            pre = write(lambda: app_.update(version="2.3.0"), {"app-restart": True})
            expect("model: back to 2.3 with a new tag: an upgrade on 2.3", (h.refused, pre.get("app-restart"), "app" in pre["watch"], h.out_tag("app")),
                   (set(), True, False, "v9-2.3.0"))
            write(lambda: app_.update(version="1.20.5"), {"app-restart": True})
            pre = write(lambda: app_.update(version="2.3.0"), {"app-restart": True})
            expect("model: back to 2.3 with nothing else changed: nothing restarts", (h.refused, "app-restart" in pre, pre.get("same-app"), pre["watch"]),
                   (set(), False, True, {"app": "version changed back"}))
            pre = write(lambda: setattr(h, "session_version", "2.3.0"), {"sjob-restart": True})
            expect("model: session upgraded", (h.refused, pre.get("sjob-restart"), h.out_tag("sjob")), (set(), True, "v2-2.3.0"))
            pre = write(lambda: setattr(h, "session_version", "1.20.5"), {"sjob-restart": True})
            expect("model: session downgrade refused, its job left alone", (h.refused, "sjob-restart" in pre, pre.get("same-sjob"), h.out_tag("sjob")),
                   ({"session"}, False, True, "v2-2.3.0"))
            pre = write(lambda: s.update(tag="v10"))
            expect("model: a session job upgrade during the refusal runs on 2.3", (h.refused, pre.get("same-sjob"), h.out_tag("sjob")),
                   ({"session"}, None, "v10-2.3.0"))
            pre = write(lambda: s.update(present=False))
            expect("model: the session job deleted: the cluster moves to 1.20", (h.refused, pre["watch"], h.release_of("session")), (set(), {}, "1.20.5"))
            write(lambda: s.update(present=True, inc=2, tag="v11"))
            expect("model: the session job re-created on 1.20", (h.refused, h.out_tag("sjob")), (set(), "v11-1.20.5"))
            pre = write(lambda: app_.update(version="1.20.5", present=False))
            write(lambda: app_.update(present=True, inc=2, tag="v12", p=1))
            expect("model: the app re-created on 1.20", (h.refused, h.out_tag("app")), (set(), "v12-1.20.5"))
            expect("model: the counts", dict(h.refusal_counts), {"app refused": 2, "app phases while refused": 3, "changed back with other changes": 1,
                                                                 "changed back": 1, "session refused": 1, "session phases while refused": 1,
                                                                 "refusal over otherwise": 1})
        finally:
            log = quiet
    return failed


def main():
    if "--self-test" in sys.argv:
        return self_test()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--flinklet")
    parser.add_argument("--flink-home", help="the one distribution to run (without --versions)")
    parser.add_argument("--versions", type=lambda text: [h for h in text.split(",") if h], default=None,
                        help="HOME[,HOME...]: the distributions of the Flink versions to run on; one: the manifests name its "
                             "version (the operator runs --flink-home HOME); two or more: version-change rounds too")
    parser.add_argument("--root")
    parser.add_argument("--ports", default="auto", help="FIRST-LAST, or auto: a free block no other flinklet or chaos run claims")
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--mode", default="savepoint", choices=["savepoint", "last-state"])
    parser.add_argument("--no-session", dest="session", action="store_false")
    parser.add_argument("--duration", type=float, default=0, help="stop starting rounds after this many seconds (0: no limit)")
    parser.add_argument("--downgrades", action="store_true",
                        help="version-change rounds may also move to an older listed version (Flink cannot restore a newer version's savepoint)")
    parser.add_argument("--keep", action="store_true", help="keep the root even when nothing failed")
    parser.add_argument("--plan", action="store_true", help="print the rounds the seed draws and run nothing (to choose a seed)")
    a = parser.parse_args()
    if not a.versions and not a.flink_home:
        parser.error("--flink-home or --versions is required")
    if a.plan:
        import tempfile
        with tempfile.TemporaryDirectory() as root:
            a.root, a.ports_lock = root, None
            PlanHarness(a).plan()
        return 0
    if not a.flinklet or not a.root:
        parser.error("--flinklet and --root are required")
    a.ports_lock = None
    if a.ports == "auto":
        # Runs starting at the same moment choose one at a time: the lock is held until this run's
        # operator (whose command line names its range) has started.
        import fcntl
        a.ports_lock = open("/tmp/flinklet-chaos-ports.lock", "a")
        fcntl.flock(a.ports_lock, fcntl.LOCK_EX)
        a.ports = choose_ports()
        os.makedirs(PORT_CLAIMS, exist_ok=True)
        with open(os.path.join(PORT_CLAIMS, str(os.getpid())), "w") as f:
            f.write(a.ports)

    h = Harness(a)

    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # before any thread starts: they inherit it
    threading.Thread(target=watch_stop_signals, daemon=True).start()
    started = time.time()
    aborted = None
    try:
        h.run()
        h.final()
    except KeyboardInterrupt:
        aborted = "interrupted: " + (STOP_REASON[0] if STOP_REASON else "KeyboardInterrupt")
    except Exception:  # noqa: BLE001 - a harness error must still clean up and say so
        aborted = "harness error:\n" + traceback.format_exc()
    finally:
        clean = h.kill_everything()
        if a.ports_lock is not None:
            try:  # the block is free again once every process of this run is gone
                os.unlink(os.path.join(PORT_CLAIMS, str(os.getpid())))
            except OSError:
                pass
    h.summary(time.time() - started)
    if aborted:
        print(f"run aborted: {aborted}")
    if not clean:
        print("WARNING: some processes under the root could not be killed")
    failed = bool(h.violations) or aborted is not None or not clean
    if failed or a.keep:
        print(f"root kept for inspection: {h.root}")
    else:
        import shutil
        shutil.rmtree(h.root, ignore_errors=True)
        print(f"root removed: {h.root}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
