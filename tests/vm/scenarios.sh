#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The real-machine tier: the static bootstrap binary inside a real Debian 12 VM (qemu,
# software emulation), started by cloud-init from examples/cloud-init/user-data.yaml.
#
#   scenarios.sh BINARY [all|node1|node2|pair|reset]   (default all; the others run one
#                                                 node's boots, the two-node pair's, or the
#                                                 reset node's one boot)
#
# Boot 1 (cloud-init, fresh disk) runs first-boot, idempotent and bad-profile, then enables
# the shipped units; boot 2 (the same disk again, i.e. a reboot) runs reboot and drift, then
# adds a [kubeadm] join to the profile; boot 3 runs kubelet-unit and old-design-hangs:
#   first-boot     cloud-init ran `bootstrap apply`: br_netfilter and overlay loaded, the three
#                  sysctls 1, a swap file that was active before is off and its fstab line
#                  commented, hosts block present, containerd active with SystemdCgroup = true
#                  in `containerd config dump`, cgroup v2 detected.
#   idempotent     a second apply reports 0 changes (JSON events) and restarts nothing.
#   bad-profile    apply with an invalid profile exits 1 and no file changed.
#   reboot         bootstrap.service and bootstrap-cluster.service ran at boot and ended
#                  active; the kubelet started after bootstrap.service; the change journal has
#                  as many lines as before the reboot (nothing re-applied); `bootstrap check`
#                  finds no drift; modules, sysctls and swap state survived the boot.
#   drift          swap on and ip_forward=0 by hand: check exits 2 naming swap and sysctl;
#                  apply fixes both.
#   kubelet-unit   with a kubelet unit and a kubeadm stand-in that restarts the kubelet
#                  synchronously (as kubeadm does), both bootstrap units end active (exited)
#                  in bounded time and the boot completes; a full apply then changes nothing.
#   old-design-hangs  negative control: kubeadm's kubelet restart in a unit ordered
#                  Before=kubelet.service times out; without that ordering it finishes.
# The reset node, one boot of its own disk without cloud-init:
#   apply-reset    a fresh node (an active swap file in fstab, operator lines in /etc/hosts
#                  and /etc/sysctl.conf): apply, then `bootstrap reset --yes`; every file
#                  under /etc has its pre-apply bytes and mode again, the active swap areas and ip_forward are
#                  as before, `bootstrap check` reports exactly what it reported on the fresh
#                  node, the journal is archived, and a second reset does nothing.
# Prints per-scenario PASS/FAIL, the times measured inside the VM and the boot-to-result
# times, then "N passed, N failed, N skipped". Exits non-zero on any failure. When qemu
# cannot be installed here every scenario is counted SKIPPED, loudly (exit 0; CI greps it).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=${1:?usage: scenarios.sh BINARY [all|node1|node2|pair|reset]}
[[ -x $binary ]] || vm_die "$binary is not an executable"
repo="$(cd "$VM_DIR/../.." && pwd)"

# Every scenario, in the order the boots run them: node 1's, then node 2's.
NODE1=(first-boot idempotent bad-profile reboot drift kubelet-unit old-design-hangs)
NODE2=(apt-repo dpkg-busy apt-other-key)
PAIR=(two-nodes-join two-nodes-converged wrong-ca-pin binary-host-tools)
RESET=(apply-reset)
SCENARIOS=("${NODE1[@]}" "${NODE2[@]}" "${PAIR[@]}" "${RESET[@]}")
case ${2:-all} in
    all) ;;
    node1) SCENARIOS=("${NODE1[@]}") ;;
    node2) SCENARIOS=("${NODE2[@]}") ;;
    pair) SCENARIOS=("${PAIR[@]}") ;;
    reset) SCENARIOS=("${RESET[@]}") ;;
    *) vm_die "usage: scenarios.sh BINARY [all|node1|node2|pair|reset]" ;;
