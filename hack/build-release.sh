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
# Linked by lld (the toolchain's) with relative relocations packed (DT_RELR, glibc 2.36+: 2.5 MB
# of .rela.dyn read by the loader at start become ~30 KB) and no dynamic symbol table for the
# program's own symbols (the static runtime's link arguments export them all: 28,000 symbols,
# 2.6 MB of .dynsym/.dynstr/.gnu.hash that the loader's symbol lookups page in; nothing looks
# them up, the program loads no plug-in that would link against it).
flags=(-c release --static-swift-stdlib -Xswiftc -Osize -Xswiftc -use-ld=lld
       -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs
       --scratch-path "${SWIFT_SCRATCH_PATH:-.build}")
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
