#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal build
# (g++), then AddressSanitizer + UndefinedBehaviorSanitizer (clang-14, thread
# safety analysis as errors); then three minutes of libFuzzer on
# what comes from outside. Any failure, sanitizer report included, fails it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/check-layering.sh

run_suite() {
  local dir=$1
  shift
  echo "== $dir: configure and build"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir"
  echo "== $dir: tests"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900)
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== lint: clang-tidy on src/"
find src -name '*.cc' | sort | xargs -P2 -n4 clang-tidy-14 -p build --quiet --warnings-as-errors='*' 2>/dev/null

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp:print_suppressions=0
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DJAWLB_SANITIZE=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14

# libFuzzer on what comes from outside (fuzz/): the bytes a client
# connection sends to the HTTP/2 server, a grpclb request, an xDS request, an
# LRS report, an EndpointSlice or Endpoints object; each for a bounded time from its seeds in
# fuzz/corpus/ (new inputs go to a scratch directory, not into the
# repository). A crash fails the run and leaves its input in build-asan/ to
# become a regression seed.
fuzz() {
  local target=$1 seconds=$2
  echo "== fuzz: ${target}_fuzzer, ${seconds} s"
  local scratch status=0 corpus=$PWD/fuzz/corpus/$target
  scratch=$(mktemp -d)
  (cd build-asan && "./${target}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    "$scratch" "$corpus" >"$scratch/fuzz.log" 2>&1) || status=$?
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done|SUMMARY)' \
    "$scratch/fuzz.log" || true
  if [ "$status" -ne 0 ]; then
    tail -60 "$scratch/fuzz.log"
    exit "$status"
  fi
  rm -rf "$scratch"
}
fuzz h2_connection 60
fuzz load_balance_request 30
fuzz discovery_request 30
fuzz load_stats_request 30
fuzz endpoints_object 30
