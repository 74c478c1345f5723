# The apt node (its own disk, one cloud-init boot): scenarios apt-repo, apt-other-key and
# dpkg-busy. cloud-init's bootcmd started an unattended-upgrades stand-in holding dpkg's lock;
# runcmd served the signed pkgs.k8s.io-layout repository made by make-repo.sh over HTTP on
# loopback, released the lock 5 s after the agent said it was waiting, and ran
# `bootstrap apply` (packages.method = "apt", pinned to 1.35.1 while 1.35.2 is there).
. /mnt/share/checks.sh

keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
sources=/etc/apt/sources.list.d/kubernetes.list
first=/var/log/bootstrap/first-boot.json

version_of() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }
# requests: GET requests the repository's HTTP server has answered so far.
requests() { journalctl -u k8s-repo --no-pager | grep -c '"GET '; }
# with VERSION TIMEOUT: the node's profile at another Kubernetes version and lock timeout.
with() {
    sed -e "s/^version = .*/version = \"$1\"/" -e "s/^dpkg_lock_timeout = .*/dpkg_lock_timeout = \"$2\"/" \
        "$profile" >"/tmp/profile-$1.toml"
    echo "/tmp/profile-$1.toml"
}

apt_repo() {
    local rc before after
    check "first apply succeeded" test "$(summary $first exit_code)" = 0
    check "signing key stored binary, byte for byte the repository's key" cmp -s "$keyring" /mnt/share/repo/keyring.gpg
    check "sources file: the v1.35 repository, signed-by the stored key" \
        grep -qxF "deb [signed-by=$keyring] http://127.0.0.1:8080/core:/stable:/v1.35/deb/ /" "$sources"
    check "apt verified the repository's InRelease signature" sh -c 'ls /var/lib/apt/lists/*v1.35_deb_InRelease'
    check "1.35.2 is the candidate, yet kubeadm is 1.35.1-1.1 (exact pin)" \
        sh -c 'apt-cache policy kubeadm | grep -q "Candidate: 1.35.2-1.1" && [ "$(dpkg-query -W -f "\${Version}" kubeadm)" = 1.35.1-1.1 ]'
    check "kubelet 1.35.1-1.1" test "$(version_of kubelet)" = 1.35.1-1.1
    check "kubectl 1.35.1-1.1" test "$(version_of kubectl)" = 1.35.1-1.1
    check "cri-tools 1.35.0-1.1" test "$(version_of cri-tools)" = 1.35.0-1.1
    check "held: kubeadm kubectl kubelet (apt-mark showhold)" test "$(apt-mark showhold | sort | tr '\n' ' ')" = "kubeadm kubectl kubelet "
    check "the package's kubeadm answers v1.35.1" test "$(kubeadm version -o short)" = v1.35.1
    before=$(requests)
    $bs apply --profile "$profile" --output json >/tmp/apt-rerun.json
    rc=$?
    after=$(requests)
    check "converged re-run exits 0" test "$rc" = 0
    check "converged re-run reports 0 changes" test "$(summary /tmp/apt-rerun.json changes)" = 0
    check "converged re-run downloads nothing ($before requests before, $after after)" test "$before" = "$after"
    echo "apt first apply (incl. the dpkg-lock wait) in VM: $(summary $first duration_ms) ms; converged re-run: $(summary /tmp/apt-rerun.json duration_ms) ms"
}

apt_other_key() {
    local rc
    $bs apply --profile "$(with 1.36.0 5m)" >/tmp/other-key.out 2>&1
    rc=$?
    check "a repository signed with another key: apply exits 1" test "$rc" = 1
    check "apt's refusal is in the error (NO_PUBKEY / not signed)" grep -Eq 'NO_PUBKEY|is not signed' /tmp/other-key.out
    check "the error names the failed apt-get update" grep -q 'apt-get .*update. failed' /tmp/other-key.out
    check "nothing installed from it: kubeadm still 1.35.1-1.1" test "$(version_of kubeadm)" = 1.35.1-1.1
    $bs apply --profile "$profile" >/tmp/back.out 2>&1
    rc=$?
    check "apply with the 1.35.1 profile again exits 0 and repoints to v1.35" \
        sh -c "[ $rc = 0 ] && grep -q 'core:/stable:/v1.35/deb/ /' $sources"
}

dpkg_busy() {
    local holder rc t0 took
    holder=$(cat /run/dpkg-holder.pid)
    check "cloud-init's apply said it was waiting for the lock, naming the holder (process $holder)" \
        grep -qF "waiting for /var/lib/dpkg/lock-frontend, held by process $holder (unattended-upgr)" /var/log/cloud-init-output.log
    check "then it succeeded once the lock was released" test "$(summary $first exit_code)" = 0
    rm -f /run/dpkg-held /run/release-dpkg-2
    systemd-run --quiet --unit=unattended-upgrades-2 /usr/local/sbin/unattended-upgrade /run/release-dpkg-2
    timeout 30 sh -c 'until [ -e /run/dpkg-held ]; do sleep 0.2; done'
    holder=$(cat /run/dpkg-held)
    t0=$(date +%s)
    $bs apply --profile "$(with 1.35.2 3s)" >/tmp/busy.out 2>&1
    rc=$?
    took=$(($(date +%s) - t0))
    touch /run/release-dpkg-2
    check "lock held past packages.dpkg_lock_timeout = 3s: apply exits 1 (after $took s)" sh -c "[ $rc = 1 ] && [ $took -ge 3 ] && [ $took -lt 60 ]"
    check "the error names the holder: process $holder (unattended-upgr)" \
        grep -qF "/var/lib/dpkg/lock-frontend is still held by process $holder (unattended-upgr) after waiting 3s" /tmp/busy.out
    check "nothing installed: kubeadm still 1.35.1-1.1" test "$(version_of kubeadm)" = 1.35.1-1.1
}

scenario apt-repo apt_repo
scenario dpkg-busy dpkg_busy
scenario apt-other-key apt_other_key
