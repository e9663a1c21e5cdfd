#!/usr/bin/env bash
# Benchmark: parse + decode + validate 1,000 generated manifests; prints manifests/s and peak
# memory. Target: >= 20,000 manifests/s. For scale, a baseline on the same files: parsing alone
# with PyYAML's libyaml-backed CSafeLoader (no decoding, no validation), when PyYAML is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

count=${COUNT:-1000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

bin="$(bash hack/build-release.sh bench-validate flinklet)"
"$bin/bench-validate" --count "$count" --rounds 7 --write-dir "$dir"

echo "--- end to end: flinklet validate -f DIR (process start, listing, reading, output)"
flinklet="$bin/flinklet"
best=999
for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    "$flinklet" validate -f "$dir" >/dev/null
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    best=$(echo "if ($t < $best) $t else $best" | bc -l)
done
printf 'flinklet validate -f (%d files): best of 5 %.3f s = %.0f manifests/s\n' "$count" "$best" "$(echo "$count / $best" | bc -l)"
/usr/bin/time -f 'flinklet validate peak resident memory: %M KiB' "$flinklet" validate -f "$dir" >/dev/null

if python3 -c 'import yaml; yaml.CSafeLoader' 2>/dev/null; then
    echo "--- baseline: PyYAML CSafeLoader (libyaml), parse only, same files"
    python3 - "$dir" <<'PY'
import os, sys, time, yaml
d = sys.argv[1]
texts = [open(os.path.join(d, f), 'rb').read() for f in sorted(os.listdir(d))]
best = 0
for _ in range(5):
    t = time.perf_counter()
    for b in texts:
        list(yaml.load_all(b, Loader=yaml.CSafeLoader))
    best = max(best, len(texts) / (time.perf_counter() - t))
print(f"PyYAML CSafeLoader parse only: best {best:.0f} manifests/s")
PY
fi
