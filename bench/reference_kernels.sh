#!/usr/bin/env bash
# The reference kernels of a backend against PyTorch eager on this machine, with roofline
# fractions: every tests/kernels/<suite>__<task>/{naive,fast}.<ext> evaluated with default
# timing settings, one at a time. Prints one row per kernel and, per task, fast over naive.
# Usage: bench/reference_kernels.sh [backend] [threads]      (default: opencl 1)
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-opencl}
threads=${2:-1}
bin=build/release/src/evokernel
[ -x "$bin" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
case $backend in cpu) ext=cpp ;; opencl) ext=cl ;; *) echo "unknown backend $backend (cpu, opencl)" >&2; exit 2 ;; esac
echo "# evokernel reference kernels, backend $backend, $threads thread(s) ($(date -u +%Y-%m-%dT%H:%MZ))"
$bin version --json | jq -r '"# commit \(.commit), \(.build_type) build, \(.cpu), \(.logical_cores) logical cores"'
$bin machine --backend "$backend" --threads "$threads" --json |
  jq -r '"# device peaks: \(.flops_per_s / 1e9 | floor) GFLOP/s, read bandwidth \(.read_bandwidth[-1].bytes_per_s / 1e9 | floor) GB/s at \(.read_bandwidth[-1].bytes / 1048576 | floor) MiB (\(.device // "cpu"))"'
printf "%-40s %-6s %-9s %10s %10s %8s %9s %9s\n" task kernel result kernel_ms torch_ms speedup roofline torch_roof
for dir in tests/kernels/*__*/; do
  d=$(basename "$dir")
  task="${d%%__*}/${d#*__}"
  for k in naive fast; do
    f="$dir$k.$ext"
    [ -f "$f" ] || continue
    j=$($bin eval --backend "$backend" --threads "$threads" --task "$task" --kernel "$f" --json 2>/dev/null || true)
    echo "$j" | jq -r --arg t "$task" --arg k "$k" '
      def f(x; n): if x == null then "-" else (x * pow(10; n) | round / pow(10; n) | tostring) end;
      [$t, $k, (if .feasible then "feasible" else "\(.failed_stage)/\(.failure)" end),
       f(.median_ms; 3), f(.baseline_median_ms; 3), f(.speedup_vs_baseline; 3),
       f(.roofline.fraction; 3), f(.roofline.baseline_fraction; 3)] | @tsv' |
      awk -F'\t' '{printf "%-40s %-6s %-9s %10s %10s %8s %9s %9s\n", $1, $2, $3, $4, $5, $6, $7, $8}'
  done
done
