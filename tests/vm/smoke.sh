#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# End-to-end proof of the VM harness (no bootstrap binary needed).
#
#   smoke.sh [plain] [cloud-init] [reboot]      (default: all three)
#
#   plain       boot, run node-prep checks as root: kernel, swaps, system
#               state, cgroup v2, br_netfilter + bridge sysctl, containerd
#               (binary, service, ctr reaching it), make + swapon a swap
#               file, run a static binary copied in through the share.
#   cloud-init  boot with a NoCloud seed whose write_files writes a file and
#               whose runcmd runs the static binary from the share; check
#               cloud-init status done, the file, and the runcmd output.
#   reboot      boot 1 on a kept overlay writes a marker and adds a swap file
#               to /etc/fstab; boot 2 of the SAME overlay checks the marker,
#               the machine-id and product_uuid, and that the swap came up
#               from fstab.
#
# The static binary is a tiny Rust program built for x86_64-unknown-linux-musl
# (gcc -static as a fallback) and placed in the share as "bootstrap", the
# way the real bootstrap binary will be. Ends with "N passed, N failed".
# BOOTSTRAP_VM_KEEP=1 keeps the work dir (shares, serial logs) for debugging.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(plain cloud-init reboot)
for t in "${tests[@]}"; do
    case $t in plain|cloud-init|reboot) ;; *) vm_die "unknown test $t (plain, cloud-init, reboot)" ;; esac
done

work="$(mktemp -d "${TMPDIR:-/tmp}/bootstrap-vm-smoke.XXXXXX")"
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    if [[ ${BOOTSTRAP_VM_KEEP:-0} == 1 ]]; then
        vm_log "keeping $work"
    else
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT

vm_ensure_host_deps
t0="$(vm_now)"
image_dir="$(vm_image_dir)"
vm_log "base image: $image_dir (ready after $(vm_elapsed "$t0") s)"

# --- a static binary to carry in through the share ---------------------------
make_static_binary() {
    local out=$1 src="$work/hello"
    mkdir -p "$src"
    cat >"$src/hello.rs" <<'EOF'
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let name = os.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap_or("?");
    println!("static-hello ok: args={:?} os={}", args, name.trim_matches('"'));
}
EOF
    if command -v rustc >/dev/null 2>&1 \
        && rustc --edition 2021 -O --target x86_64-unknown-linux-musl \
            -C target-feature=+crt-static -o "$out" "$src/hello.rs" 2>"$src/rustc.log"; then
        vm_log "static binary: Rust, x86_64-unknown-linux-musl"
        return 0
    fi
    cat >"$src/hello.c" <<'EOF'
#include <stdio.h>
int main(int argc, char **argv) {
    printf("static-hello ok: args=[");
    for (int i = 1; i < argc; i++) printf("%s\"%s\"", i > 1 ? ", " : "", argv[i]);
    printf("] os=(C fallback)\n");
    return 0;
}
EOF
    gcc -static -O2 -o "$out" "$src/hello.c" || vm_die "could not build a static test binary"
    vm_log "static binary: C, gcc -static (musl Rust target unavailable)"
}
make_static_binary "$work/bootstrap"

passed=0 failed=0
timings=()
# run_case NAME SHARE [run-vm.sh args...]: boot, then record wall time.
run_case() {
    local name=$1 share=$2 start rc=0
    shift 2
    start="$(vm_now)"
    "$VM_DIR/run-vm.sh" --share "$share" --quiet "$@" || rc=$?
    timings+=("$name: $(vm_elapsed "$start") s (run-vm.sh wall time, rc $rc)")
    if [[ $rc -ne 0 && -f $share/out.log ]]; then
        vm_log "guest output of $name:"
        sed 's/^/  > /' "$share/out.log" >&2
    fi
    return "$rc"
}
# verdict NAME STATUS
verdict() {
    if [[ $2 -eq 0 ]]; then
        passed=$((passed + 1)); vm_log "PASS $1"
    else
        failed=$((failed + 1)); vm_log "FAIL $1"
    fi
}
new_share() {
    local d="$work/share-$1"
    mkdir -p "$d"
    cp "$work/bootstrap" "$d/bootstrap"
    printf '%s\n' "$d"
}

