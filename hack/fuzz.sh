#!/usr/bin/env bash
# Fuzzes the parsers of user input with libFuzzer under AddressSanitizer and LeakSanitizer.
#
#   hack/fuzz.sh TARGET SECONDS [libFuzzer flags...]   one target for SECONDS (e.g. -runs=1000000 to stop earlier)
#   hack/fuzz.sh all SECONDS [libFuzzer flags...]      every target, SECONDS each, one after the other
#   hack/fuzz.sh list                                  the targets
#
# Targets (Fuzz/flinklet-fuzz/FuzzTargets.swift): manifest (YAML parser, decoder, validator),
# jsonpath, selector, quantity, jaruri, apibody (the Kubernetes API's write bodies). Seeds: Fuzz/corpus/TARGET (committed). Inputs libFuzzer
# finds interesting accumulate in .build-fuzz/corpus/TARGET; a crash, leak or hang (an input that
# runs over 10 s) is written to .build-fuzz/findings/TARGET/ and the script exits 1. Reproduce one
# with `.build-fuzz/release/flinklet-fuzz TARGET FILE`, or under a debugger with the plain build's
# replayer: `swift run flinklet-fuzz TARGET FILE`.
#
# The build goes into its own scratch path (.build-fuzz, release with -sanitize=fuzzer,address),
# so it never disturbs .build. Fuzzers run at `nice -n 10`: they use a whole core.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

targets=(manifest jsonpath selector quantity jaruri apibody)
usage() { echo "usage: hack/fuzz.sh TARGET|all SECONDS [libFuzzer flags...]; targets: ${targets[*]}" >&2; exit 2; }

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
[ $# -ge 2 ] || usage
which=$1 seconds=$2
shift 2
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
if [ "$which" = all ]; then
    selected=("${targets[@]}")
else
    [[ " ${targets[*]} " == *" $which "* ]] || usage
    selected=("$which")
fi

# libFuzzer's runtime comes with the Swift toolchain (its clang's compiler-rt).
runtime=$(ls "$(dirname "$(readlink -f "$(command -v swiftc)")")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a 2>/dev/null | head -1)
if [ -z "$runtime" ]; then
    echo "error: this Swift toolchain has no libFuzzer runtime (lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a); use a swift.org toolchain for Linux" >&2
    exit 1
fi

scratch=.build-fuzz
echo "==> building flinklet-fuzz (-sanitize=fuzzer,address) into $scratch" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --sanitize alone instruments Swift code for ASan only (no coverage, so libFuzzer would fuzz
# blind): -Xswiftc passes both sanitizers to every Swift module; --sanitize links the runtimes.
if ! nice -n 10 swift build -c release --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product flinklet-fuzz >"$log" 2>&1; then
    # gold's notes about ASan's local symbols are noise; everything else is shown.
    grep -v "Cannot export local symbol" "$log" >&2
    exit 1
fi
binary="$scratch/release/flinklet-fuzz"

# Swift's own crash handler would stop libFuzzer from saving the input (and can hang on exit).
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"

failed=()
for target in "${selected[@]}"; do
    corpus="$scratch/corpus/$target" findings="$scratch/findings/$target"
    mkdir -p "$corpus" "$findings"
    out="$scratch/fuzz-$target.log"
    echo "==> fuzzing $target for ${seconds}s (log: $out)" >&2
    status=0
    # New inputs go to the first directory; the committed seeds are only read.
    nice -n 10 "$binary" "$target" "$corpus" "Fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/" "$@" >"$out" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
    time=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$out" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$out" | tail -1 || true)
    if [ "$status" -ne 0 ]; then
        grep -E "ERROR|SUMMARY|Fatal error|property failed|Test unit written" "$out" | head -20 >&2
        echo "==> $target: FINDING after ${execs:-?} executions (exit $status); inputs in $findings" >&2
        failed+=("$target")
    else
        echo "==> $target: ${execs:-?} executions in ${time:-$seconds}s, no crash, leak or hang ($cov)" >&2
    fi
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "==> findings in: ${failed[*]}" >&2
    exit 1
fi
