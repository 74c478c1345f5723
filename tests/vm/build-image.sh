#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build (once) and cache the Debian 12 base image for the VM test harness.
#
#   build-image.sh [--force] [--prune]
#
# Prints the image directory on stdout (it holds base.qcow2, vmlinuz,
# initrd.img, packages.txt). The image is cached under
# ${BOOTSTRAP_VM_CACHE:-/var/cache/bootstrap-vm}/<key>, where <key> is a hash
# of this script and the package list: editing this script rebuilds. A cache
# hit returns at once; a build holds a flock so concurrent callers wait for
# one build instead of building twice.
#
#   --force   rebuild even if the cached image exists
#   --prune   after making sure the current image exists, delete cached
#             images of other keys (older versions of this script)
#
# Environment: BOOTSTRAP_VM_CACHE (cache dir), BOOTSTRAP_VM_MIRROR (Debian
# mirror for debootstrap, default http://deb.debian.org/debian).
#
# What the guest gets (see the heredocs below; /work/shared/VM.md has why):
# minbase bookworm + kernel, systemd, containerd, cloud-init; a MODULES=list
# initramfs; empty machine-id; static systemd-networkd 10.0.2.15/24 via
# 10.0.2.2 with IPv6 autoconf off; the 9p share on /mnt/share (nofail); and
# vm-harness.service, which runs /mnt/share/run.sh as root after boot has
# settled, writes /mnt/share/out.log and /mnt/share/rc, then powers off.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bookworm
MIRROR="${BOOTSTRAP_VM_MIRROR:-http://deb.debian.org/debian}"
DISK_SIZE=8G
# python3-cffi-backend: debootstrap does not resolve virtual packages, and
# without it cloud-init's python3-cryptography stays unconfigured.
PACKAGES=(
    linux-image-amd64 systemd-sysv udev dbus kmod procps iproute2 util-linux
    ca-certificates containerd cloud-init python3-cffi-backend initramfs-tools
    e2fsprogs iptables
    # iptables: kubeadm's preflight requires it (FileExisting-iptables); every cloud image has it
)
# Modules put in the initramfs (MODULES=list; dependencies such as
# virtio_ring, jbd2, crc32c, netfs, 9pnet are pulled in by mkinitramfs).
# Only virtio_pci, virtio_blk and ext4 are needed to mount the root; the 9p
# ones would also autoload from the root fs, having them early is cheap.
INITRAMFS_MODULES=(virtio_pci virtio_blk ext4 9p 9pnet_virtio)

# Only the image directory goes to stdout (fd 3); everything else to stderr.
exec 3>&1 1>&2

force=0 prune=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --force) force=1 ;;
        --prune) prune=1 ;;
        -h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&3; exit 0 ;;
        *) vm_die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

key="$( { cat "${BASH_SOURCE[0]}"; printf '%s\n' "$SUITE" "${PACKAGES[@]}"; } \
        | sha256sum | cut -c1-16)"
out="$VM_CACHE/$key"

