#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The baked-image scenario (issue 17): the Debian test image is baked offline on the host
# with `bootstrap bake --root TREE`, then booted with cloud-init running the same apply as
# an un-baked first boot of the plain image; both boots in this run, timed the same way.
#
#   tests/vm/bake.sh BINARY        (a static binary, as scenarios.sh takes it; needs root)
#
# The tree comes out of the cached image without loop or nbd devices: `qemu-img convert`
# to raw, `debugfs rdump` of every top-level entry, then `mkfs.ext4 -d` back, the way
# build-image.sh makes the image. rdump keeps files, links and permission bits but drops
# setuid bits and file capabilities (seen on /usr/bin/su): fine here, where everything
# runs as root; bake a real image on its mounted filesystem instead. The profile
# installs Kubernetes programs from a bundle (stand-ins that answer their version calls;
# the image has none) and leaves the node's name and address to the booted node.
#
# Checked in the baked boot: the boot-time apply exits 0, its only changes are what the
# bake listed for the first boot (the node's own /etc/hosts line, kubectl's completion),
# no package or containerd work; `check` is clean. Printed for both boots: the guest's
# uptime when the apply finished ("boot-to-prepared") and the apply's own duration.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=${1:?usage: tests/vm/bake.sh BINARY}
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
[[ $(id -u) == 0 ]] || vm_die "bake.sh needs root (debugfs, mkfs.ext4 -d keep owners)"
vm_ensure_host_deps
work=$(mktemp -d)
[[ ${BOOTSTRAP_VM_KEEP:-} == 1 ]] || trap 'rm -rf "$work"' EXIT
image_dir=$(vm_image_dir)
version=1.35.2

# --- the bundle: stand-in kubeadm, kubelet, kubectl with their SHA256SUMS -------------
rel=release/v$version/bin/linux/amd64
mkdir -p "$work/bundle/$rel"
for p in kubeadm kubelet kubectl; do
    cat >"$work/bundle/$rel/$p" <<PROGRAM
#!/bin/sh
case "\$*" in
  "version -o short") echo "v$version" ;;
  "version --client") printf 'Client Version: v$version\nKustomize Version: v5.4.2\n' ;;
  "completion bash") echo "# bash completion for kubectl v$version" ;;
  *) echo "Kubernetes v$version" ;;
esac
PROGRAM
    chmod 0755 "$work/bundle/$rel/$p"
