#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job: evaluate a shipped kernel against its PyTorch
# reference (compile -> correctness -> timing vs PyTorch eager).
# Usage: scripts/demo.sh [task-id] [kernel.cpp]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target evokernel evokernel-runner
task=${1:-level1/01_square_matmul}
kernel=${2:-tests/kernels/level1__01_square_matmul/fast.cpp}
echo "== evokernel eval --task $task --kernel $kernel"
build/release/src/evokernel eval --task "$task" --kernel "$kernel"
echo
echo "== next: the agent needs an LLM endpoint (none is configured by this script):"
echo "   EVOKERNEL_BASE_URL=http://localhost:8000/v1 EVOKERNEL_MODEL=<model> build/release/src/evokernel llm ping"
echo "   ... build/release/src/evokernel evolve --suite level1 --budget 30 -j 2   (docs/agent.md)"
