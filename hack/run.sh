#!/usr/bin/env bash
# The main job from a fresh clone: installs what is missing, builds flinklet, and runs it on
# manifests/. Until the operator lands (issue: the controller), this validates manifests/ exactly
# as the operator will read them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

echo "==> swift build -c release" >&2
swift build -c release --product flinklet 2>&1 | grep -v '^\[' >&2 || true
swift build -c release --product flinklet >/dev/null

exec "$(swift build -c release --show-bin-path)/flinklet" validate -f manifests/ -R "$@"