done
(cd "$work/bundle" && sha256sum "$rel"/* >SHA256SUMS)

cat >"$work/profile.toml" <<TOML
[node]
role = "worker"
address = "auto"

[hosts]
entries = [{ address = "192.168.33.13", names = ["master"] }]

[kubernetes]
version = "$version"

[packages]
method = "bundle"
bundle = "/var/lib/bootstrap/bundle"
cri_tools = false

[containerd]
install = "none"
TOML

# The same user-data for both boots: the binary, profile and bundle come from the share
# unless the image has them already (baked), then one apply, then the uptime.
cat >"$work/user-data" <<'USERDATA'
#cloud-config
locale: false
runcmd:
  - mkdir -p /var/log/bootstrap /etc/bootstrap /var/lib/bootstrap
  - test -x /usr/local/bin/bootstrap || install -m 0755 /mnt/share/bootstrap /usr/local/bin/bootstrap
  - test -f /etc/bootstrap/profile.toml || cp /mnt/share/profile.toml /etc/bootstrap/profile.toml
  - test -d /var/lib/bootstrap/bundle || cp -a /mnt/share/bundle /var/lib/bootstrap/bundle
  - /usr/local/bin/bootstrap apply --profile /etc/bootstrap/profile.toml --output json > /var/log/bootstrap/boot.json; echo $? > /var/log/bootstrap/boot.rc
  - cut -d' ' -f1 /proc/uptime > /var/log/bootstrap/prepared-uptime
USERDATA

# The guest side: results into the share, checks for the baked boot.
cat >"$work/guest.sh" <<'GUEST'
set -u
out=/mnt/share/result
mkdir -p "$out"
cp /var/log/bootstrap/boot.json /var/log/bootstrap/boot.rc /var/log/bootstrap/prepared-uptime "$out/" 2>/dev/null
/usr/local/bin/bootstrap check --profile /etc/bootstrap/profile.toml --output json >"$out/check.json"
echo $? >"$out/check.rc"
test -f /var/lib/bootstrap/baked.json && cp /var/lib/bootstrap/baked.json "$out/"
cloud-init status >"$out/cloud-init-status" 2>&1
exit 0
GUEST

# boot NAME IMAGE-DIR: one cloud-init boot on a fresh overlay of IMAGE-DIR/base.qcow2.
boot() {
    local name=$1 dir=$2 share="$work/share-$1"
    mkdir -p "$share"
    cp "$binary" "$share/bootstrap"
    cp "$work/profile.toml" "$share/"
    cp -a "$work/bundle" "$share/bundle"
    cp "$work/guest.sh" "$share/run.sh"
    qemu-img create -q -f qcow2 -b "$dir/base.qcow2" -F qcow2 "$work/$name.qcow2"
    "$VM_DIR/run-vm.sh" --share "$share" --disk "$work/$name.qcow2" \
        --user-data "$work/user-data" --hostname "$name" --quiet --timeout 420 \
        2>"$work/$name.err" || { cat "$work/$name.err" >&2; vm_die "$name: the VM run failed"; }
}

# summary FILE KEY: a field of the summary event.
summary() { grep '"event":"summary"' "$1" | sed -n "s/.*\"$2\":\\([0-9]*\\).*/\\1/p"; }

# --- the un-baked first boot of the plain image ----------------------------------------
boot plain "$image_dir"

# --- bake: the image tree out of the cached image, baked offline, made a disk again ----
vm_log "baking the image offline"
t0=$(date +%s)
qemu-img convert -O raw "$image_dir/base.qcow2" "$work/base.raw"
mkdir "$work/tree"
debugfs -R "ls -p /" "$work/base.raw" 2>/dev/null | awk -F/ '$6 != "" && $6 != "." && $6 != ".." {print $6}' |
    while read -r entry; do
        debugfs -R "rdump /$entry $work/tree" "$work/base.raw" 2>>"$work/rdump.err" >/dev/null
    done
rm -f "$work/base.raw"
[[ -x $work/tree/usr/bin/containerd ]] || vm_die "the tree has no /usr/bin/containerd (rdump failed? see $work/rdump.err)"
install -D -m 0755 "$binary" "$work/tree/usr/local/bin/bootstrap"
install -D -m 0644 "$work/profile.toml" "$work/tree/etc/bootstrap/profile.toml"
mkdir -p "$work/tree/var/lib/bootstrap"
cp -a "$work/bundle" "$work/tree/var/lib/bootstrap/bundle"
# No program of this machine may run: an empty PATH.
env -i PATH= "$binary" --root "$work/tree" bake --profile "$work/profile.toml" --output json \
    >"$work/bake.json" || { cat "$work/bake.json" >&2; vm_die "bake failed"; }
mkdir -p "$work/baked-image"
cp "$image_dir/vmlinuz" "$image_dir/initrd.img" "$work/baked-image/"
mkfs.ext4 -q -L root -d "$work/tree" "$work/baked.raw" 8G
qemu-img convert -O qcow2 "$work/baked.raw" "$work/baked-image/base.qcow2"
rm -rf "$work/baked.raw" "$work/tree"
vm_log "baked in $(($(date +%s) - t0)) s: $(summary "$work/bake.json" changes) changes"

# --- the baked image's first boot ------------------------------------------------------
boot baked "$work/baked-image"

# --- checks and figures ----------------------------------------------------------------
fail=0
check() { if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
p=$work/share-plain/result b=$work/share-baked/result
check "plain boot: apply exit 0" test "$(cat "$p/boot.rc")" = 0
check "baked boot: apply exit 0" test "$(cat "$b/boot.rc")" = 0
check "baked boot: check clean" test "$(cat "$b/check.rc")" = 0
check "baked boot: the image carries the bake record" test -f "$b/baked.json"
changes=$(grep '"event":"change"' "$b/boot.json" | sed -n 's/.*"summary":"\([^"]*\)".*/\1/p')
echo "baked boot changes:"; printf '  %s\n' "$changes"
work_changes=$(grep '"event":"change"' "$b/boot.json" \
    | grep -E '"step":"(packages|containerd|modules|sysctl|swap)"' | grep -vc 'bash completion' || true)
check "baked boot: no package, containerd, module, sysctl or swap work" test "$work_changes" = 0
check "baked boot: hosts gets only the node's own line" \
    sh -c "grep '\"event\":\"change\",\"step\":\"hosts\"' '$b/boot.json' | wc -l | grep -qx '[01]'"
echo "boot-to-prepared (guest uptime when the apply finished): plain $(cat "$p/prepared-uptime") s, baked $(cat "$b/prepared-uptime") s"
echo "apply at first boot: plain $(summary "$p/boot.json" duration_ms) ms ($(summary "$p/boot.json" changes) changes), baked $(summary "$b/boot.json" duration_ms) ms ($(summary "$b/boot.json" changes) changes)"
[[ $fail == 0 ]] && echo "bake: passed" || { echo "bake: FAILED"; exit 1; }
