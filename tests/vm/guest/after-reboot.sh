# Boot 2 of the same disk: scenarios reboot and drift.
. /mnt/share/checks.sh

after_reboot() {
    local rc
    $bs check --profile "$profile" --output json >/tmp/check.json
    rc=$?
    check "bootstrap check finds no drift after reboot (exit 0)" test "$rc" = 0
    prep_holds
    check "nothing re-applied at boot (no bootstrap unit)" sh -c '! systemctl is-active bootstrap.service'
    check "journal untouched by the boot" test "$(wc -l </var/lib/bootstrap/journal.jsonl)" -gt 0
}

drift() {
    local rc
    swapon /swapfile
    sysctl -qw net.ipv4.ip_forward=0
    $bs check --profile "$profile" --output json >/tmp/drift.json
    rc=$?
    check "check exits 2 on drift" test "$rc" = 2
    check "check names swap" test "$(status /tmp/drift.json swap)" = drift
    check "check names sysctl" test "$(status /tmp/drift.json sysctl)" = drift
    $bs apply --profile "$profile" --output json >/tmp/fix.json
    rc=$?
    check "apply fixes the drift" test "$rc" = 0
    check "swap off again" no_swap
    check "ip_forward = 1 again" sysctl_is net.ipv4.ip_forward 1
    $bs check --profile "$profile" >/dev/null
    rc=$?
    check "check clean after apply" test "$rc" = 0
}

scenario reboot after_reboot
scenario drift drift
