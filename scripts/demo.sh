#!/usr/bin/env bash
# Installs what is missing, builds, and runs the local demo: three echo
# backends, jawlb serving them from a file, dnsmasq with the _grpclb._tcp SRV
# record, and a client using gRPC's own grpclb policy printing where its RPCs go.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target jawlb jawlb-demo
exec ./build/jawlb-demo
