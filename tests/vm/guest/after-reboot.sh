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

# Set-up for boot 3 (the kubelet-unit scenario): the profile gets [kubernetes] (the
# binaries "baked into the image": packages.method = "none", which checks that kubeadm,
# kubelet and kubectl are there at that version) and a [kubeadm] section (a worker joining
# with the bundle made on the host); the stand-ins of kubeadm and kubectl are installed
# (the kubelet's was at boot 1). Node preparation is then applied once, as an operator
# would after editing the profile, so that boot 3's prep unit has nothing left to do.
prepare_join() {
    install -d -m 0700 /etc/bootstrap/cluster
    install -m 0600 /mnt/share/cluster/token /mnt/share/cluster/ca-cert-hash /etc/bootstrap/cluster/
    install -m 0755 /mnt/share/standins/kubeadm /usr/bin/kubeadm
    install -m 0755 /mnt/share/standins/kubectl /usr/bin/kubectl
    cat >>"$profile" <<'TOML'

[kubernetes]
version = "1.35.2"

[packages]
method = "none"                     # kubeadm, kubelet, kubectl baked into the image

[kubeadm]
control_plane_endpoint = "192.168.33.13:6443"

[kubeadm.secrets]
bundle = "/etc/bootstrap/cluster"   # token and ca-cert-hash
TOML
    $bs profile validate --profile "$profile" &&
        $bs apply --profile "$profile" --skip kubeadm
}
if prepare_join >/tmp/prepare-join.log 2>&1; then
    echo "set-up: [kubeadm] join added to the profile, kubeadm stand-in installed"
else
    echo "set-up FAILED: preparing the join"
    cat /tmp/prepare-join.log
fi
