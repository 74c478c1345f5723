#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Boot one test VM, let it run the share's run.sh, wait for it to power off.
#
#   run-vm.sh --share DIR [--disk OVERLAY] [--user-data FILE] [--meta-data FILE]
#             [--timeout SECONDS] [--serial-log FILE] [--memory MB] [--cpus N]
#             [--hostname NAME] [--append "KERNEL ARGS"] [--quiet]
#             [--netdev QEMU-NETDEV --mac MAC]
#
#   --share DIR        host directory mounted in the guest at /mnt/share (9p).
#                      Put run.sh (and anything it needs, e.g. a static
#                      binary) there. The guest runs `bash /mnt/share/run.sh`
#                      as root, cwd /mnt/share, after boot has settled (after
#                      multi-user.target and cloud-final.service), writes its
#                      stdout+stderr to DIR/out.log (live: tail -f works) and
#                      its exit code to DIR/rc, then powers off. DIR/started
#                      gets the guest uptime when run.sh starts. Stale
#                      out.log/rc/started are removed before the boot.
#   --disk OVERLAY     qcow2 overlay to boot. If it does not exist it is
#                      created on the cached base image and KEPT (the caller
#                      deletes it); if it exists it is booted as is, so a
#                      second run-vm.sh with the same OVERLAY is a reboot of
#                      the same machine. OVERLAY.uuid keeps the machine's
#                      SMBIOS uuid (and cloud-init instance-id) stable across
#                      those boots. Without --disk a throwaway overlay is used.
#   --user-data FILE   attach a NoCloud seed (ISO, volume id cidata) with this
#                      user-data; cloud-init then runs, and run.sh starts after
#                      cloud-final.service.
#   --meta-data FILE   meta-data for the seed (default: instance-id from the
#                      machine uuid, local-hostname from --hostname or
#                      bootstrap-vm). Only with --user-data.
#   --timeout SECONDS  hard limit from qemu start to power-off (default 240,
#                      or $BOOTSTRAP_VM_TIMEOUT). On timeout qemu is killed,
#                      the end of the serial log is printed and the exit code
#                      is 124.
#   --serial-log FILE  where the serial console goes (default DIR/console.log;
#                      appended to, one header per boot).
#   --memory MB        guest memory (default 2048). --cpus N: vCPUs (default 2).
#   --hostname NAME    guest hostname (kernel arg systemd.hostname=NAME, and
#                      local-hostname in the generated meta-data).
#   --append ARGS      extra kernel command-line arguments.
#   --quiet            do not copy out.log to stdout.
#   --netdev SPEC      the NIC's qemu netdev instead of the restricted user net, with
#                      id=net0 (e.g. socket,id=net0,udp=127.0.0.1:P2,localaddr=127.0.0.1:P1:
#                      a private link between two VMs, nothing else reachable); --mac
#                      gives the NIC its address (two VMs on one link need different ones).
#
# Output: the guest's out.log on stdout (unless --quiet); progress, timings
# (host wall time from qemu start to run.sh start "boot-to-script", to DIR/rc
# "boot-to-result", and to qemu exit) and errors on stderr.
# Exit code: the guest run.sh's exit code when the VM produced DIR/rc;
# 124 on timeout; 125 when the VM stopped without producing DIR/rc (no
# run.sh, share not mounted, kernel panic, qemu error). Read DIR/rc to tell a
# guest exit code of 124/125 from a harness failure.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

share="" disk="" user_data="" meta_data="" serial_log="" hostname="" append_extra="" netdev="" mac=""
timeout="${BOOTSTRAP_VM_TIMEOUT:-240}" memory=2048 cpus=2 quiet=0
need_arg() { [[ $# -ge 2 && -n $2 ]] || vm_die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --share) need_arg "$@"; share=$2; shift ;;
        --disk) need_arg "$@"; disk=$2; shift ;;
        --user-data) need_arg "$@"; user_data=$2; shift ;;
        --meta-data) need_arg "$@"; meta_data=$2; shift ;;
        --timeout) need_arg "$@"; timeout=$2; shift ;;
        --serial-log) need_arg "$@"; serial_log=$2; shift ;;
        --memory) need_arg "$@"; memory=$2; shift ;;
        --cpus) need_arg "$@"; cpus=$2; shift ;;
        --hostname) need_arg "$@"; hostname=$2; shift ;;
        --append) need_arg "$@"; append_extra=$2; shift ;;
        --netdev) need_arg "$@"; netdev=$2; shift ;;
        --mac) need_arg "$@"; mac=$2; shift ;;
        --quiet) quiet=1 ;;
        -h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) vm_die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

