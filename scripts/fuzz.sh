#!/usr/bin/env bash
# Fuzzes each libFuzzer target in tests/fuzz for a while, starting from its seed corpus
# (tests/fuzz/corpus/<target>/, never written to: new inputs go to a scratch directory).
# Needs the targets built (cmake --preset asan && cmake --build --preset asan --target
# evokernel_fuzzers; scripts/test-sanitizers.sh does both). See docs/fuzzing.md.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 25 s, every target)
# Environment: EVOKERNEL_FUZZ_BUILD (build directory, default build/asan),
#   EVOKERNEL_FUZZ_KEEP=DIR (keep the inputs found in DIR/<target>/ instead of discarding them),
#   EVOKERNEL_FUZZ_ARGS (extra libFuzzer flags, e.g. "-max_len=65536").
# A finding stops with exit status 1 and names the reproducer, kept in
# <build>/fuzz-findings/; rerun it with <build>/tests/fuzz/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-25}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(fuzz_task fuzz_extract fuzz_memory_import fuzz_config fuzz_frame fuzz_builtin fuzz_run_record)
fi
build="${EVOKERNEL_FUZZ_BUILD:-build/asan}"
findings="$build/fuzz-findings"
mkdir -p "$findings"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/evokernel-fuzz-corpus.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The targets' private directories go here too, so a run that crashed leaves nothing behind.
mkdir -p "$scratch/tmp"
export TMPDIR="$scratch/tmp"

# UBSan is fatal already (-fno-sanitize-recover); ask for its stack traces.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

status=0
printf '%-20s %8s %10s %8s %s\n' target seconds runs exec/s result
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  seeds="tests/fuzz/corpus/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is not built (cmake --build --preset asan --target evokernel_fuzzers)" >&2
    exit 2
  fi
  work="$scratch/$t"
  [ -n "${EVOKERNEL_FUZZ_KEEP:-}" ] && work="$EVOKERNEL_FUZZ_KEEP/$t"
  mkdir -p "$work"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  log="$findings/$t.log"
  # -rss_limit_mb also caps single allocations (-malloc_limit_mb defaults to it): a decoder that
  # allocates what an input claims before checking it shows up as a finding.
  # shellcheck disable=SC2086
  if "$bin" "$work" "$seeds" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$findings/$t-" ${EVOKERNEL_FUZZ_ARGS:-} >"$log" 2>&1; then
    result=ok
  else
    result="FINDING (log: $log)"
    status=1
  fi
  runs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log" | tail -1)
  time_s=$(awk '/^Done [0-9]+ runs in/ {print $5}' "$log" | tail -1)
  printf '%-20s %8s %10s %8s %s\n' "$t" "${time_s:-?}" "${runs:-?}" "${rate:-?}" "$result"
  if [ "$result" != ok ]; then
    grep -E 'ERROR: |runtime error|fuzz check failed|Test unit written|^SUMMARY' "$log" | head -20 >&2 || true
  fi
done
exit "$status"
