# shellcheck shell=bash
# Shared helpers for the VM test harness (tests/vm). Source it, don't run it.
#
# Everything here is prefixed vm_ so it does not collide with the scenario
# scripts that source it.

VM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VM_CACHE="${BOOTSTRAP_VM_CACHE:-/var/cache/bootstrap-vm}"
export VM_DIR VM_CACHE

# Messages go to stderr so that stdout stays free for data (image dir, guest output).
vm_log() { printf '[vm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
vm_die() { printf '[vm %(%H:%M:%S)T] ERROR: %s\n' -1 "$*" >&2; exit 1; }

# Seconds since the epoch with millisecond precision, for timings.
vm_now() { date +%s.%3N; }
# vm_elapsed START -> "12.3" (seconds since START, one decimal).
vm_elapsed() { awk -v s="$1" -v e="$(vm_now)" 'BEGIN { printf "%.1f", e - s }'; }

# Install the host tools the harness needs, only when one of them is missing.
# qemu-utils is pinned to Debian 12's version because the machine may come
# with a newer qemu-utils from backports that conflicts with Debian 12's
# qemu-system-x86 (see /work/shared/VM.md).
vm_ensure_host_deps() {
    local missing=() cmd
    # apt-ftparchive, dpkg-scanpackages, gpg: make-repo.sh's signed apt repository.
    for cmd in qemu-system-x86_64 qemu-img debootstrap genisoimage mkfs.ext4 flock \
        apt-ftparchive dpkg-scanpackages gpg; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || vm_die "missing host tools (${missing[*]}) and not root to install them"
    vm_log "installing host packages (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    local pkgs=(qemu-system-x86 debootstrap genisoimage e2fsprogs util-linux apt-utils dpkg-dev gnupg)
    if ! apt-get install -y -q --no-install-recommends --allow-downgrades \
            "${pkgs[@]}" 'qemu-utils=1:7.2+dfsg-7+deb12u18+b3' >&2; then
        # The pinned version is gone (newer point release): pin qemu-utils to
        # whatever qemu-system-x86 version apt would install instead.
        local ver
        ver="$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ { print $2 }')"
        [[ -n $ver && $ver != "(none)" ]] || vm_die "no installable qemu-system-x86"
        vm_log "pinned qemu-utils not installable; retrying with qemu-utils=$ver"
        apt-get install -y -q --no-install-recommends --allow-downgrades \
            "${pkgs[@]}" "qemu-utils=$ver" >&2
    fi
    for cmd in "${missing[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || vm_die "host tool $cmd still missing after install"
    done
}

# vm_image_dir: build (or reuse) the cached base image and print its directory
# (holding base.qcow2, vmlinuz, initrd.img).
vm_image_dir() { "$VM_DIR/build-image.sh"; }

# vm_new_share: make a fresh share directory and print its path. The caller
# owns it (remove it when done; smoke.sh uses a trap).
vm_new_share() { mktemp -d "${TMPDIR:-/tmp}/bootstrap-vm-share.XXXXXX"; }

# vm_expect FILE REGEX [DESCRIPTION]: fail (return 1) with a message unless
# FILE has a line matching the extended REGEX.
vm_expect() {
    local file=$1 re=$2 what=${3:-$2}
    if grep -Eq -- "$re" "$file"; then
        vm_log "ok: $what"
    else
        vm_log "FAIL: $what (no line matching /$re/ in $file)"
        return 1
    fi
}
