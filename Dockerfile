# Jawlb's container image: docker build -f Dockerfile .
#
# The build stage runs the same install script as CI and a fresh developer
# machine, then builds only the jawlb binary. The runtime stage holds the binary,
# the shared libraries it links and CA certificates, and runs as non-root.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAWLB_BUILD_TESTS=OFF \
 && cmake --build /build --target jawlb \
 && strip /build/jawlb

FROM debian:bookworm-slim
# The Debian runtime packages of the -dev packages jawlb links (gRPC brings
# protobuf, Abseil, c-ares, re2 and OpenSSL along).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libcurl4 libsimdjson14 libyaml-cpp0.7 libspdlog1.10 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/jawlb /usr/local/bin/jawlb
USER 65532:65532
# 8000: grpclb (and gRPC health, reflection); 8081: admin HTTP.
EXPOSE 8000 8081
ENTRYPOINT ["/usr/local/bin/jawlb"]
