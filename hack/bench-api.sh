#!/usr/bin/env bash
# The Kubernetes API benchmark (issue 15), printing each number beside its target: against 1,000
# resources, `kubectl get flinkdep -A` against `flinklet get -A` (wall time), list p50/p99 over
# the API, a manifest edit until a watcher sees it (target p99 ≤ 50 ms), and the operator's
# memory with 20 open watches (target ≤ 50 MB). RESOURCES, LISTS, EDITS override the sizes.
# BENCH_CHRT=PRIO runs the benchmark and the operator it starts under SCHED_FIFO at PRIO (root),
# so a busy machine's other jobs cannot preempt them: the latencies are then the operator's own.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

bin="$(bash hack/build-release.sh flinklet)"
${BENCH_CHRT:+chrt -f "$BENCH_CHRT"} .python/bin/python hack/bench-api.py "$bin/flinklet" "${RESOURCES:-1000}" "${LISTS:-200}" "${EDITS:-100}"
