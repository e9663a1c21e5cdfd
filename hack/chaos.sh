#!/usr/bin/env bash
# Chaos test of the operator with real Flink 2.3: hack/chaos.sh [ROUNDS] [SEED]
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
# (18000-18999, below the kernel's ephemeral range and away from the tests' and benchmarks'
# ranges), CHAOS_DURATION (seconds after which no new round starts; 0 = none), CHAOS_SESSION=0
# (no session cluster), CHAOS_MODE (savepoint | last-state: the first upgradeMode), FLINK_HOME
# (a distribution that has usrlib/flinklet-counter-job.jar; default: hack/install-flink.sh),
# SWIFT_SCRATCH_PATH (.build).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-25}
SEED=${2:-${SEED:-$((RANDOM * 32768 + RANDOM))}}
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

if [ -z "${FLINK_HOME:-}" ]; then
    FLINK_HOME=$(bash hack/install-flink.sh)
    bash hack/build-counter-job.sh >/dev/null
fi
[ -f "$FLINK_HOME/usrlib/flinklet-counter-job.jar" ] || {
    echo "error: no counter job in $FLINK_HOME/usrlib (run hack/build-counter-job.sh)" >&2; exit 2; }
export FLINK_HOME

scratch_path=${SWIFT_SCRATCH_PATH:-.build}
swift build --scratch-path "$scratch_path" --product flinklet >/dev/null 2>&1 \
    || swift build --scratch-path "$scratch_path" --product flinklet
FLINKLET="$(swift build --scratch-path "$scratch_path" --show-bin-path)/flinklet"

python3 hack/chaos.py --self-test >/dev/null || { python3 hack/chaos.py --self-test; echo "error: the harness' own checks fail" >&2; exit 2; }
ROOT=$(mktemp -d /tmp/flinklet-chaos-XXXXXX)
args=(--rounds "$ROUNDS" --seed "$SEED" --flinklet "$FLINKLET" --flink-home "$FLINK_HOME" --root "$ROOT"
      --ports "${CHAOS_PORTS:-18000-18999}" --duration "${CHAOS_DURATION:-0}" --mode "${CHAOS_MODE:-savepoint}")
[ "${CHAOS_SESSION:-1}" = 0 ] && args+=(--no-session)
[ "${KEEP:-0}" = 1 ] && args+=(--keep)
echo "chaos: $ROUNDS rounds, seed $SEED, flinklet $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+changes'), root $ROOT, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec python3 hack/chaos.py "${args[@]}"