[[ -n $share ]] || vm_die "--share DIR is required (try --help)"
[[ -d $share ]] || vm_die "share directory $share does not exist"
share="$(cd "$share" && pwd)"
[[ $timeout =~ ^[0-9]+$ && $timeout -gt 0 ]] || vm_die "--timeout must be a positive integer"
[[ -z $user_data || -f $user_data ]] || vm_die "user-data file $user_data not found"
[[ -z $meta_data || -f $meta_data ]] || vm_die "meta-data file $meta_data not found"
[[ -z $meta_data || -n $user_data ]] || vm_die "--meta-data needs --user-data"
[[ -f $share/run.sh ]] || vm_log "warning: $share/run.sh does not exist; the VM will just boot and power off"
serial_log="${serial_log:-$share/console.log}"

vm_ensure_host_deps

tmp="$(mktemp -d "${TMPDIR:-/tmp}/bootstrap-vm-run.XXXXXX")"
qpid=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        sleep 1
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- disk: a fresh overlay on the cached base image, or the given one -------
if [[ -n $disk && -f $disk ]]; then
    # Reboot of an existing machine: boot the kernel of the image it was made from.
    backing="$(qemu-img info -U "$disk" | sed -n 's/^backing file: \(.*\)$/\1/p' | sed 's/ (actual path: .*)$//')"
    [[ -n $backing && -f $backing ]] || vm_die "$disk has no usable backing file (got '${backing}')"
    image_dir="$(dirname "$backing")"
    vm_log "booting existing disk $disk (image $image_dir)"
else
    image_dir="$(vm_image_dir)"
    if [[ -z $disk ]]; then
        disk="$tmp/disk.qcow2"
    else
        mkdir -p "$(dirname "$disk")"
    fi
    qemu-img create -q -f qcow2 -b "$image_dir/base.qcow2" -F qcow2 "$disk"
fi
disk="$(cd "$(dirname "$disk")" && pwd)/$(basename "$disk")"
for f in vmlinuz initrd.img base.qcow2; do
    [[ -f $image_dir/$f ]] || vm_die "$image_dir/$f missing; rebuild with build-image.sh --force"
done

# One SMBIOS uuid per machine (systemd derives the machine-id from it on
# first boot), kept next to a caller-owned disk for later boots.
uuid_file="$disk.uuid"
if [[ -f $uuid_file ]]; then
    uuid="$(<"$uuid_file")"
