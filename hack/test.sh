#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds, runs every test.
# CI runs exactly this (.ci/run). Fails on any compiler warning in Flinklet's own code.
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "==> swift build --build-tests" >&2
swift build --build-tests 2>&1 | tee "$log" | grep -E 'error|warning|Compiling|Build' >&2 || true
if [ "${PIPESTATUS[0]}" -ne 0 ]; then echo "==> build FAILED" >&2; exit 1; fi
if grep -E '^/.*(Sources|Tests)/.*: warning:' "$log" >&2; then
    echo "==> build has warnings; Flinklet builds warning-free" >&2
    exit 1
fi

echo "==> swift test" >&2
swift test --skip-build