# --- plain ----------------------------------------------------------------------
test_plain() {
    local share
    share="$(new_share plain)"
    cat >"$share/run.sh" <<'EOF'
set -euo pipefail
echo "== kernel";      uname -r
echo "== swaps";       cat /proc/swaps
echo "== state";       systemctl is-system-running || true
echo "== failed";      systemctl --failed --no-legend --plain
echo "== cgroup";      stat -fc %T /sys/fs/cgroup
echo "== bridge";      modprobe br_netfilter && sysctl net.bridge.bridge-nf-call-iptables
echo "== containerd";  containerd --version
echo "== active";      systemctl is-active containerd
echo "== ctr";         ctr version | sed -n '/Server/,$p' | grep -m1 Version
echo "== swapfile"
dd if=/dev/zero of=/swapfile bs=1M count=128 status=none
chmod 600 /swapfile
mkswap /swapfile >/dev/null
swapon /swapfile
cat /proc/swaps
echo "== static binary"
/mnt/share/bootstrap from-share
echo "== route";       ip route show default
echo "== done"
EOF
    run_case plain "$share" || true
    local f=$share/out.log st=0
    [[ -f $f ]] || { verdict plain 1; return; }
    vm_expect "$f" '^6\.1\.[0-9]+-[0-9]+-amd64$' "kernel 6.1 (uname -r)" || st=1
    vm_expect "$f" '^running$' "systemctl is-system-running: running" || st=1
    vm_expect "$f" '^cgroup2fs$' "cgroup v2" || st=1
    vm_expect "$f" '^net\.bridge\.bridge-nf-call-iptables = 1$' "br_netfilter + bridge sysctl" || st=1
    vm_expect "$f" '^containerd .* 1\.6\.' "containerd --version" || st=1
    vm_expect "$f" '^active$' "containerd service active" || st=1
    vm_expect "$f" 'Version: +1\.6\.' "ctr reaches containerd" || st=1
    vm_expect "$f" '^/swapfile[[:space:]]+file[[:space:]]+131068[[:space:]]' "swap file swapon'd" || st=1
    vm_expect "$f" '^static-hello ok: args=\["from-share"\]' "static binary from the share runs" || st=1
    vm_expect "$f" '^default via 10\.0\.2\.2 ' "default route" || st=1
    vm_expect "$f" '^== done$' "run.sh ran to the end" || st=1
    [[ $(<"$share/rc") == 0 ]] || st=1
    verdict plain "$st"
}

# --- cloud-init -----------------------------------------------------------------
test_cloud_init() {
    local share
    share="$(new_share cloud-init)"
    cat >"$work/user-data" <<'EOF'
#cloud-config
write_files:
  - path: /etc/bootstrap-smoke/written-by-cloud-init
    permissions: '0644'
    content: |
      hello from write_files
runcmd:
  - [sh, -c, '/mnt/share/bootstrap from-runcmd > /var/tmp/runcmd.out 2>&1']
EOF
    cat >"$share/run.sh" <<'EOF'
set -euo pipefail
echo "== status";   cloud-init status --long || true
echo "== file";     cat /etc/bootstrap-smoke/written-by-cloud-init
echo "== runcmd";   cat /var/tmp/runcmd.out
echo "== state";    systemctl is-system-running || true
echo "== hostname"; hostname
echo "== done"
EOF
    run_case cloud-init "$share" --user-data "$work/user-data" --hostname smoke-ci || true
    local f=$share/out.log st=0
    [[ -f $f ]] || { verdict cloud-init 1; return; }
    vm_expect "$f" '^status: done$' "cloud-init status: done" || st=1
    vm_expect "$f" '^hello from write_files$' "write_files wrote the file" || st=1
    vm_expect "$f" '^static-hello ok: args=\["from-runcmd"\]' "runcmd ran the static binary" || st=1
    vm_expect "$f" '^running$' "systemctl is-system-running: running" || st=1
    vm_expect "$f" '^smoke-ci$' "hostname from --hostname" || st=1
    vm_expect "$f" '^== done$' "run.sh ran to the end" || st=1
    [[ $(<"$share/rc") == 0 ]] || st=1
    verdict cloud-init "$st"
}

# --- reboot: two boots of the same overlay ---------------------------------------
test_reboot() {
    local share disk="$work/reboot/node.qcow2" st=0
    share="$(new_share reboot)"
    cat >"$share/run.sh" <<'EOF'
set -euo pipefail
mkdir -p /var/lib/bootstrap-smoke
date -u +%s >/var/lib/bootstrap-smoke/boot1
cat /etc/machine-id >/mnt/share/boot1-machine-id
cat /sys/class/dmi/id/product_uuid >/mnt/share/boot1-product-uuid
dd if=/dev/zero of=/swapfile bs=1M count=64 status=none
chmod 600 /swapfile
mkswap /swapfile >/dev/null
echo '/swapfile none swap sw,nofail 0 0' >>/etc/fstab
echo "boot 1 done"
EOF
    run_case reboot-boot1 "$share" --disk "$disk" || st=1
    cat >"$share/run.sh" <<'EOF'
set -euo pipefail
test -f /var/lib/bootstrap-smoke/boot1 && echo "marker from boot 1 survived"
[[ $(cat /etc/machine-id) == $(cat /mnt/share/boot1-machine-id) ]] && echo "machine-id stable"
[[ $(cat /sys/class/dmi/id/product_uuid) == $(cat /mnt/share/boot1-product-uuid) ]] && echo "product_uuid stable"
grep -q '^/swapfile ' /proc/swaps && echo "swap from fstab active"
echo "boot 2 done"
EOF
    if [[ $st -eq 0 ]]; then
        run_case reboot-boot2 "$share" --disk "$disk" || st=1
        local f=$share/out.log
        vm_expect "$f" '^marker from boot 1 survived$' "state survived the reboot" || st=1
        vm_expect "$f" '^machine-id stable$' "machine-id stable across boots" || st=1
        vm_expect "$f" '^product_uuid stable$' "product_uuid stable across boots" || st=1
        vm_expect "$f" '^swap from fstab active$' "fstab extended by a scenario (swap)" || st=1
        vm_expect "$f" '^boot 2 done$' "boot 2 ran to the end" || st=1
    fi
    verdict reboot "$st"
}

for t in "${tests[@]}"; do
    case $t in
        plain) test_plain ;;
        cloud-init) test_cloud_init ;;
        reboot) test_reboot ;;
    esac
done

vm_log "timings:"
for line in "${timings[@]}"; do vm_log "  $line"; done
echo "smoke: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
