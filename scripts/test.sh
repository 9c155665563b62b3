#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test three times: a normal
# build (g++), AddressSanitizer + UndefinedBehaviorSanitizer (clang-14, thread
# safety analysis as errors), and ThreadSanitizer (clang-14); then four
# minutes of libFuzzer on what comes from outside. Any failure, sanitizer report included, fails it.
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

# ThreadSanitizer (clang-14) on jawlb's own code: Debian's libraries are not
# instrumented, so tools/tsan/absl_sync_annotations.cc makes Abseil's Mutex
# visible and tools/tsan/suppressions.txt names, narrowly and with reasons,
# what remains inside gRPC, OpenSSL, protobuf and Abseil. A report fails its
# test (TSan's exit code 66, for jawlb's own processes too). ~7 minutes.
export TSAN_OPTIONS=suppressions=$PWD/tools/tsan/suppressions.txt
run_suite build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAWLB_TSAN=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14

# libFuzzer on what comes from outside (fuzz/), one target per decoder: the
# bytes a client connection sends to the HTTP/2 server, a grpclb request, an
# xDS request, an LRS report, an EndpointSlice or Endpoints object, a list and
# watch stream from the API server, a kubeconfig, a routes file, an endpoints
# file, an admin-port request; 20 s each (the connection 60 s), 4 minutes in
# all. A crash fails the run.
./scripts/fuzz.sh build-asan 20