prune_others() {
    local d
    for d in "$VM_CACHE"/*/; do
        d=${d%/}
        [[ -d $d && $d != "$out" && -f $d/.complete ]] || continue
        vm_log "pruning old image $d"
        rm -rf -- "$d"
    done
}

if [[ $force -eq 0 && -f $out/.complete ]]; then
    [[ $prune -eq 1 ]] && prune_others
    printf '%s\n' "$out" >&3
    exit 0
fi

mkdir -p "$VM_CACHE"
exec 9>"$VM_CACHE/.build.lock"
if ! flock -n 9; then
    vm_log "another build holds $VM_CACHE/.build.lock; waiting"
    flock -w 1800 9 || vm_die "timed out waiting for the build lock"
fi
if [[ $force -eq 0 && -f $out/.complete ]]; then   # built while we waited
    [[ $prune -eq 1 ]] && prune_others
    printf '%s\n' "$out" >&3
    exit 0
fi

vm_ensure_host_deps
[[ $(id -u) -eq 0 ]] || vm_die "building the image needs root (debootstrap, chroot)"

start="$(vm_now)"
work="$(mktemp -d "$VM_CACHE/.build-$key.XXXXXX")"
root="$work/rootfs"
mounted=()

# shellcheck disable=SC2317 # also called from the EXIT trap
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
    done
    mounted=()
}
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    unmount_all
    # Never rm -rf through a mount that failed to go away.
    if [[ -n ${work:-} && -d $work ]] && ! grep -q " $work/" /proc/mounts; then
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

vm_log "building base image $key in $work (debootstrap $SUITE from $MIRROR)"
mkdir -p "$root" "$VM_CACHE/debs"
include="$(IFS=,; echo "${PACKAGES[*]}")"
if ! debootstrap --variant=minbase --include="$include" --cache-dir="$VM_CACHE/debs" \
        "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    vm_die "debootstrap failed"
fi
vm_log "debootstrap done after $(vm_elapsed "$start") s; configuring the guest"

# --- guest configuration ----------------------------------------------------

echo bootstrap-vm >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	bootstrap-vm
::1		localhost ip6-localhost ip6-loopback
EOF

mkdir -p "$root/mnt/share"
cat >"$root/etc/fstab" <<'EOF'
# /etc/fstab of the bootstrap test VM (tests/vm/build-image.sh). The root is
# mounted rw by the initramfs (root=/dev/vda rw), which has no fsck.
# Scenarios may append lines (a swap file, extra mounts). Give anything that
# may be absent "nofail" so a boot never stops in emergency mode.
/dev/vda	/		ext4	rw,errors=remount-ro	0 0
# The host's per-run share directory (qemu -virtfs ... mount_tag=share).
share		/mnt/share	9p	trans=virtio,version=9p2000.L,msize=262144,nofail	0 0
EOF

# Empty machine-id: systemd generates one on first boot (from the SMBIOS uuid
# qemu gets via -uuid) and commits it to the overlay, so it is unique per VM
# and stable across reboots of the same disk.
: >"$root/etc/machine-id"
mkdir -p "$root/var/lib/dbus"
ln -sf /etc/machine-id "$root/var/lib/dbus/machine-id"

# Static network: with restrict=on qemu's DHCP hands out no default route,
# and kubeadm wants one. Match the virtio NIC by driver, not by type, so that
# CNI veths/bridges created later are not configured by networkd.
mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/networkd.conf.d"
cat >"$root/etc/systemd/network/10-harness.network" <<'EOF'
[Match]
Driver=virtio_net

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
DNS=10.0.2.3
IPv6AcceptRA=no
LinkLocalAddressing=no
EOF
# Leave routes and rules made by others (CNI, kube-proxy) alone.
cat >"$root/etc/systemd/networkd.conf.d/10-harness.conf" <<'EOF'
[Network]
ManageForeignRoutes=no
ManageForeignRoutingPolicyRules=no
EOF
echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"

# No mirror is reachable from the guest: start with no apt sources, so an
# `apt-get update` in a scenario only sees the repositories it adds itself.
cat >"$root/etc/apt/sources.list" <<'EOF'
# Empty on purpose (tests/vm): the guest reaches no mirror. Scenarios add a
# file:// repository carried in through /mnt/share.
EOF

# cloud-init: runs only when a cidata seed is attached (Debian's default
# datasource_list and ds-identify decide; do not narrow the list).
cat >"$root/etc/cloud/cloud.cfg.d/90-bootstrap-harness.cfg" <<'EOF'
# tests/vm harness. minbase has no locales: without this cloud-init ends in
# "status: error". Networking is configured statically by systemd-networkd.
locale: false
network:
  config: disabled
EOF

# The harness: run /mnt/share/run.sh once the boot has settled, record its
# output and exit code on the share, then power off.
cat >"$root/usr/local/sbin/vm-harness" <<'EOF'
#!/bin/bash
# Installed by tests/vm/build-image.sh; started by vm-harness.service.
set -u
share=/mnt/share
if ! mountpoint -q "$share"; then
    mount "$share" || true
fi
if ! mountpoint -q "$share"; then
    echo "vm-harness: $share is not mounted; powering off" >&2
    exit 1   # FailureAction=poweroff; the host then finds no rc file
fi
# Wait for the boot transaction to finish, so run.sh sees a settled system
# (is-system-running says running or degraded, not starting).
timeout 180 systemctl is-system-running --wait >/dev/null 2>&1
echo "vm-harness: system is $(systemctl is-system-running 2>&1)"
if [[ ! -f $share/run.sh ]]; then
    echo "vm-harness: no $share/run.sh; powering off"
    exit 0
fi
rm -f "$share/rc" "$share/rc.tmp"
# Guest uptime when run.sh starts; run-vm.sh reports boot-to-script from it.
cut -d' ' -f1 /proc/uptime >"$share/started"
echo "vm-harness: running $share/run.sh"
rc=0
bash "$share/run.sh" >"$share/out.log" 2>&1 </dev/null || rc=$?
echo "vm-harness: run.sh exited with $rc; last lines of out.log:"
tail -n 40 "$share/out.log" | sed 's/^/  | /'
echo "$rc" >"$share/rc.tmp" && mv -f "$share/rc.tmp" "$share/rc"
sync
exit 0
EOF
chmod 0755 "$root/usr/local/sbin/vm-harness"

# Type=exec (not oneshot): the start job completes as soon as the script is
# running, so the boot transaction can finish while run.sh runs. The
# Success/FailureAction lines must be in [Unit]; under [Service] they are
# silently ignored and the VM never powers off.
cat >"$root/etc/systemd/system/vm-harness.service" <<'EOF'
[Unit]
Description=bootstrap VM test harness: run /mnt/share/run.sh, then power off
After=multi-user.target cloud-final.service remote-fs.target
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=exec
WorkingDirectory=/mnt/share
ExecStart=/usr/local/sbin/vm-harness
Environment=HOME=/root LANG=C.UTF-8
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF

# initramfs with only the modules we need (6.5 MB instead of 36 MB).
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf '%s\n' "${INITRAMFS_MODULES[@]}" >>"$root/etc/initramfs-tools/modules"

for m in proc sys dev; do
    case $m in
        proc) mount -t proc proc "$root/proc" ;;
        sys) mount -t sysfs sysfs "$root/sys" ;;
        dev) mount --bind /dev "$root/dev" ;;
    esac
    mounted+=("$root/$m")
done
in_root() { LC_ALL=C DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }
in_root systemctl enable systemd-networkd.service vm-harness.service >/dev/null 2>&1
# apt's timers would fail on the network and could hold the dpkg lock while a
# scenario installs packages.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1
in_root update-initramfs -u -k all >"$work/initramfs.log" 2>&1 \
    || { tail -n 30 "$work/initramfs.log" >&2; vm_die "update-initramfs failed"; }
# shellcheck disable=SC2016 # dpkg-query's format, not a shell expansion
in_root dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages.txt"
in_root apt-get clean
unmount_all

rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root/debootstrap"
mkdir -p "$root/var/lib/apt/lists/partial"

mkdir -p "$work/out"
cp "$root"/boot/vmlinuz-* "$work/out/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/out/initrd.img"
mv "$work/packages.txt" "$work/out/packages.txt"
kver="$(basename "$(ls -d "$root"/lib/modules/*)")"

vm_log "making the ext4 disk ($DISK_SIZE sparse) and the compressed qcow2"
mkfs.ext4 -q -L root -d "$root" "$work/base.raw" "$DISK_SIZE"
qemu-img convert -c -O qcow2 "$work/base.raw" "$work/out/base.qcow2"
rm -f "$work/base.raw"
chmod 0444 "$work/out/base.qcow2"   # overlays must never write into it

cat >"$work/out/manifest" <<EOF
key=$key
suite=$SUITE
kernel=$kver
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
build_seconds=$(vm_elapsed "$start")
initrd_bytes=$(stat -c %s "$work/out/initrd.img")
qcow2_bytes=$(stat -c %s "$work/out/base.qcow2")
EOF
touch "$work/out/.complete"
rm -rf "$out"
mv "$work/out" "$out"
vm_log "image ready in $(vm_elapsed "$start") s: $out (kernel $kver," \
    "initrd $(du -h "$out/initrd.img" | cut -f1), qcow2 $(du -h "$out/base.qcow2" | cut -f1))"
[[ $prune -eq 1 ]] && prune_others
printf '%s\n' "$out" >&3
