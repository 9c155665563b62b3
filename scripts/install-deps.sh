#!/usr/bin/env bash
# Installs every Debian package Jawlb needs to build, test and run its demo.
# Idempotent: safe to run again; apt-get skips what is already installed.
set -euo pipefail

packages=(
  # Toolchain.
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev clang-tidy-14 clang-format-14
  # Libraries.
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libfmt-dev libc-ares-dev libssl-dev zlib1g-dev libre2-dev
  libcurl4-openssl-dev libsimdjson-dev libyaml-cpp-dev
  # Tests.
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  dnsmasq-base
  # The Prometheus text-format parser that judges /metrics.
  python3 python3-prometheus-client
  golang-go golang-google-grpc-dev golang-goprotobuf-dev
)

# kubectl judges the test API server. The machine image ships one; where it does
# not, Debian's kubernetes-client provides it.
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
