# Boot 2 of the same disk: scenarios reboot and drift.
. /mnt/share/checks.sh

after_reboot() {
    local rc
    $bs check --profile "$profile" --output json >/tmp/check.json
    rc=$?
    check "bootstrap check finds no drift after reboot (exit 0)" test "$rc" = 0
    prep_holds
    check "bootstrap.service ran at this boot and ended active (exited), exit 0" oneshot_done bootstrap.service
    check "bootstrap-cluster.service ran at this boot and ended active (exited), exit 0" oneshot_done bootstrap-cluster.service
    check "the kubelet started only after bootstrap.service finished (Before=kubelet.service)" \
        test "$(prop kubelet.service ExecMainStartTimestampMonotonic)" -ge "$(prop bootstrap.service ActiveEnterTimestampMonotonic)"
    check "kubelet.service active" systemctl is-active kubelet.service
    check "nothing re-applied at boot: journal has $(cat /var/lib/vm-test/journal-lines) lines before the reboot, $(journal_lines) after" \
        test "$(journal_lines)" -eq "$(cat /var/lib/vm-test/journal-lines)"
    check "the boot's apply reported 0 changes" sh -c 'journalctl -b -u bootstrap.service --no-pager | grep -Eq "(^| )0 changes"'
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

# Set-up for boot 3 (the kubelet-unit scenario): the profile gets a [kubeadm] section (a
# worker joining with the bundle made on the host), and kubeadm's stand-in is installed.
prepare_join() {
    install -d -m 0700 /etc/bootstrap/cluster
    install -m 0600 /mnt/share/cluster/token /mnt/share/cluster/ca-cert-hash /etc/bootstrap/cluster/
    install -m 0755 /mnt/share/standins/kubeadm /usr/bin/kubeadm
    cat >>"$profile" <<'TOML'

[kubeadm]
control_plane_endpoint = "192.168.33.13:6443"

[kubeadm.secrets]
bundle = "/etc/bootstrap/cluster"   # token and ca-cert-hash
TOML
    $bs profile validate --profile "$profile"
}
if prepare_join >/tmp/prepare-join.log 2>&1; then
    echo "set-up: [kubeadm] join added to the profile, kubeadm stand-in installed"
else
    echo "set-up FAILED: preparing the join"
    cat /tmp/prepare-join.log
fi
