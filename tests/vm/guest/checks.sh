# Checks shared by the guest scripts of the VM scenarios (sourced inside the VM).
bs=/usr/local/bin/bootstrap
profile=/etc/bootstrap/profile.toml
failed_checks=0

# The guest's logs a failure needs, copied to the share when the script ends (the host
# prints them when a boot has a failed check).
save_logs() {
    local d=/mnt/share/logs u
    mkdir -p "$d"
    for u in bootstrap bootstrap-cluster kubelet containerd cloud-final kube-apiserver-standin mirror; do
        journalctl -b -u "$u.service" --no-pager >"$d/journal-$u.log" 2>&1
    done
    cp /var/log/cloud-init-output.log /var/log/bootstrap/*.json /var/log/kubeadm-standin.log /tmp/*.out \
        /var/log/kubelet-standin.starts \
        /var/log/kubeadm-standin.out /var/log/kubeadm-discovery.log /var/log/preflight-before.out /var/log/kubectl-standin.log "$d/" 2>/dev/null
    systemctl list-jobs --no-pager >"$d/systemctl-list-jobs.log" 2>&1
    return 0
}
trap save_logs EXIT

# check DESCRIPTION COMMAND...: run COMMAND, print ok/FAIL.
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "  ok: $what"
    else
        echo "  FAIL: $what"
        failed_checks=$((failed_checks + 1))
    fi
}

# scenario NAME FUNCTION: run a scenario's checks and print its verdict.
scenario() {
    local name=$1
    shift
    failed_checks=0
    echo "== scenario $name"
    "$@"
    if [ "$failed_checks" -eq 0 ]; then echo "SCENARIO $name PASS"; else echo "SCENARIO $name FAIL"; fi
}

# summary FILE KEY: a field of the JSON summary event of a run.
summary() {
    python3 -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print([x for x in e if x["event"]=="summary"][-1][sys.argv[2]])' "$1" "$2"
}

# status FILE STEP: the status a step finished with.
status() {
    python3 -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print([x for x in e if x["event"]=="step_finished" and x["step"]==sys.argv[2]][-1]["status"])' "$1" "$2"
}

sysctl_is() { [ "$(sysctl -n "$1")" = "$2" ]; }
no_swap() { [ "$(wc -l </proc/swaps)" -eq 1 ]; }
systemd_cgroup() { containerd config dump | grep -Eq '^\s*SystemdCgroup = true'; }

# The node prep that must hold after apply and after every boot.
prep_holds() {
    check "br_netfilter loaded" grep -q '^br_netfilter ' /proc/modules
    check "overlay loaded" sh -c 'grep -q "^overlay " /proc/modules || test -d /sys/module/overlay'
    check "bridge-nf-call-iptables = 1" sysctl_is net.bridge.bridge-nf-call-iptables 1
    check "bridge-nf-call-ip6tables = 1" sysctl_is net.bridge.bridge-nf-call-ip6tables 1
    check "ip_forward = 1" sysctl_is net.ipv4.ip_forward 1
    check "no active swap" no_swap
    check "containerd active" systemctl is-active containerd
    check "SystemdCgroup = true in containerd config dump" systemd_cgroup
}

# prop UNIT PROPERTY: one systemd property of a unit.
prop() { systemctl show -p "$2" --value "$1"; }
# oneshot_done UNIT: a oneshot unit ran in this boot and ended active (exited) with exit 0.
oneshot_done() {
    [ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" = active/exited ] \
        && [ "$(prop "$1" Result)" = success ] \
        && [ "$(prop "$1" ExecMainStatus)" = 0 ] \
        && [ "$(prop "$1" ExecMainStartTimestampMonotonic)" -gt 0 ]
}
# journal_lines: lines in bootstrap's change journal (one per change applied).
journal_lines() { wc -l </var/lib/bootstrap/journal.jsonl; }
# kubelet_starts: how many times the kubelet stand-in started in this boot.
kubelet_starts() { grep -c "^$(cat /proc/sys/kernel/random/boot_id) " /var/log/kubelet-standin.starts 2>/dev/null || echo 0; }