esac
# The sandbox tier's kubeadm stand-in built for musl (the pair's kubeadm): next to BINARY
# (`cargo build --release --target x86_64-unknown-linux-musl --example kubeadm_standin`).
standin=${BOOTSTRAP_VM_KUBEADM_STANDIN:-$(dirname "$binary")/examples/kubeadm_standin}
# Per boot, from qemu start to power-off: generous, as a loaded 2-core machine can take
# minutes to boot under software emulation.
timeout=${BOOTSTRAP_VM_TIMEOUT:-900}

skip() {
    printf '\n%s\n*** SKIPPED: real-machine VM tier: %s ***\n%s\n\n' \
        "****************************************************************" "$1" \
        "****************************************************************" >&2
    printf 'SCENARIO %s SKIPPED\n' "${SCENARIOS[@]}"
    echo "0 passed, 0 failed, ${#SCENARIOS[@]} skipped"
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

cp "$VM_DIR"/guest/*.sh "$share/"
cp -r "$VM_DIR/guest/standins" "$share/standins"
# The units as shipped (README's install), and the kubelet's as pkgs.k8s.io ships it.
mkdir -p "$share/units"
for unit in bootstrap.service bootstrap-cluster.service kubelet.service 10-kubeadm.conf; do
    cp "$repo/systemd/$unit" "$share/units/" || vm_die "systemd/$unit is missing"
done
# A secrets bundle made as README says; the worker's copy is its token and CA hash.
"$binary" secrets generate --out "$work/cluster" >/dev/null
mkdir -p "$share/cluster"
cp "$work/cluster/token" "$work/cluster/ca-cert-hash" "$share/cluster/"
# The signed repository in the pkgs.k8s.io layout, for the apt node.
"$VM_DIR/make-repo.sh" "$share/repo" >/dev/null 2>"$work/make-repo.err" \
    || { cat "$work/make-repo.err" >&2; vm_die "make-repo.sh failed"; }
cp "$share/first-boot.sh" "$share/run.sh"

# apt_user_data: the apt node's cloud-config. bootcmd starts an unattended-upgrades
# stand-in holding dpkg's lock (as cloud images do at first boot); runcmd serves the
# repository on loopback, releases the lock 5 s after the agent says it is waiting (or after
# 120 s), and runs the apply. bootcmd runs inside cloud-init.service, which is ordered
# before sysinit.target: a transient unit with default dependencies (After=sysinit.target)
# would wait for cloud-init, which waits for systemd-run; hence --no-block and
# DefaultDependencies=no (tried: without them the boot hangs there).
apt_user_data() {
    local holder
    holder="$(base64 -w0 "$VM_DIR/guest/unattended-upgrade")"
    cat <<USERDATA
#cloud-config
bootcmd:
  - [sh, -c, 'echo $holder | base64 -d >/usr/local/sbin/unattended-upgrade && chmod 0755 /usr/local/sbin/unattended-upgrade && systemd-run --quiet --no-block -p DefaultDependencies=no --unit=unattended-upgrades /usr/local/sbin/unattended-upgrade /run/release-dpkg']
write_files:
  - path: /etc/bootstrap/profile.toml
    permissions: "0644"
    content: |
      [node]
      name = "apt-node"
      role = "worker"
      address = "auto"

      [kubernetes]
      version = "1.35.1"

      [packages]
      method = "apt"
      apt_url = "http://127.0.0.1:8080/core:/stable:"
      dpkg_lock_timeout = "5m"

      [containerd]
      install = "package"
runcmd:
  - install -m 0755 /mnt/share/bootstrap /usr/local/bin/bootstrap
  - mkdir -p /var/log/bootstrap
  - systemd-run --quiet --unit=k8s-repo python3 -m http.server 8080 --bind 127.0.0.1 --directory /mnt/share/repo
  - timeout 60 sh -c 'until python3 -c "import urllib.request as u; u.urlopen(\"http://127.0.0.1:8080/\")" 2>/dev/null; do sleep 0.3; done'
  - systemd-run --quiet --unit=release-dpkg sh -c 'timeout 120 sh -c "until grep -q \"waiting for /var/lib/dpkg/lock-frontend\" /var/log/cloud-init-output.log; do sleep 0.5; done"; sleep 5; touch /run/release-dpkg'
  - /usr/local/bin/bootstrap apply --profile /etc/bootstrap/profile.toml --lock-wait 600 --output json > /var/log/bootstrap/first-boot.json
USERDATA
}

boots=()
# boot NAME [run-vm.sh args...]: boot the node disk once, keep its guest output.
boot() {
    local name=$1 start rc=0 took result
    shift
    rm -rf "$share/logs"
    start="$(vm_now)"
    "$VM_DIR/run-vm.sh" --share "$share" --disk "$disk" --quiet --timeout "$timeout" "$@" \
        2>"$work/$name.err" || rc=$?
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
    if grep -q '^SCENARIO .* FAIL$\|FAILED' "$work/$name.out" || [[ $rc -ne 0 ]]; then
        guest_logs "$name"
    fi
}

# guest_logs NAME [SHARE]: the guest's logs a failure needs, saved by the guest in the share.
guest_logs() {
    echo "---- $1: guest logs (share/logs) ----"
    local f
    for f in "${2:-$share}"/logs/*; do
        [[ -f $f ]] || continue
        echo "---- ${f##*/}"
        tail -n 60 "$f"
    done
}

