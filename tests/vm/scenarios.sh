#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The real-machine tier: the static bootstrap binary inside a real Debian 12 VM (qemu,
# software emulation), started by cloud-init from examples/cloud-init/user-data.yaml.
#
#   scenarios.sh BINARY
#
# Boot 1 (cloud-init, fresh disk) runs scenarios 1, 2 and 5; boot 2 (the same disk again,
# i.e. a reboot) runs scenarios 3 and 4:
#   1 first-boot   cloud-init ran `bootstrap apply`: br_netfilter and overlay loaded, the three
#                  sysctls 1, a swap file that was active before is off and its fstab line
#                  commented, hosts block present, containerd active with SystemdCgroup = true
#                  in `containerd config dump`, cgroup v2 detected.
#   2 idempotent   a second apply reports 0 changes (JSON events) and restarts nothing.
#   5 bad-profile  apply with an invalid profile exits 1 and no file changed.
#   3 reboot       after the reboot `bootstrap check` finds no drift; modules, sysctls and swap
#                  state survived the boot (no bootstrap unit re-applied them).
#   4 drift        swap on and ip_forward=0 by hand: check exits 2 naming swap and sysctl;
#                  apply fixes both.
# Prints per-scenario PASS/FAIL, the apply wall times measured inside the VM and the
# boot-to-result times, then "N passed, N failed". Exits non-zero on any failure. When qemu
# cannot be installed here the tier is SKIPPED with a loud message (exit 0).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=${1:?usage: scenarios.sh BINARY}
[[ -x $binary ]] || vm_die "$binary is not an executable"
repo="$(cd "$VM_DIR/../.." && pwd)"

skip() {
    printf '\n%s\n*** SKIPPED: real-machine VM tier: %s ***\n%s\n\n' \
        "****************************************************************" "$1" \
        "****************************************************************" >&2
    exit 0
}
if ! (vm_ensure_host_deps) >&2; then
    skip "qemu and the image tools could not be installed on this machine"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bootstrap-vm-scenarios.XXXXXX")"
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    if [[ ${BOOTSTRAP_VM_KEEP:-0} == 1 ]]; then vm_log "keeping $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT

t0="$(vm_now)"
image_dir="$(vm_image_dir)"
vm_log "base image: $image_dir (ready after $(vm_elapsed "$t0") s)"

share="$work/share"
mkdir -p "$share"
cp "$binary" "$share/bootstrap"
disk="$work/node.qcow2"

# The example, with the binary copied from the share instead of downloaded, plus a swap
# file made and turned on once, before runcmd (bootcmd runs earlier in boot).
sed 's|^  - .*# bootstrap-binary$|  - install -m 0755 /mnt/share/bootstrap /usr/local/bin/bootstrap|' \
    "$repo/examples/cloud-init/user-data.yaml" >"$work/user-data"
grep -q 'install -m 0755 /mnt/share/bootstrap' "$work/user-data" \
    || vm_die "the example has no line marked bootstrap-binary"
cat >>"$work/user-data" <<'USERDATA'
bootcmd:
  - [cloud-init-per, once, make-swap, sh, -c, 'dd if=/dev/zero of=/swapfile bs=1M count=64 status=none && chmod 600 /swapfile && mkswap -q /swapfile && swapon /swapfile && echo "/swapfile none swap sw 0 0" >> /etc/fstab && cat /proc/swaps > /var/log/swaps-before-bootstrap']
USERDATA

cp "$VM_DIR/guest/checks.sh" "$VM_DIR/guest/first-boot.sh" "$VM_DIR/guest/after-reboot.sh" "$share/"
cp "$share/first-boot.sh" "$share/run.sh"

boots=()
# boot NAME [run-vm.sh args...]: boot the node disk once, keep its guest output.
boot() {
    local name=$1 start rc=0 took result
    shift
    start="$(vm_now)"
    "$VM_DIR/run-vm.sh" --share "$share" --disk "$disk" --quiet "$@" 2>"$work/$name.err" || rc=$?
    took="$(vm_elapsed "$start")"
    result="$(grep -o 'boot-to-result [0-9.]*s' "$work/$name.err" | tail -1 || true)"
    boots+=("$name: ${result:-no result} (run-vm.sh wall ${took} s, rc $rc)")
    if [[ -f $share/out.log ]]; then
        tee "$work/$name.out" <"$share/out.log"
    else
        : >"$work/$name.out"
    fi
    if [[ $rc -eq 124 || $rc -eq 125 ]]; then
        sed 's/^/  ! /' "$work/$name.err" >&2
    fi
}

boot first-boot --user-data "$work/user-data" --hostname worker-1
cp "$share/after-reboot.sh" "$share/run.sh"
boot reboot --hostname worker-1

passed=$(cat "$work"/*.out | grep -c '^SCENARIO .* PASS$' || true)
failed=$(cat "$work"/*.out | grep -c '^SCENARIO .* FAIL$' || true)
missing=$((5 - passed - failed))
echo
echo "== VM tier timings"
grep -h 'in VM:' "$work"/*.out || true
printf '%s\n' "${boots[@]}"
echo "whole tier (image build or cache hit included): $(vm_elapsed "$t0") s"
if [[ $missing -gt 0 ]]; then
    echo "($missing scenarios produced no result)"
    failed=$((failed + missing))
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
