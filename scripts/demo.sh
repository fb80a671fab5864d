#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job: `evokernel evolve` drafts and refines kernels
# for a level1 + level2 subset, showing progress per task (stage, best latency, speedup over
# PyTorch eager), and ends with the run's HTML report.
#
# With a model endpoint configured (EVOKERNEL_BASE_URL and EVOKERNEL_MODEL, or
# EVOKERNEL_CONFIG; docs/providers.md) the model writes the kernels; without one, evokernel's
# built-in generator does (kernel recipes, no model), and says so.
#
# Usage: scripts/demo.sh                       the evolve demo (about 5 minutes on 2 cores)
#        scripts/demo.sh TASK KERNEL.cpp       evaluate one kernel against its task instead
# Environment: DEMO_BUDGET (iterations per task, default 4), EVOKERNEL_RUNS_DIR (default ./runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target evokernel evokernel-runner
B=build/release/src/evokernel

if [ $# -gt 0 ]; then
  task=$1
  kernel=${2:?usage: scripts/demo.sh TASK KERNEL.cpp}
  echo "== evokernel eval --task $task --kernel $kernel"
  exec "$B" eval --task "$task" --kernel "$kernel"
fi

runs=${EVOKERNEL_RUNS_DIR:-runs}
tasks=(level1/19_swish level1/23_softplus level1/17_softmax level1/27_layernorm
       level2/17_gemm_sigmoid_sum level2/21_gemm_scale_hardtanh_gelu level2/28_layernorm_gelu_scale_residual)
args=()
for t in "${tasks[@]}"; do args+=(--task "$t"); done
echo "== evokernel evolve: ${#tasks[@]} tasks (level1 + level2), budget ${DEMO_BUDGET:-4} per task"
start=$(date +%s)
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
# Progress goes to the terminal (stderr); the summary (JSON) to a file, for the report.
"$B" evolve "${args[@]}" --budget "${DEMO_BUDGET:-4}" --runs-dir "$runs" --json >"$summary"
echo "== evolve took $(( $(date +%s) - start )) s"
run=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"])' "$summary")
"$B" report "$runs/$run"
"$B" report "$runs/$run" --format html -o "$runs/$run/report.html"
echo
echo "== the report: $runs/$run/report.html (one offline file: open it in a browser)"
echo "   continue this run with more iterations: $B evolve --resume $run --runs-dir $runs"
