#!/usr/bin/env bash
# Installs what is missing, builds, and runs the local demo: the test Kubernetes
# API server, three echo backends with an EndpointSlice each, jawlb watching
# them, dnsmasq with the _grpclb._tcp SRV record, and a client using gRPC's own
# grpclb policy; kubectl changes the slices and the client's spread is printed.
# --live keeps it running so you can change the service with kubectl yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target jawlb jawlb-demo
exec ./build/jawlb-demo "$@"