if [[ ${2:-all} == all || ${2:-all} == node1 ]]; then
    boot first-boot --user-data "$work/user-data" --hostname worker-1
    cp "$share/after-reboot.sh" "$share/run.sh"
    boot reboot --hostname worker-1
    cp "$share/kubelet-unit.sh" "$share/run.sh"
    boot kubelet-unit --hostname worker-1
fi

# The apt node: its own disk, one cloud-init boot (see apt_user_data).
if [[ ${2:-all} == all || ${2:-all} == node2 ]]; then
    disk="$work/apt-node.qcow2"
    apt_user_data >"$work/apt-user-data"
    cp "$share/apt-node.sh" "$share/run.sh"
    boot apt-node --user-data "$work/apt-user-data" --hostname apt-node
fi

if [[ ${2:-all} == all || ${2:-all} == pair ]]; then
    # shellcheck source=pair.sh
    source "$VM_DIR/pair.sh"
    pair_run
fi

# The reset node: its own disk, no cloud-init (tests/vm/guest/reset.sh does it all).
if [[ ${2:-all} == all || ${2:-all} == reset ]]; then
    disk="$work/reset-node.qcow2"
    cp "$share/reset.sh" "$share/run.sh"
    boot apply-reset --hostname reset-node
fi

# verdict NAME: PASS, FAIL or nothing. A pair scenario checked on both nodes passes when
# both halves (NAME-cp, NAME-worker) pass.
verdict() {
    local halves=("$1") h v out=PASS
    case $1 in
        two-nodes-join | two-nodes-converged | binary-host-tools) halves=("$1-cp" "$1-worker") ;;
    esac
    for h in "${halves[@]}"; do
        v="$(cat "$work"/*.out | grep "^SCENARIO $h " | tail -1 | awk '{ print $3 }' || true)"
        case $v in
            PASS) ;;
            FAIL) out=FAIL ;;
            *) [[ $out == FAIL ]] || out="" ;;
        esac
    done
    echo "$out"
}

passed=0 failed=0
for name in "${SCENARIOS[@]}"; do
    verdict="$(verdict "$name")"
    case $verdict in
        PASS) passed=$((passed + 1)) ;;
        FAIL) failed=$((failed + 1)) ;;
        *) echo "SCENARIO $name FAIL (no result: its boot did not get that far)"; failed=$((failed + 1)) ;;
    esac
done
echo
echo "== VM tier timings"
grep -h 'in VM:' "$work"/*.out || true
printf '%s\n' "${boots[@]}"
echo "whole tier (image build or cache hit included): $(vm_elapsed "$t0") s"
echo "$passed passed, $failed failed, 0 skipped"
[[ $failed -eq 0 ]]
