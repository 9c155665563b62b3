#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz/) of a clang sanitizer build, one after the
# other, each from its seeds in fuzz/corpus/ plus what earlier runs of this
# script found (kept in BUILD_DIR/fuzz-corpus/, never in the repository), and
# prints one line per target: executions, coverage, new inputs.
#
#   scripts/fuzz.sh BUILD_DIR [SECONDS_EACH [TARGET...]]
#
# scripts/test.sh runs it for a few minutes; the long runs in
# docs/reliability.md are `scripts/fuzz.sh build-asan 360` by hand. A crash
# stops the run, prints the log's end, and leaves the input (crash-*) in
# BUILD_DIR: add it to fuzz/corpus/TARGET/ and fix the decoder.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS_EACH [TARGET...]]}
seconds=${2:-20}
shift $(($# < 2 ? $# : 2))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(h2_connection load_balance_request discovery_request load_stats_request
    endpoints_object watch_events kubeconfig routes endpoints_file admin_request)
fi
build=$(cd "$build" && pwd)

for target in "${targets[@]}"; do
  time=$seconds
  # The connection target has the most to explore: three times as long.
  [ "$target" = h2_connection ] && [ $# -eq 0 ] && time=$((seconds * 3))
  corpus=$PWD/fuzz/corpus/$target
  found=$build/fuzz-corpus/$target
  mkdir -p "$found"
  log=$(mktemp)
  status=0
  (cd "$build" && "./${target}_fuzzer" -max_total_time="$time" -print_final_stats=1 \
    "$found" "$corpus" >"$log" 2>&1) || status=$?
  if [ "$status" -ne 0 ]; then
    echo "== fuzz: ${target}_fuzzer FAILED (exit $status)"
    tail -60 "$log"
    exit "$status"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log")
  cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 | cut -d" " -f2)
  added=$(sed -n "s/^stat::new_units_added: *//p" "$log")
  echo "== fuzz: ${target}_fuzzer, ${time} s: ${runs} inputs, ${cov} edges, ${added} new, no finding"
  rm -f "$log"
done
