#!/usr/bin/env bash
# The sanitizer job (CI runs it after scripts/test.sh): builds the asan preset (clang,
# AddressSanitizer + UBSan with UBSan fatal, libFuzzer targets) with only the unit tests and
# the fuzz targets, runs the unit tests and every fuzz target's seed corpus under ctest, then
# fuzzes each target for a short while (scripts/fuzz.sh). See docs/fuzzing.md.
#
# Usage: scripts/test-sanitizers.sh [SECONDS_PER_TARGET]     (default 25; 0 skips fuzzing)
# Environment: EVOKERNEL_BUILD_JOBS (parallel compile jobs, default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-25}"
jobs="${EVOKERNEL_BUILD_JOBS:-$(nproc)}"

cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs" --target evokernel_unit_tests evokernel_fuzzers

# Unit tests that cannot run under the sanitizers, as ctest -E regexes, each with its reason
# (none today; integration tests are not run here at all, see docs/fuzzing.md):
excluded=(
)
exclude_args=()
if [ "${#excluded[@]}" -gt 0 ]; then
  exclude_args=(-E "$(IFS='|'; echo "${excluded[*]}")")
fi
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
  ctest --preset asan -j 2 -L '^(unit|fuzz)$' "${exclude_args[@]}"

if [ "$seconds" != 0 ]; then
  scripts/fuzz.sh "$seconds"
fi
