#!/usr/bin/env bash
# Compares two jawlb builds in one run: the 10,000-stream fan-out scenarios of
# scripts/bench.sh and its multi-service scenario, each run alternately against
# the jawlb built here and against OTHER (an older build's binary), RUNS times.
# Prints one line per run; the figures are wall-clock times, so run it on a
# quiet machine and compare the two columns of the same run.
#
#   scripts/bench-compare.sh /path/to/old/jawlb     (RUNS=2 by default)
#   SCENARIOS='--protocol=xds --backends=5;--protocol=xds --backends=1000' \
#     scripts/bench-compare.sh /path/to/old/jawlb   (other fanout flags, ';' between)
set -euo pipefail
cd "$(dirname "$0")/.."
other=${1:?usage: scripts/bench-compare.sh OTHER_JAWLB_BINARY}
runs=${RUNS:-2}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target fanout jawlb kubeapi_server >/dev/null

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
run() {  # run LABEL WHICH BINARY FANOUT_ARGS...
  local label=$1 which=$2 binary=$3
  shift 3
  local r
  r=$(FANOUT_JAWLB=$binary ./build/fanout "$@" | grep '^RESULT')
  printf '%-26s %-6s p50 %6s ms  p99 %6s ms  max %6s ms  missed %s  CPU %s ms/change  KiB/stream %s  KiB/service %s\n' \
    "$label" "$which" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field max_ms "$r")" \
    "$(field missed "$r")" "$(field cpu_ms_per_change "$r")" "$(field kib_per_stream "$r")" \
    "$(field kib_per_service "$r")"
}

IFS=';' read -r -a scenarios <<<"${SCENARIOS:---backends=5;--backends=1000;--services=200}"
for i in $(seq 1 "$runs"); do
  for scenario in "${scenarios[@]}"; do
    for which in before after; do
      binary=$PWD/build/jawlb
      [ "$which" = before ] && binary=$other
      # shellcheck disable=SC2086 # a scenario is several flags
      run "$scenario" "$which" "$binary" --streams=10000 --connections=100 $scenario --rounds=10
    done
  done
done
