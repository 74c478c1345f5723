# Boot 3 of the same disk: scenario kubelet-unit. The profile now has a [kubeadm] join;
# bootstrap.service (node prep, Before=kubelet.service) and bootstrap-cluster.service
# (kubeadm, not ordered before the kubelet) ran at boot; kubeadm's stand-in restarted the
# kubelet synchronously, as kubeadm does. This script runs after multi-user.target, so the
# boot completed; the checks show how and in what time. Then a negative control: kubeadm's
# kubelet restart in a oneshot unit finishes, and the identical unit ordered
# Before=kubelet.service (the old single-unit design) deadlocks: the kubelet is not restarted
# and the unit stays activating until its start timeout kills it; only then does the
# kubelet's restart go through.
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
TimeoutStartSec=60
UNIT
    timeout 60 systemctl daemon-reload
}

# until_true SECONDS COMMAND...: polls COMMAND every second; false if it never succeeded.
until_true() {
    local n=$1
    shift
    while ! "$@"; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 1
    done
}
more_starts_than() { [ "$(kubelet_starts)" -gt "$1" ]; }
not_activating() { [ "$(prop kubeadm-like.service ActiveState)" != activating ]; }

old_design() {
    local t0 took rc starts wait
    control_unit ""
    starts=$(kubelet_starts)
    t0=$(date +%s)
    timeout 120 systemctl start kubeadm-like.service
    rc=$?
    took=$(($(date +%s) - t0))
    check "control: not ordered before the kubelet, kubeadm's kubelet restart finishes (exit $rc, $took s) and the kubelet restarts" \
        sh -c "[ $rc = 0 ] && [ $(kubelet_starts) -gt $starts ]"

    control_unit "Before=kubelet.service"
    starts=$(kubelet_starts)
    timeout 60 systemctl start --no-block kubeadm-like.service
    wait=$((took * 2 > 20 ? took * 2 : 20))
    sleep "$wait"
    echo "  (systemd's jobs $wait s after starting the old-design unit:)"
    timeout 30 systemctl list-jobs --no-pager >/tmp/jobs.out
    sed 's/^/    /' /tmp/jobs.out
    # A restart job shows as `start` once its stop half is done.
    check "old design: the kubelet's job is waiting while the unit that asked for it runs (list-jobs)" \
        sh -c "grep -Eq '^ *[0-9]+ +kubelet\.service +(re)?start +waiting' /tmp/jobs.out && grep -Eq '^ *[0-9]+ +kubeadm-like\.service +start +running' /tmp/jobs.out"
    check "old design: ordered Before=kubelet.service, $wait s in (twice the control's time) the kubelet has not been restarted" \
        test "$(kubelet_starts)" = "$starts"
    check "old design: and the unit is still starting (waiting on the kubelet job that waits on it)" \
        test "$(prop kubeadm-like.service ActiveState)" = activating
    until_true 120 not_activating
    check "old design: it ends only by its 60 s start timeout (Result=timeout)" test "$(prop kubeadm-like.service Result)" = timeout
    check "then the kubelet restart goes through: the wait was the ordering" until_true 120 more_starts_than "$starts"
    rm -f /run/systemd/system/kubeadm-like.service
    timeout 60 systemctl daemon-reload
}

scenario kubelet-unit kubelet_unit
scenario old-design-hangs old_design
