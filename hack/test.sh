#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds, runs every test.
# CI runs exactly this (.ci/run). Fails on any compiler warning in Flinklet's own code.
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
# Java, Flink 1.20, 2.2 and 2.3 side by side and the counter job for each, for the end-to-end
# suites (each step only if missing, about 22 s and 510 MB per version cold; VersionTests runs 1.20
# and upgrades it to 2.3, and a 2.2 session cluster that moves to 2.3).
bash hack/install-flink.sh 1.20 2.2 2.3 >/dev/null
bash hack/build-counter-job.sh >/dev/null
# Flinklet's loopback Prometheus reporter, a plugin of the distribution (each JVM exports its metrics).
bash hack/build-metrics-plugin.sh >/dev/null
# A real Prometheus, for the end-to-end scenario that scrapes the operator and Flink.
bash hack/prometheus.sh install

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "==> swift build --build-tests" >&2
status=0
swift build --build-tests >"$log" 2>&1 || status=$?
grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Wrapping|Planning|Applying)' "$log" >&2 || true
if [ "$status" -ne 0 ]; then
    echo "==> build FAILED (exit $status)" >&2
    exit 1
fi
if grep -qE '^/.*/(Sources|Tests|Benchmarks|Fuzz)/.*: warning:' "$log"; then
    echo "==> build has warnings; Flinklet builds warning-free" >&2
    exit 1
fi

# Suites that run real processes, wait on inotify or time out sockets measure time in their
# assertions; they run in a phase of their own so CPU-heavy unit suites (fuzzing, CLI
# subprocesses) cannot starve them on a 2-core machine.
process_suites='LocalProcessDriverTests|AdoptionTests|PodMarkerTests|OperatorTests|DirectorySourceTests|FlinkClientTests|ArtifactsTests|WorkQueueTests'
# Suites that run the flinklet binary (and kubectl, Python) as child processes from synchronous
# tests: each holds a thread of Swift's cooperative pool (two on two cores) for as long as its
# children run. Three of them beside the suites above took both threads for seconds and starved
# the driver's real-clock timers (fresh clone: crashLoopRestartsWithARealClock saw 1 restart of
# 3 in 3 s; every running suite finished at the same moment once a thread came free), so they
# get a phase of their own.
binary_suites='RunCommandTests|KubectlTests|FullDiskTests'
# Real Flink clusters (~650 MB and a core each while starting): last, one scenario at a time.
e2e_suites='EndToEndTests'

echo "==> swift test: unit suites, in parallel" >&2
swift test --skip-build --skip "$process_suites|$binary_suites|$e2e_suites"

echo "==> swift test: real processes and inotify" >&2
swift test --skip-build --filter "$process_suites"

echo "==> swift test: the flinklet binary, kubectl and the Python client as child processes" >&2
swift test --skip-build --filter "$binary_suites"

# libFuzzer with ASan and LSan on every parser of user input, 20 s each (about two minutes with
# its sanitized build in .build-fuzz); long campaigns: hack/fuzz.sh TARGET SECONDS.
echo "==> fuzz smoke: hack/fuzz.sh all ${FUZZ_SECONDS:-20}" >&2
bash hack/fuzz.sh all "${FUZZ_SECONDS:-20}"

# A short seeded chaos run (operator SIGKILLs, JVM kills, power losses around lifecycle
# changes, checked by Flink's REST API and the job's output); long campaigns: hack/chaos.sh.
echo "==> chaos smoke: hack/chaos.sh ${CHAOS_ROUNDS:-3} ${CHAOS_SEED:-1}" >&2
bash hack/chaos.sh "${CHAOS_ROUNDS:-3}" "${CHAOS_SEED:-1}"

echo "==> swift test: end to end, real Flink" >&2
FLINKLET_E2E=1 swift test --skip-build --no-parallel --filter "$e2e_suites"

