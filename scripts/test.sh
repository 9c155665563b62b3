#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal build
# (g++), then AddressSanitizer + UndefinedBehaviorSanitizer (clang-14, thread
# safety analysis as errors); then a minute of libFuzzer on the HTTP/2
# server's input. Any failure, sanitizer report included, fails it.
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

# libFuzzer on the bytes a client connection sends (jawlb's HTTP/2 server),
# for a bounded time from the seeds in fuzz/corpus/ (new inputs go to a
# scratch directory, not into the repository). A crash fails the run and
# leaves its input in build-asan/ to become a regression seed.
echo "== fuzz: h2_connection_fuzzer, 60 s"
scratch=$(mktemp -d)
status=0
(cd build-asan && ./h2_connection_fuzzer -max_total_time=60 -print_final_stats=1 \
  "$scratch" ../fuzz/corpus/h2_connection >"$scratch/fuzz.log" 2>&1) || status=$?
grep -E '^(stat::|Done|SUMMARY)' "$scratch/fuzz.log" || true
if [ "$status" -ne 0 ]; then
  tail -60 "$scratch/fuzz.log"
  exit "$status"
fi
rm -rf "$scratch"
