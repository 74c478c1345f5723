#!/usr/bin/env bash
# Measures a converged `bootstrap apply` (the re-run that finds nothing to do) on a sandbox
# root with the test stand-ins: median wall time and peak RSS over N runs, plus the first
# (changing) apply. Usage: benches/converged-apply.sh [BINARY] [RUNS]
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
cat > "$work/profile.toml" <<'TOML'
[node]
name = "master"
role = "control-plane"
address = "192.168.33.13"
[hosts]
entries = [{ address = "192.168.33.14", names = ["worker-1"] }]
remove_names = ["ubuntu-bionic"]
[kubernetes]
version = "1.35.2"
TOML
export PATH="$work/bin:$PATH" SANDBOX_ROOT=$root STANDIN_LOG=$work/calls.log \
  STANDIN_FIXTURES=$PWD/tests/fixtures STANDIN_FAIL= STANDIN_KILL=

# One run: wall milliseconds (from EPOCHREALTIME) and peak RSS in KiB (from time -f %M).
measure() {
  local start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" --root "$root" -q apply --profile "$work/profile.toml" >/dev/null
  local end=$EPOCHREALTIME
  echo "$(( (${end/./} - ${start/./}) / 1000 )) $(cat "$work/rss")"
}
first=$(measure)
for _ in $(seq "$runs"); do measure; done > "$work/runs"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall=$(cut -d' ' -f1 "$work/runs" | median)
rss=$(cut -d' ' -f2 "$work/runs" | median)
max_rss=$(cut -d' ' -f2 "$work/runs" | sort -n | tail -1)
echo "binary: $bin"
echo "first apply (changes everything): ${first% *} ms wall, peak RSS ${first#* } KiB"
echo "converged apply, median of $runs:  $wall ms wall, peak RSS $rss KiB (max $max_rss KiB)"
