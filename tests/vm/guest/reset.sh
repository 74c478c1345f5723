# One boot of a fresh disk, no cloud-init: scenario apply-reset. The node as an operator
# left it (an active swap file in fstab, an operator's line in /etc/hosts and in
# /etc/sysctl.conf, the containerd package's own config): the sha256 and mode of every
# file under /etc, the active swap areas, ip_forward and the loaded modules are recorded,
# and `bootstrap check` is run on the fresh node. `bootstrap apply` prepares the node,
# `bootstrap reset --yes` undoes it. Then every file under /etc has its recorded bytes and
# mode again, the active swap areas and ip_forward are as before, a module bootstrap loaded
# is unloaded or named by reset as staying, `bootstrap check` reports exactly what it reported on the fresh node, the journal
# and backups are archived, and a second reset does nothing (exit 0).
. /mnt/share/checks.sh

# etc_state: mode, type and sha256 of every file and link under /etc.
etc_state() {
    find /etc -xdev \( -type f -o -type l \) -printf '%p %m %y %l\n' | sort
    find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum
}
# findings FILE: what a `check --output json` said, without timings.
findings() {
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.strip():
        e = json.loads(l)
        print(json.dumps({k: v for k, v in e.items() if "duration" not in k and "time" not in k}, sort_keys=True))' "$1"
}
modules() { awk '{ print $1 }' /proc/modules | sort; }
# swap_areas FILE: the active swap areas of a /proc/swaps (their used size and the kernel's
# automatic priority may differ after a swapoff and swapon).
swap_areas() { awk 'NR > 1 { print $1 }' "$1" | sort; }

apply_reset() {
    local rc
    dd if=/dev/zero of=/swapfile bs=1M count=64 status=none && chmod 600 /swapfile && mkswap -q /swapfile && swapon /swapfile
    echo "/swapfile none swap sw 0 0" >>/etc/fstab
    echo "10.9.9.9 operator-host" >>/etc/hosts
    echo "vm.swappiness = 10" >>/etc/sysctl.conf
    install -m 0755 /mnt/share/bootstrap /usr/local/bin/bootstrap
    mkdir -p /etc/bootstrap /var/log/bootstrap
    printf '[node]\nrole = "worker"\naddress = "auto"\n\n[hosts]\nentries = [{ address = "192.168.33.13", names = ["master"] }]\n\n[containerd]\ninstall = "package"\n' >"$profile"
    etc_state >/tmp/etc-before
    swap_areas /proc/swaps >/tmp/swaps-before
    cp /proc/swaps /tmp/swaps-before.raw
    sysctl -n net.ipv4.ip_forward >/tmp/forward-before
    modules >/tmp/modules-before
    $bs check --profile "$profile" --output json >/tmp/check-fresh.json
    echo $? >/tmp/check-fresh.rc
    findings /tmp/check-fresh.json >/tmp/check-fresh.findings

    $bs apply --profile "$profile" --output json >/var/log/bootstrap/apply.json
    rc=$?
    check "apply exits 0" test "$rc" = 0
    prep_holds
    etc_state >/tmp/etc-applied
    check "apply changed files under /etc" sh -c '! cmp -s /tmp/etc-before /tmp/etc-applied'
    $bs reset >/tmp/reset-plan.out 2>&1
    rc=$?
    check "reset without --yes exits 2 and plans to restore /etc/fstab" \
        sh -c "[ $rc = 2 ] && grep -q 'restore /etc/fstab from' /tmp/reset-plan.out"
    etc_state >/tmp/etc-planned
    check "the plan changed nothing (/etc and swap as apply left them)" \
        sh -c 'cmp -s /tmp/etc-applied /tmp/etc-planned && [ "$(wc -l </proc/swaps)" -eq 1 ]'
    $bs reset --yes >/tmp/reset.out 2>&1
    rc=$?
    check "reset --yes exits 0" test "$rc" = 0
    etc_state >/tmp/etc-after
    diff /tmp/etc-before /tmp/etc-after >/tmp/etc.diff
    check "every file under /etc has its pre-apply bytes, mode and link target again" test ! -s /tmp/etc.diff
    swap_areas /proc/swaps >/tmp/swaps-after
    echo "  (/proc/swaps before apply, then after reset:)"
    sed 's/^/    /' /tmp/swaps-before.raw /proc/swaps
    check "the swap file is active again (the active areas as before: $(tr '\n' ' ' </tmp/swaps-after))" \
        cmp -s /tmp/swaps-before /tmp/swaps-after
    check "ip_forward as before ($(cat /tmp/forward-before))" sysctl_is net.ipv4.ip_forward "$(cat /tmp/forward-before)"
    modules >/tmp/modules-after
    # The modules bootstrap loads (its modules-load.d file: overlay, br_netfilter); others
    # loaded meanwhile (by containerd's restart, say) are not bootstrap's and are only shown.
    check "each module bootstrap loaded is unloaded or named by reset as staying" sh -c \
        'for m in overlay br_netfilter; do grep -qx "$m" /tmp/modules-before || ! grep -qx "$m" /tmp/modules-after || grep -q "kernel module $m stays loaded" /tmp/reset.out || exit 1; done'
    echo "  (modules loaded since the fresh node: $(comm -13 /tmp/modules-before /tmp/modules-after | tr '\n' ' '))"
    check "the journal and backups are archived" sh -c 'test ! -e /var/lib/bootstrap/journal.jsonl && ls -d /var/lib/bootstrap/archive/reset-*/backups'
    $bs check --profile "$profile" --output json >/tmp/check-after.json
    rc=$?
    findings /tmp/check-after.json >/tmp/check-after.findings
    check "check after reset exits as on the fresh node ($(cat /tmp/check-fresh.rc))" test "$rc" = "$(cat /tmp/check-fresh.rc)"
    check "check after reset reports exactly what it reported on the fresh node" cmp -s /tmp/check-fresh.findings /tmp/check-after.findings
    $bs reset --yes >/tmp/reset-again.out 2>&1
    rc=$?
    check "a second reset exits 0 and has nothing to undo" sh -c "[ $rc = 0 ] && grep -q 'nothing to undo' /tmp/reset-again.out"
    if [ -s /tmp/etc.diff ]; then echo "  /etc differences:"; sed 's/^/    /' /tmp/etc.diff | head -40; fi
    cmp -s /tmp/check-fresh.findings /tmp/check-after.findings \
        || diff /tmp/check-fresh.findings /tmp/check-after.findings | sed 's/^/    /' | head -40
    sed 's/^/  reset: /' /tmp/reset.out
    echo "reset in VM: $(grep -c . /tmp/reset.out) lines of report"
}

scenario apply-reset apply_reset
