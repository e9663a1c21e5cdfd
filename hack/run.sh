#!/usr/bin/env bash
# The main job from a fresh clone: installs what is missing (libyaml, SQLite, Java 17, Flink 1.20 and 2.3,
# the example counter job), builds flinklet, and runs the operator on manifests/ with its state in
# .flinklet/. Extra arguments go to `flinklet run` (e.g. --log-format json). Ctrl-C stops the
# operator; the clusters keep running and the next run adopts them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
# The operator runs every version installed under .flink/ (another one installed while it runs is
# picked up); the examples in manifests/ use 1.20 and 2.3. The counter job builds for each.
bash hack/install-flink.sh 1.20 2.3 >/dev/null
bash hack/build-counter-job.sh >/dev/null
# Flinklet's loopback Prometheus reporter, a plugin of the distribution (each JVM exports its metrics).
bash hack/build-metrics-plugin.sh >/dev/null

echo "==> hack/build-release.sh flinklet" >&2
bin="$(bash hack/build-release.sh flinklet)/flinklet"
"$bin" validate -f manifests/ -R
exec "$bin" run --manifests manifests/ --state-dir .flinklet "$@"
