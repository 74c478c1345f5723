# Boot 3 of the same disk: scenario kubelet-unit. The profile now has a [kubeadm] join;
# bootstrap.service (node prep, Before=kubelet.service) and bootstrap-cluster.service
# (kubeadm, not ordered before the kubelet) ran at boot; kubeadm's stand-in restarted the
# kubelet synchronously, as kubeadm does. This script runs after multi-user.target, so the
# boot completed; the checks show how and in what time. Then a negative control: kubeadm's
# kubelet restart in a oneshot unit finishes, and the identical unit ordered
# Before=kubelet.service (the old single-unit design) deadlocks: systemd's job list shows the
# kubelet's restart job waiting on the unit that is waiting for it, and nothing moves.
. /mnt/share/checks.sh

# secs_between A B: seconds from monotonic µs timestamp A to B, one decimal.
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

kubelet_unit() {
    local start done took rc
    check "bootstrap.service (prep) ended active (exited), exit 0" oneshot_done bootstrap.service
    check "bootstrap-cluster.service (kubeadm) ended active (exited), exit 0" oneshot_done bootstrap-cluster.service
    check "bootstrap-cluster.service started after bootstrap.service finished" \
        test "$(prop bootstrap-cluster.service ExecMainStartTimestampMonotonic)" -ge "$(prop bootstrap.service ActiveEnterTimestampMonotonic)"
    check "kubeadm join ran and its \`systemctl restart kubelet\` returned" grep -q 'join: kubelet restarted' /var/log/kubeadm-standin.log
    check "the kubelet was started at boot and restarted by kubeadm (2 starts in this boot)" test "$(kubelet_starts)" -ge 2
    check "kubelet.service active" systemctl is-active kubelet.service
    check "the join was recorded (member marker)" test -e /var/lib/bootstrap/kubeadm/member
    check "bootstrap.service applied nothing (prep converged)" sh -c 'journalctl -b -u bootstrap.service --no-pager | grep -Eq "(^| )0 changes"'
    start=$(prop bootstrap-cluster.service ExecMainStartTimestampMonotonic)
    done=$(prop bootstrap-cluster.service ActiveEnterTimestampMonotonic)
    took=$(secs_between "$start" "$done")
    check "bootstrap-cluster.service finished within 60 s (took $took s)" awk -v t="$took" 'BEGIN { exit !(t < 60) }'
    echo "kubelet-unit in VM: bootstrap-cluster.service done $(secs_between 0 "$done") s after boot (its run took $took s)"
    $bs apply --profile "$profile" --output json >/tmp/joined-rerun.json
    rc=$?
    check "a full apply on the joined node exits 0" test "$rc" = 0
    check "a full apply on the joined node changes nothing" test "$(summary /tmp/joined-rerun.json changes)" = 0
}

# The work kubeadm does to the kubelet, in a oneshot unit; $1 = extra [Unit] line.
control_unit() {
    cat >/run/systemd/system/kubeadm-like.service <<UNIT
[Unit]
Description=negative control: kubeadm's kubelet restart in a oneshot unit
$1
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'systemctl daemon-reload && systemctl restart kubelet'
TimeoutStartSec=300
UNIT
    systemctl daemon-reload
}

# deadlocked: kubelet's restart job waits while the unit that asked for it is still starting.
deadlocked() {
    local jobs
    jobs=$(systemctl list-jobs --no-legend --no-pager)
    echo "$jobs" | grep -Eq '^ *[0-9]+ +kubelet\.service +restart +waiting' \
        && echo "$jobs" | grep -Eq '^ *[0-9]+ +kubeadm-like\.service +start +running'
}

old_design() {
    local t0 took rc starts i stuck
    control_unit ""
    starts=$(kubelet_starts)
    t0=$(date +%s)
    timeout 240 systemctl start kubeadm-like.service
    rc=$?
    took=$(($(date +%s) - t0))
    check "control: not ordered before the kubelet, kubeadm's kubelet restart finishes (exit $rc, $took s) and the kubelet restarts" \
        sh -c "[ $rc = 0 ] && [ $(kubelet_starts) -gt $starts ]"

    control_unit "Before=kubelet.service"
    starts=$(kubelet_starts)
    systemctl start --no-block kubeadm-like.service
    for i in $(seq 240); do
        deadlocked && break
        sleep 0.5
    done
    systemctl list-jobs --no-pager
    check "old design: ordered Before=kubelet.service, the kubelet's restart job waits on the unit that waits for it" deadlocked
    sleep 10
    stuck=no
    if deadlocked && [ "$(kubelet_starts)" = "$starts" ]; then stuck=yes; fi
    check "old design: 10 s later still stuck (kubelet not restarted, both jobs still there)" test "$stuck" = yes
    systemctl stop kubeadm-like.service
    check "breaking the cycle (stopping that unit) lets the kubelet restart" \
        timeout 120 sh -c "until systemctl is-active -q kubelet.service; do sleep 0.5; done"
    rm -f /run/systemd/system/kubeadm-like.service
    systemctl daemon-reload
}

scenario kubelet-unit kubelet_unit
scenario old-design-hangs old_design
