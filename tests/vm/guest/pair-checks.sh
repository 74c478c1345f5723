# Checks shared by both nodes of the two-node pair (sourced after checks.sh).
first=/var/log/bootstrap/first-boot.json

# converged_half NODE: a second apply changes nothing and runs no kubeadm (half of
# two-nodes-converged; the host counts the scenario passed only when both halves pass).
converged_half() {
    local node=$1 rc calls
    calls=$(grep -cE '^kubeadm (init|join) ' /var/log/kubeadm-standin.log)
    $bs apply --profile "$profile" --output json >/tmp/second.json 2>/tmp/second.err
    rc=$?
    scenario "two-nodes-converged-$node" converged_checks "$rc" "$calls"
}
converged_checks() {
    check "second apply exits 0" test "$1" = 0
    check "second apply reports 0 changes" test "$(summary /tmp/second.json changes)" = 0
    check "kubeadm not run again ($2 calls before)" test "$(grep -cE '^kubeadm (init|join) ' /var/log/kubeadm-standin.log)" = "$2"
    echo "second apply in VM: $(summary /tmp/second.json duration_ms) ms"
}

# host_tools_half NODE: issue 19 on a minimal image with packages.method = "binary".
host_tools_half() {
    scenario "binary-host-tools-$1" host_tools_checks
}
host_tools_checks() {
    local t
    check "before apply conntrack, socat and ethtool were missing (the minimal image)" \
        sh -c 'for t in conntrack socat ethtool; do grep -qx "$t missing" /var/log/host-tools-before || exit 1; done'
    for t in conntrack socat ethtool ebtables; do
        if grep -qx "$t missing" /var/log/host-tools-before; then
            check "$t installed by the packages step: the Debian package, from the mirror" \
                sh -c "command -v $t && dpkg-query -W -f '\${Status}' $t | grep -q 'install ok installed' && grep -q \"^Package: $t\$\" /mnt/share/mirror/debian/Packages"
        else
            check "$t was already on the image ($(dpkg -S "$(readlink -f "$(command -v $t)")" 2>/dev/null | cut -d: -f1))" command -v $t
        fi
    done
    check "negative control: before apply the same stand-in's preflight warned about socat and ethtool" \
        sh -c 'grep -qF "[WARNING FileExisting-socat]: socat not found in system path" /var/log/preflight-before.out && grep -qF "[WARNING FileExisting-ethtool]" /var/log/preflight-before.out'
    check "apt fetched them from the signed mirror (InRelease verified)" sh -c 'ls /var/lib/apt/lists/*_debian_InRelease'
    read -r version crictl </mnt/share/mirror/versions
    for t in kubeadm kubelet kubectl; do
        check "/usr/local/bin/$t is the release file of $version, sha256-verified" \
            cmp -s /usr/local/bin/$t /mnt/share/mirror/release/v$version/bin/linux/amd64/$t
    done
    check "crictl $crictl from the cri-tools tarball" sh -c "/usr/local/bin/crictl --version | grep -q 'crictl version v$crictl'"
    check "kubeadm's preflight (the stand-in's, kubeadm's checks) ran and passed" \
        grep -Eq '^== .*kubeadm-standin (init|join) .*\(exit 0\)$' /var/log/kubeadm-standin.out
    check "... without an error or a FileExisting warning" \
        sh -c '! grep -E "\[(ERROR|WARNING) FileExisting" /var/log/kubeadm-standin.out'
}
