#!/usr/bin/env bash
# Prints the path of Debian 12's real containerd binary for the real-binary tests
# (tests/containerd_real.rs): the package is downloaded with `apt-get download` and unpacked
# (not installed) once, under target/real-containerd.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$PWD/target/real-containerd
bin=$dir/x/usr/bin/containerd
if [ ! -x "$bin" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && apt-get download -qq containerd 2>/dev/null && dpkg-deb -x containerd_*.deb x) >&2
fi
"$bin" --version >&2
echo "$bin"
