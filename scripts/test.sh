#!/usr/bin/env bash
# Builds the release preset and runs the whole test suite with ctest.
# Usage: scripts/test.sh [extra ctest args]   e.g. scripts/test.sh -L unit   or  -LE slow
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
# Kernels and the PyTorch baseline are pinned to one thread per test; two tests run at once.
ctest --preset release -j 2 "$@"
