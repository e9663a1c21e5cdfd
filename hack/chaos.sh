#!/usr/bin/env bash
# Chaos test of the operator with real Flink (2.3, or CHAOS_VERSIONS): hack/chaos.sh [ROUNDS] [SEED]
#
# Runs `flinklet run` (debug build) on a fresh root (/tmp/flinklet-chaos-XXXXXX: manifests/,
# state/, output/, operator.log) with an application deployment of the counter job and a session
# cluster with a FlinkSessionJob, and for ROUNDS (default 25) rounds applies a seeded random
# lifecycle change while killing the operator (SIGKILL), JVMs (kill -9) or everything at once
# ("power loss"); after each round it checks the invariants by Flink's REST API, /proc and the
# job's own output. hack/chaos.py holds the logic and documents the invariants and bounds.
# `hack/chaos.sh 3 1` is the seeded CI smoke (a few minutes).
#
# Prints rounds, injections by kind, convergence, every violation with its evidence, and
# convergence time p50/max; exits 1 on any violation and keeps the root for inspection (KEEP=1
# keeps it always). Leaves no process behind: on any exit the operator and every process whose
# command line names the root are killed.
# Knobs (environment): SEED (if no 2nd argument; default: random, printed), CHAOS_PORTS
# (FIRST-LAST; default auto: a free 500-port block in 18000-19999, then 10000-17999, that no
# other `flinklet run` or chaos run on the machine claims: below the kernel's ephemeral range and
# away from the tests' and benchmarks' 20000-32767), CHAOS_DURATION (seconds after which no new round starts; 0 = none), CHAOS_SESSION=0
# (no session cluster), CHAOS_MODE (savepoint | last-state: the first upgradeMode), FLINK_HOME
# (a distribution that has usrlib/flinklet-counter-job.jar; default: hack/install-flink.sh),
# SWIFT_SCRATCH_PATH (.build).
# CHAOS_VERSIONS="1.20 2.3" (any of hack/install-flink.sh's versions: 1.20, 2.0 ... 2.3; FLINK_HOME
# is then not used): the Flink versions to run, each .flink/flink-<release>/ (hack/install-flink.sh
# installs a missing one; hack/build-counter-job.sh runs only if one lacks the counter job). The
# manifests name the first; the jobs' tags are vN-%v, so each output line says which Flink wrote
# it, and the checks add: the Flink that answers (REST /config) and the latest output are the
# version the manifests name, and a Flink version (or job version) that was replaced never writes
# again. One version: the operator runs `--flink-home` that one. Two or more: it runs without
# --flink-home, finding exactly the listed ones (links in <root>/operator/.flink/, its working
# directory, $FLINK_HOME unset), and a random round may change flinkVersion: of the app (a
# savepoint upgrade, sometimes with a new tag), of the session cluster (its session job moves by
# itself through a savepoint) or of both at once, to a newer listed version (Flink does not
# restore a newer version's savepoint); when neither can move up, one is deleted and re-created
# on the oldest. CHAOS_DOWNGRADES=1 draws older versions too and checks the operator's refusal:
# the resource is Stalled (FlinkVersionDowngrade) while its job runs on, on the newer version,
# with no JobManager or job started for it (unless a fault killed them: then recovered there),
# until a manifest names that version again (`python3 hack/chaos.py --plan --versions H1,H2
# --downgrades --rounds N --seed S` lists what a seed draws). Unset: Flink 2.3 as always, tags vN.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-25}
SEED=${2:-${SEED:-$((RANDOM * 32768 + RANDOM))}}
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

if [ -n "${CHAOS_VERSIONS:-}" ]; then
    # shellcheck disable=SC2086
    homes=$(bash hack/install-flink.sh $CHAOS_VERSIONS)
    for home in $homes; do
        [ -f "$home/usrlib/flinklet-counter-job.jar" ] || { bash hack/build-counter-job.sh >/dev/null; break; }
    done
    for home in $homes; do
        [ -f "$home/usrlib/flinklet-counter-job.jar" ] || {
            echo "error: no counter job in $home/usrlib (run hack/build-counter-job.sh)" >&2; exit 2; }
    done
    unset FLINK_HOME
    flink_args=(--versions "$(echo $homes | tr ' ' ,)")
    flink_text="Flink ${CHAOS_VERSIONS}"
else
    if [ -z "${FLINK_HOME:-}" ]; then
        FLINK_HOME=$(bash hack/install-flink.sh)
        bash hack/build-counter-job.sh >/dev/null
    fi
    [ -f "$FLINK_HOME/usrlib/flinklet-counter-job.jar" ] || {
        echo "error: no counter job in $FLINK_HOME/usrlib (run hack/build-counter-job.sh)" >&2; exit 2; }
    export FLINK_HOME
    flink_args=(--flink-home "$FLINK_HOME")
    flink_text="FLINK_HOME $FLINK_HOME"
fi

scratch_path=${SWIFT_SCRATCH_PATH:-.build}
swift build --scratch-path "$scratch_path" --product flinklet >/dev/null 2>&1 \
    || swift build --scratch-path "$scratch_path" --product flinklet
FLINKLET="$(swift build --scratch-path "$scratch_path" --show-bin-path)/flinklet"

python3 hack/chaos.py --self-test >/dev/null || { python3 hack/chaos.py --self-test; echo "error: the harness' own checks fail" >&2; exit 2; }
ROOT=$(mktemp -d /tmp/flinklet-chaos-XXXXXX)
args=(--rounds "$ROUNDS" --seed "$SEED" --flinklet "$FLINKLET" "${flink_args[@]}" --root "$ROOT"
      --ports "${CHAOS_PORTS:-auto}" --duration "${CHAOS_DURATION:-0}" --mode "${CHAOS_MODE:-savepoint}")
[ "${CHAOS_SESSION:-1}" = 0 ] && args+=(--no-session)
[ "${KEEP:-0}" = 1 ] && args+=(--keep)
[ "${CHAOS_DOWNGRADES:-0}" = 1 ] && args+=(--downgrades)
echo "chaos: $ROUNDS rounds, seed $SEED, flinklet $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+changes'), root $ROOT, $flink_text, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec python3 hack/chaos.py "${args[@]}"
