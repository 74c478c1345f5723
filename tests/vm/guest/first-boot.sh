# Boot 1, after cloud-init ran `bootstrap apply`: scenarios first-boot, idempotent, bad-profile.
. /mnt/share/checks.sh

first_boot() {
    check "cloud-init status: done" sh -c 'cloud-init status | grep -q "status: done"'
    check "a swap file was active before bootstrap ran" grep -q '^/swapfile' /var/log/swaps-before-bootstrap
    check "first apply succeeded" test "$(summary /var/log/bootstrap/first-boot.json exit_code)" = 0
    check "first apply changed the prep steps" test "$(summary /var/log/bootstrap/first-boot.json changed)" -ge 5
    prep_holds
    check "fstab swap line commented out" grep -q '^# disabled by bootstrap (swap off): /swapfile none swap sw 0 0' /etc/fstab
    check "hosts block has the profile's entries" grep -q '^192.168.33.13 master$' /etc/hosts
    check "hosts block has this node" grep -q '^10.0.2.15 worker-1$' /etc/hosts
    check "modules persisted for boot" grep -q '^br_netfilter$' /etc/modules-load.d/bootstrap.conf
    check "cgroup v2 detected" sh -c "$bs plan --profile $profile --output json | grep -q 'cgroup v2 (unified); systemd is init'"
    echo "first apply in VM: $(summary /var/log/bootstrap/first-boot.json duration_ms) ms"
}

idempotent() {
    local before after rc
    before=$(systemctl show -p ActiveEnterTimestampMonotonic --value containerd)
    $bs apply --profile "$profile" --output json >/var/log/bootstrap/rerun.json
    rc=$?
    after=$(systemctl show -p ActiveEnterTimestampMonotonic --value containerd)
    check "re-run exits 0" test "$rc" = 0
    check "re-run reports 0 changes" test "$(summary /var/log/bootstrap/rerun.json changes)" = 0
    check "re-run changed no step" test "$(summary /var/log/bootstrap/rerun.json changed)" = 0
    check "containerd not restarted" test "$before" = "$after"
    echo "converged re-run in VM: $(summary /var/log/bootstrap/rerun.json duration_ms) ms"
}

bad_profile() {
    local files="/etc/hosts /etc/fstab /etc/sysctl.d/99-bootstrap.conf /etc/modules-load.d/bootstrap.conf /etc/containerd/config.toml /var/lib/bootstrap/journal.jsonl"
    local sums rc
    # shellcheck disable=SC2086 # a list of paths
    sums=$(sha256sum $files)
    printf '[node]\nname = "Worker_1"\nrole = "master"\n' >/tmp/bad.toml
    $bs apply --profile /tmp/bad.toml >/tmp/bad.out 2>&1
    rc=$?
    check "invalid profile exits 1" test "$rc" = 1
    check "error names file, line, column and key" grep -q '/tmp/bad.toml:3:8: node.role' /tmp/bad.out
    # shellcheck disable=SC2086
    check "no file changed" test "$sums" = "$(sha256sum $files)"
}

scenario first-boot first_boot
scenario idempotent idempotent
scenario bad-profile bad_profile

# Set-up for the next boots (not a scenario): the shipped units enabled as README says, the
# kubelet's unit as pkgs.k8s.io ships it with a stand-in kubelet, and the change journal's
# length, so the reboot can show that nothing was re-applied at boot.
install_units() {
    install -m 0644 /mnt/share/units/bootstrap.service /mnt/share/units/bootstrap-cluster.service /etc/systemd/system/
    install -m 0644 /mnt/share/units/kubelet.service /usr/lib/systemd/system/kubelet.service
    install -D -m 0644 /mnt/share/units/10-kubeadm.conf /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf
    install -m 0755 /mnt/share/standins/kubelet /usr/bin/kubelet
    systemctl daemon-reload
    # containerd takes 15 s more to start from now on, so that at the next boots the prep
    # unit's containerd step sees it still starting unless the unit is ordered after it
    # (the reboot scenario then fails on "start containerd"; seen once by chance).
    mkdir -p /etc/systemd/system/containerd.service.d
    printf '[Service]\nExecStartPre=/bin/sleep 15\n' >/etc/systemd/system/containerd.service.d/slow-start.conf
    systemctl daemon-reload
    systemctl enable bootstrap.service bootstrap-cluster.service kubelet.service
    mkdir -p /var/lib/vm-test
    journal_lines >/var/lib/vm-test/journal-lines
}
if install_units >/tmp/install-units.log 2>&1; then
    echo "set-up: bootstrap.service, bootstrap-cluster.service and kubelet.service enabled; journal has $(cat /var/lib/vm-test/journal-lines) lines"
else
    echo "set-up FAILED: installing the units"
    cat /tmp/install-units.log
fi