else
    uuid="$(cat /proc/sys/kernel/random/uuid)"
    [[ $disk == "$tmp"/* ]] || echo "$uuid" >"$uuid_file"
fi

# --- optional NoCloud seed ----------------------------------------------------
seed_args=()
if [[ -n $user_data ]]; then
    mkdir "$tmp/seed"
    cp "$user_data" "$tmp/seed/user-data"
    if [[ -n $meta_data ]]; then
        cp "$meta_data" "$tmp/seed/meta-data"
    else
        printf 'instance-id: iid-%s\nlocal-hostname: %s\n' "$uuid" "${hostname:-bootstrap-vm}" \
            >"$tmp/seed/meta-data"
    fi
    genisoimage -quiet -output "$tmp/seed.iso" -volid cidata -joliet -rock \
        "$tmp/seed/user-data" "$tmp/seed/meta-data"
    seed_args=(-drive "file=$tmp/seed.iso,if=virtio,format=raw,readonly=on")
fi

# --- boot ---------------------------------------------------------------------
rm -f "$share/out.log" "$share/rc" "$share/rc.tmp" "$share/started"
kernel_args="console=ttyS0 root=/dev/vda rw panic=-1"
[[ -n $hostname ]] && kernel_args+=" systemd.hostname=$hostname"
[[ -n $append_extra ]] && kernel_args+=" $append_extra"

# shellcheck disable=SC2054 # commas are qemu option syntax
qemu=(
    qemu-system-x86_64
    -name bootstrap-vm -nodefaults -no-user-config -display none
    -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory"
    -uuid "$uuid"
    -no-reboot
    -kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" -append "$kernel_args"
    -chardev "file,id=ser0,path=$serial_log,append=on" -serial chardev:ser0
    -drive "file=$disk,if=virtio,format=qcow2,cache=unsafe,discard=unmap"
    "${seed_args[@]}"
    -netdev "${netdev:-user,id=net0,restrict=on}" -device "virtio-net-pci,netdev=net0,romfile=${mac:+,mac=$mac}"
    -fsdev "local,id=fs0,path=$share,security_model=none"
    -device virtio-9p-pci,fsdev=fs0,mount_tag=share
    -device virtio-rng-pci
)
[[ ${BOOTSTRAP_VM_DEBUG:-0} == 1 ]] && vm_log "qemu command: ${qemu[*]}"

# On failure: the harness's own lines and the end of this boot's serial log.
show_serial() {
    local log
    log="$(awk '/^===== run-vm.sh boot at /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$serial_log" 2>/dev/null || true)"
    vm_log "vm-harness lines of this boot:"
    grep -a 'vm-harness: ' <<<"$log" | sed 's/^/  | /' >&2 || echo "  | (none: run.sh never started)" >&2
    vm_log "last lines of the serial log $serial_log:"
    tail -n 40 <<<"$log" | sed 's/^/  | /' >&2
}

printf '\n===== run-vm.sh boot at %s: disk=%s uuid=%s seed=%s =====\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$disk" "$uuid" "${user_data:-none}" >>"$serial_log"
vm_log "booting (timeout ${timeout}s, share $share, serial log $serial_log${user_data:+, cloud-init seed})"
start="$(vm_now)"
"${qemu[@]}" </dev/null >"$tmp/qemu.log" 2>&1 &
qpid=$!

result_at="" started_at=""
deadline=$(( $(date +%s) + timeout ))
while kill -0 "$qpid" 2>/dev/null; do
    if [[ -z $started_at && -f $share/started ]]; then
        started_at="$(vm_elapsed "$start")"
    fi
    if [[ -z $result_at && -f $share/rc ]]; then
        result_at="$(vm_elapsed "$start")"
    fi
    if (( $(date +%s) >= deadline )); then
        vm_log "ERROR: TIMEOUT: the VM did not power off within ${timeout}s; killing qemu (pid $qpid)"
        kill -TERM "$qpid" 2>/dev/null || true
        for _ in 1 2 3 4 5; do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
        qpid=""
        show_serial
        [[ -f $share/rc ]] && vm_log "(run.sh had finished with rc $(<"$share/rc"); the power-off hung)"
        exit 124
    fi
    sleep 0.2
done
qemu_rc=0
wait "$qpid" || qemu_rc=$?
qpid=""
total="$(vm_elapsed "$start")"

if [[ ! -f $share/rc ]]; then
    vm_log "ERROR: the VM stopped after ${total}s without writing $share/rc (qemu exit $qemu_rc)"
    [[ -s $tmp/qemu.log ]] && sed 's/^/  qemu| /' "$tmp/qemu.log" >&2
    show_serial
    exit 125
fi
rc="$(<"$share/rc")"
[[ $rc =~ ^[0-9]+$ ]] || vm_die "unreadable rc file: '$rc'"
result_at="${result_at:-$total}"
vm_log "run.sh exited with $rc; boot-to-script ${started_at:-?}s, boot-to-result ${result_at}s," \
    "qemu exited after ${total}s"
if [[ $quiet -eq 0 && -f $share/out.log ]]; then
    cat "$share/out.log"
fi
exit "$rc"
