#!/usr/bin/env bash
# Does a slow savepoint hold anything else up? (issue: the level-based executor)
#   8 application deployments upgrade at once while their savepoints stay in progress 30 s (a
#   fake Flink REST API, in-memory pods, the real operator loop); meanwhile an unrelated session
#   cluster is created and deleted 60 times.
#   targets: its create and delete reconciled with p99 ≤ 50 ms; the longest reconcile ≤ 100 ms.
# Arguments go to the benchmark: --upgrading N --hold SECONDS --probes N --workers N.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

"$(bash hack/build-release.sh bench-reconcile)/bench-reconcile" "$@"
