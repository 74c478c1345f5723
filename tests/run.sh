#!/usr/bin/env bash
# The whole test suite: unit and sandbox integration tests (the real binary against a
# temporary root with stand-in programs), then the real-machine tier (a Debian 12 VM under
# qemu, started with cloud-init), which says loudly when it cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== unit and sandbox integration tests"
cargo test

if [ -x tests/vm/scenarios.sh ]; then
  echo "== real-machine tier (qemu VM)"
  # The static binary: the musl target, and a musl C compiler for ring (Debian musl-tools).
  rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
  if ! command -v musl-gcc >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends musl-tools >/dev/null
  fi
  cargo build --release --target x86_64-unknown-linux-musl
  bash tests/vm/scenarios.sh target/x86_64-unknown-linux-musl/release/bootstrap
fi
