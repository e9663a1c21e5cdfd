#!/usr/bin/env bash
# Builds the named products the way Flinklet is shipped and prints the directory they are in:
#   hack/build-release.sh flinklet [bench-controller ...]
# Release, the Swift runtime linked statically (no ICU or Foundation shared libraries paged in at
# start), optimized for size: -Osize keeps the operator's code pages, most of its resident memory,
# ~1.5 MB smaller than -O at the same speed (hack/bench-controller.sh: scale and endpoint phases).
# SWIFT_SCRATCH_PATH names another build folder (default .build). Build output is shown only when
# the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
flags=(-c release --static-swift-stdlib -Xswiftc -Osize --scratch-path "${SWIFT_SCRATCH_PATH:-.build}")
for product in "$@"; do
    log=$(mktemp)
    if ! swift build "${flags[@]}" --product "$product" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
done
swift build "${flags[@]}" --show-bin-path
