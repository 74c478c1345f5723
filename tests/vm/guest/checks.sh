# Checks shared by the guest scripts of the VM scenarios (sourced inside the VM).
bs=/usr/local/bin/bootstrap
profile=/etc/bootstrap/profile.toml
failed_checks=0

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
