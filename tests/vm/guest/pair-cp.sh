# The control plane of the two-node pair (cluster-master.toml, packages.method = "binary"),
# booted after the worker's first failed discovery: scenarios two-nodes-join (its half),
# two-nodes-converged and binary-host-tools (its halves). cloud-init ran `bootstrap apply`;
# its kubeadm init (tests/vm/guest/standins/kubeadm-cluster) started the API server
# stand-in on 192.168.33.13:6443 with the bundle's CA. The script keeps the node up until
# the worker's checks are done (the host creates /mnt/share/worker-done), as the worker's
# wrong-ca-pin checks talk to this API server.
. /mnt/share/checks.sh
. /mnt/share/pair-checks.sh

cp_join() {
    check "first apply exited 0" test "$(summary $first exit_code)" = 0
    check "the kubeadm step changed the node (init)" test "$(status $first kubeadm)" = changed
    check "the bundle's CA is the cluster CA (/etc/kubernetes/pki/ca.crt)" \
        cmp -s /etc/kubernetes/pki/ca.crt /etc/bootstrap/cluster/ca.crt
    check "the API server stand-in is active and listens on :6443" \
        sh -c 'systemctl is-active --quiet kube-apiserver-standin && grep -q ":192B 00000000:0000 0A" /proc/net/tcp'
    check "its certificate is signed by the bundle's CA for 192.168.33.13" \
        sh -c 'openssl verify -CAfile /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/apiserver.crt && openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -ext subjectAltName | grep -q "IP Address:192.168.33.13"'
    check "the worker fetched cluster-info from it over the private link" \
        sh -c 'journalctl -u kube-apiserver-standin --no-pager | grep -q "192.168.33.14 \"GET /api/v1/namespaces/kube-public/configmaps/cluster-info"'
    check "vagrant's kubeconfig is admin.conf, 0600" \
        sh -c 'cmp -s /home/vagrant/.kube/config /etc/kubernetes/admin.conf && [ "$(stat -c %a /home/vagrant/.kube/config)" = 600 ]'
    check "the flannel manifest was applied" grep -q '^applied DaemonSet/kube-flannel-ds' /var/log/kubectl-standin.log
}

scenario two-nodes-join-cp cp_join
converged_half cp
host_tools_half cp
# Keep the API server up for the worker's checks.
timeout 600 sh -c 'until [ -e /mnt/share/worker-done ]; do sleep 1; done' || echo "  (the worker never finished)"
