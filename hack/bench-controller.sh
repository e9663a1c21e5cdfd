#!/usr/bin/env bash
# Controller benchmarks (issue: the controller), printing their numbers:
#   reaction: manifest saved → first pod process running, p50/p99 over 200 new manifests (target p99 ≤ 25 ms)
#   scale: 1,000 resources with one sleep pod each — cold start; operator memory (target ≤ 40 MB);
#          restart + re-adoption of all pods (target ≤ 2 s); one no-change relist (target ≤ 100 ms CPU)
#   endpoint: the same 1,000 resources: operator memory without and with the HTTP endpoint
#          (target ≤ 40 MB) and /metrics p99 over 1,000 scrapes (target ≤ 20 ms)
# ONLY=reaction|scale|endpoint runs one phase.
# Everything runs on this machine with real processes; all pods are killed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

bin="$(bash hack/build-release.sh flinklet bench-controller)"
# BENCH_CHRT=PRIO runs the benchmark and the operators it starts under SCHED_FIFO at PRIO (root),
# so a busy machine's other jobs cannot preempt them: the latencies are then the operator's own.
${BENCH_CHRT:+chrt -f "$BENCH_CHRT"} "$bin/bench-controller" --flinklet "$bin/flinklet" --edits "${EDITS:-200}" --resources "${RESOURCES:-1000}" --scrapes "${SCRAPES:-1000}" ${ONLY:+--only "$ONLY"}
