# The worker of the two-node pair (cluster-worker-1.toml, packages.method = "binary"),
# booted first on the private link: scenarios two-nodes-join, two-nodes-converged (its
# half), wrong-ca-pin and binary-host-tools (its half). cloud-init ran `bootstrap apply`;
# its kubeadm join (the stand-in, tests/vm/guest/standins/kubeadm-cluster) discovered the
# control plane over HTTPS on 192.168.33.13:6443.
. /mnt/share/checks.sh
. /mnt/share/pair-checks.sh

join_yaml=/var/lib/bootstrap/kubeadm/join.yaml

two_nodes_join() {
    check "first apply exited 0" test "$(summary $first exit_code)" = 0
    check "the kubeadm step changed the node (joined)" test "$(status $first kubeadm)" = changed
    check "eth on the private link: 192.168.33.14/24, nothing else but loopback" \
        sh -c 'ip -4 -o addr show | grep -q " 192.168.33.14/24" && [ "$(ip -4 -o addr show | grep -vc " lo ")" = 1 ]'
    check "discovery failed at least once before the control plane answered (booted first)" \
        grep -q 'Failed to request cluster-info, will try again: failed to request the cluster-info ConfigMap' /var/log/kubeadm-discovery.log
    check "then verified the JWS and the CA pin and fetched again over verified TLS" \
        grep -q 'TLS certificate validates against pinned roots, will use API Server "192.168.33.13:6443"' /var/log/kubeadm-discovery.log
    check "the worker got no CA from the bundle (only token and ca-cert-hash)" \
        sh -c '[ "$(ls /etc/bootstrap/cluster | tr "\n" " ")" = "ca-cert-hash token " ]'
    check "its /etc/kubernetes/pki/ca.crt is the bundle's CA, received over the network" \
        sh -c '[ "$(sha256sum </etc/kubernetes/pki/ca.crt | cut -d" " -f1)" = "$(cat /mnt/share/expect-ca.sha256)" ]'
    check "kubelet.conf written and the kubelet restarted by the join (active)" \
        sh -c 'test -s /etc/kubernetes/kubelet.conf && systemctl is-active --quiet kubelet'
    check "the kubelet stand-in started in this boot ($(kubelet_starts) starts)" test "$(kubelet_starts)" -ge 1
    check "the join's node name is worker-1" grep -q '^  name: "\{0,1\}worker-1' "$join_yaml"
}

wrong_ca_pin() {
    local before rc
    before=$(sha256sum /etc/kubernetes/kubelet.conf)
    sed "s/sha256:[0-9a-f]\{64\}/sha256:$(printf 'ab%.0s' $(seq 32))/" "$join_yaml" >/tmp/wrong-pin.yaml
    kubeadm join --config /tmp/wrong-pin.yaml >/tmp/wrong-pin.out 2>&1
    rc=$?
    check "kubeadm join with a wrong --discovery-token-ca-cert-hash exits 1" test "$rc" = 1
    check "it names the CA it found as not pinned (over the wire)" \
        grep -q 'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:[0-9a-f]\{64\}" are pinned' /tmp/wrong-pin.out
    check "bootstrap would not retry it (discovery_failed excludes a pin mismatch)" \
        grep -q 'none of the public keys' /tmp/wrong-pin.out
    secret=$(sed -n 's/.*token: "\{0,1\}\([a-z0-9]\{6\}\)\.\([a-z0-9]\{16\}\).*/\2/p' "$join_yaml" | head -1)
    sed "s/\.$secret/.0000000000000000/" "$join_yaml" >/tmp/wrong-secret.yaml
    kubeadm join --config /tmp/wrong-secret.yaml >/tmp/wrong-secret.out 2>&1
    rc=$?
    check "the right token id with a wrong secret: exits 1, the JWS does not verify" \
        sh -c "[ $rc = 1 ] && grep -q 'failed to verify JWS signature of received cluster info object' /tmp/wrong-secret.out"
    check "positive control: the right config still discovers the control plane" \
        python3 /usr/local/libexec/kubeadm-wire discover "$join_yaml" /tmp/rediscovered
    check "kubelet.conf untouched by the failed joins" test "$before" = "$(sha256sum /etc/kubernetes/kubelet.conf)"
}

scenario two-nodes-join-worker two_nodes_join
converged_half worker
scenario wrong-ca-pin wrong_ca_pin
host_tools_half worker
