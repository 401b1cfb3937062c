#!/bin/bash
# run.sh: the libFuzzer targets of make test-fuzz, each from its checked-in
# corpus (tests/fuzz/corpus/<name> for the target fuzz_<name>: regression inputs of past findings and a
# coverage-minimized seed set), a fixed number of mutations with a fixed seed
# (reproducible), in a temporary copy so that the repository is not changed.
# A finding stops the run; its input is saved under build/fuzz/findings/.
#   tests/fuzz/run.sh [RUNS_SCALE]   (1 by default; 10 fuzzes ten times longer)
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${1:-1}
mkdir -p build/fuzz/findings
run() {
  local target=$1 runs=$2 max_len=$3
  local work
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"${target#fuzz_}"/* "$work"/
  echo "fuzz: $target, $(ls "$work" | wc -l) corpus inputs, $((runs * scale)) mutations (seed 1, max_len $max_len)"
  # allocator_may_return_null: a plan's own allocation failure is a status
  # (GNK_ERR_OUT_OF_MEMORY), which the targets accept, not an ASan abort
  if ! ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ./build/fuzz/"$target" -seed=1 -runs=$((runs * scale)) -max_len="$max_len" -rss_limit_mb=4096 \
      -max_total_time=$((120 * scale)) -print_final_stats=1 -artifact_prefix=build/fuzz/findings/"$target"- \
      "$work" > build/fuzz/"$target".log 2>&1; then
    tail -40 build/fuzz/"$target".log
    echo "fuzz: $target FAILED (log build/fuzz/$target.log, input under build/fuzz/findings/)"
    rm -rf "$work"
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^Done" build/fuzz/"$target".log | tr '\n' ' '
  echo
  rm -rf "$work"
}
run fuzz_wisdom 100000 4096
run fuzz_desc 100000 128
echo "fuzz: no findings"
