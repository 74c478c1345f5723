#!/usr/bin/env bash
# Measures a converged `bootstrap apply` (the re-run that finds nothing to do) on a sandbox
# root with the test stand-ins, offline: median wall time and peak RSS over N runs, plus the
# first (changing) apply. Every run must succeed, and every converged run must report 0
# changes, or the script stops with the run's output. Usage:
# benches/converged-apply.sh [BINARY] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/bootstrap}
runs=${2:-15}
[ -x "$bin" ] || cargo build --release -q
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$work/bin" "$root/etc" "$root/proc/sys/net/ipv4" "$root/proc/sys/kernel" \
  "$root/sys/module/overlay" "$root/sys/fs/cgroup" "$root/run/systemd/system" "$root/.standin"
cp tests/standins/* "$work/bin/"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tubuntu-bionic\n' > "$root/etc/hosts"
printf 'UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n' > "$root/etc/fstab"
printf 'overlay 151552 0 - Live 0x0000000000000000\n' > "$root/proc/modules"
printf 'Filename Type Size Used Priority\n/swapfile file 1048572 0 -2\n' > "$root/proc/swaps"
echo 0 > "$root/proc/sys/net/ipv4/ip_forward"
echo 6.1.0-bench > "$root/proc/sys/kernel/osrelease"
echo "cpu memory" > "$root/sys/fs/cgroup/cgroup.controllers"
echo "swapfile.swap loaded active active /swapfile" > "$root/.standin/swap-units"
# Debian's own package source and key (the apt-get stand-in installs containerd from it).
mkdir -p "$root/etc/apt/sources.list.d" "$root/usr/share/keyrings"
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  > "$root/etc/apt/sources.list.d/debian.sources"
echo key > "$root/usr/share/keyrings/debian-archive-keyring.gpg"
# Offline: Kubernetes packages from a local bundle (the apt and binary methods download).
bundle=$work/bundle
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
rel=release/v1.35.2/bin/linux/$arch
mkdir -p "$bundle/$rel"
for p in kubeadm kubelet kubectl; do
  # Answers its version calls as the real programs do (see tests/common/release.rs).
  cat > "$bundle/$rel/$p" <<'PROGRAM'
#!/bin/sh
case "$*" in
  "version -o short") echo "v1.35.2" ;;
  "version --client") printf 'Client Version: v1.35.2\nKustomize Version: v5.4.2\n' ;;
  "completion bash") echo "# bash completion for kubectl v1.35.2" ;;
  *) echo "Kubernetes v1.35.2" ;;
esac
PROGRAM
done
(cd "$bundle" && sha256sum "$rel"/* > SHA256SUMS)
cat > "$work/profile.toml" <<TOML
[node]
name = "master"
role = "control-plane"
address = "192.168.33.13"
[hosts]
entries = [{ address = "192.168.33.14", names = ["worker-1"] }]
remove_names = ["ubuntu-bionic"]
[kubernetes]
version = "1.35.2"
[packages]
method = "bundle"
bundle = "/bundle"
cri_tools = false
TOML
mv "$bundle" "$root/bundle"
# A non-/ root is an offline root: the agent runs programs only from the stand-in
# directory the run declares (BOOTSTRAP_TEST_PROGRAMS), never from PATH.
export BOOTSTRAP_TEST_PROGRAMS=$work/bin
export PATH="$work/bin:$PATH" SANDBOX_ROOT=$root STANDIN_LOG=$work/calls.log \
  STANDIN_FIXTURES=$PWD/tests/fixtures STANDIN_FAIL= STANDIN_KILL=

# One run: wall milliseconds (from EPOCHREALTIME) and peak RSS in KiB (from time -f %M).
# Fails loudly when the run fails, or when a converged run ($1 = converged) changed anything.
measure() {
  local start=$EPOCHREALTIME rc=0
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" --root "$root" --output json apply \
    --profile "$work/profile.toml" > "$work/out" 2>&1 || rc=$?
  local end=$EPOCHREALTIME
  if [ "$rc" != 0 ] || { [ "${1:-}" = converged ] && ! grep -q '"event":"summary".*"changes":0,' "$work/out"; }; then
    echo "FAILED: bootstrap apply exited $rc (expected 0${1:+, and 0 changes}):" >&2
    cat "$work/out" >&2
    exit 1
  fi
  echo "$(( (${end/./} - ${start/./}) / 1000 )) $(tail -1 "$work/rss")"
}
first=$(measure)
for _ in $(seq "$runs"); do measure converged; done > "$work/runs"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall=$(cut -d' ' -f1 "$work/runs" | median)
rss=$(cut -d' ' -f2 "$work/runs" | median)
max_rss=$(cut -d' ' -f2 "$work/runs" | sort -n | tail -1)
echo "binary: $bin"
echo "first apply (changes everything): ${first% *} ms wall, peak RSS ${first#* } KiB"
echo "converged apply, median of $runs:  $wall ms wall, peak RSS $rss KiB (max $max_rss KiB)"
