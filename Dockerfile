# syntax=docker/dockerfile:1
#
# The gastown-operator image: a static (musl) release binary on distroless "static",
# running as the image's non-root user 65532, with no shell and no package manager.
#
#   docker build -t ghcr.io/gastown/gastown-operator:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t … --push .
#
# The builder compiles for the architecture it runs on, so a multi-platform buildx build
# runs one (emulated) builder per platform. No container engine runs in this project's CI:
# docs/install.md describes building and loading the image for kind and k3d.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
# musl-gcc: ring (the TLS stack's crypto) compiles C code for the musl target.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
 && cargo build --release --locked --package gastown-operator --bin gastown-operator --target "$target" \
 && install -D -m 0755 "target/$target/release/gastown-operator" /out/gastown-operator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/gastown-operator /usr/local/bin/gastown-operator
USER 65532:65532
# /metrics, /healthz and /readyz (--metrics-addr).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gastown-operator"]
CMD ["run"]
