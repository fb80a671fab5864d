#!/usr/bin/env bash
# Measures end-to-end `evokernel eval` time for typical tasks, split into stages:
# task load (start the PyTorch oracle, derive the contract), compile (cold: empty build cache;
# warm: cache hit), load (start the runner), correctness (3 seeded trials) and timing.
# Usage: bench/eval_breakdown.sh [runs-per-case]      (default 3; reports the median per stage)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bin=build/release/src/evokernel
[ -x "$bin" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
cases=(
  "level1/12_relu tests/kernels/level1__12_relu/naive.cpp"
  "level1/01_square_matmul tests/kernels/level1__01_square_matmul/fast.cpp"
  "level1/48_conv2d_square tests/kernels/level1__48_conv2d_square/naive.cpp"
  "level1/17_softmax tests/kernels/level1__17_softmax/fast.cpp"
)
echo "# evokernel eval time breakdown ($(date -u +%Y-%m-%dT%H:%MZ))"
$bin version --json | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print("# commit %s, %s build, %s, %d logical cores" % (j["commit"], j["build_type"], j["cpu"], j["logical_cores"]))'
[ "$($bin version --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["build_type"])')" = "Release" ] || echo "WARNING: not a Release build; figures are not representative"
echo "# median of $runs runs per case, seconds; 1 thread; default timing settings"
printf "%-26s %-5s %9s %8s %6s %11s %7s %7s\n" task cache task_load compile load correctness timing total
for c in "${cases[@]}"; do
  set -- $c
  for mode in cold warm; do
    outs=()
    for ((i = 0; i < runs; i++)); do
      cache=$(mktemp -d)
      if [ $mode = warm ]; then EVOKERNEL_CACHE_DIR=$cache $bin eval --task "$1" --kernel "$2" --no-timing -q >/dev/null || true; fi
      outs+=("$(EVOKERNEL_CACHE_DIR=$cache $bin eval --task "$1" --kernel "$2" --json -q || true)")
      rm -rf "$cache"
    done
    printf '%s\n' "${outs[@]}" | /usr/bin/python3 -c '
import json, sys, statistics
dec = json.JSONDecoder(); text = sys.stdin.read(); rows = []; i = 0
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    obj, i = dec.raw_decode(text, i); rows.append(obj["stage_seconds"])
med = lambda k: statistics.median(r.get(k, 0.0) for r in rows)
print("%-26s %-5s %9.2f %8.2f %6.2f %11.2f %7.2f %7.2f" % (sys.argv[1], sys.argv[2], med("task_load"), med("compile"), med("load"), med("correctness"), med("timing"), med("total")))
' "$1" "$mode"
  done
done
