# syntax=docker/dockerfile:1
# Multi-stage build of the `alpr` binary: a Debian builder with the packages that .ci/run
# installs, and a slim Debian runtime that runs alpr as a non-root user.
#   docker build -t alpr:dev .
# The first build compiles librdkafka and RocksDB from source, which takes a while.

FROM rust:1-bookworm AS builder
# The same build packages as .ci/run: rdkafka's cmake build of librdkafka and the bindgen step
# of the rocksdb crate need them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libclang-dev clang cmake pkg-config libssl-dev libsasl2-dev \
        libcurl4-openssl-dev zlib1g-dev libzstd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the compiled C and C++ dependencies between builds; the
# binary is copied out of the cached target folder, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p alpr \
    && install -D target/release/alpr /out/alpr

FROM debian:bookworm-slim AS runtime
# The binary links zlib, OpenSSL (librdkafka's TLS) and the C++ runtime dynamically; librdkafka
# and RocksDB are linked in. ca-certificates lets librdkafka verify brokers against the system
# store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 alpr \
    && useradd --system --uid 10001 --gid alpr --home-dir /var/lib/alpr --shell /usr/sbin/nologin alpr \
    && install -d -o alpr -g alpr /var/lib/alpr
COPY --from=builder /out/alpr /usr/local/bin/alpr
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/alpr
# 8080: ingest's reads API; 9464: the admin server (/metrics, /healthz, /readyz).
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/alpr"]
CMD ["--help"]
