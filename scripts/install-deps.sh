#!/usr/bin/env bash
# Installs every Debian package Jawlb needs to build, test and run its demo,
# then the npm packages of the xDS test clients (grpc-js and grpc-js-xds, into
# tests/xds/node, as pinned by its package-lock.json).
# Idempotent: safe to run again; apt-get skips what is already installed.
set -euo pipefail

packages=(
  # Toolchain.
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev clang-tidy-14 clang-format-14
  # Libraries.
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libfmt-dev libc-ares-dev libssl-dev zlib1g-dev libre2-dev
  libcurl4-openssl-dev libsimdjson-dev libyaml-cpp-dev libnghttp2-dev
  # Tests.
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  dnsmasq-base nghttp2-client
  # The Prometheus text-format parser that judges /metrics.
  python3 python3-prometheus-client
  golang-go golang-google-grpc-dev golang-goprotobuf-dev
)

# kubectl judges the test API server. The machine image ships one; where it does
# not, Debian's kubernetes-client provides it.
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi
# Node runs the grpc-js xDS client in the tests. An image may ship its own
# Node (npm included); else Debian's nodejs and npm.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

# The xDS test clients, from the npm registry, once per change of the lock.
install_node_clients() {
  local dir=tests/xds/node
  cd "$(dirname "$0")/.." || return 1
  if [ -f "$dir/node_modules/.package-lock.json" ] &&
    [ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: xDS test clients present"
    return 0
  fi
  echo "install-deps: installing the xDS test clients (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_node_clients
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
install_node_clients
