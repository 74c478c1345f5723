# shellcheck shell=bash
# The two-node pair of the VM tier (sourced by scenarios.sh, which defines work, repo,
# binary, standin, timeout, image_dir, boots and guest_logs): a control plane and a
# worker from the shipped profiles/cluster-master.toml and cluster-worker-1.toml (their
# addresses as shipped, 192.168.33.13 and .14), one secrets bundle made with `bootstrap
# secrets generate`, on a private link between the two qemu processes (a socket netdev
# over UDP on the host's loopback: no user net, no host networking, nothing else
# reachable), booted together, the worker first. Both profiles get the same added
# [packages] section, method = "binary", pointing at a mirror served in each guest on
# loopback from its share: the release files (kubeadm = tests/vm/guest/standins/
# kubeadm-cluster around the sandbox's kubeadm stand-in built for musl, the VM kubelet
# stand-in, kubectl-cluster) with their .sha256 files as dl.k8s.io serves them, a crictl
# tarball, and real Debian packages (conntrack, socat, ethtool, ebtables and what they need
# beyond the image) in a signed flat repository (make-debian-repo.sh) configured as the
# node's Debian mirror. Scenarios:
#   two-nodes-join       the worker's join retried until the control plane's API server
#                        stand-in answered, then verified the JWS and CA pin over HTTPS and
#                        got the bundle's CA over the wire; the control plane initialised
#                        with the bundle's CA and served cluster-info on 192.168.33.13:6443.
#   two-nodes-converged  a second apply on each node changes nothing and runs no kubeadm.
#   wrong-ca-pin         on the worker: kubeadm join with a wrong CA hash fails, naming the
#                        CA it found as not pinned; a wrong token secret fails the JWS; the
#                        right config still discovers (positive control); nothing changed.
#   binary-host-tools    (issue 19) on both: the tools kubeadm's preflight checks were
#                        missing, the packages step installed them from the Debian mirror,
#                        the stand-in's preflight (kubeadm's checks) passed without an error
#                        or a FileExisting warning.

# pair_mirror DIR: the release files, the crictl tarball and the Debian repository, at the
# Kubernetes version the shipped cluster profile names (cri-tools: that minor's .0). The
# release's programs are the stand-ins, answering that version.
pair_mirror() {
    local dir=$1 rel f
    PAIR_VERSION=$(sed -n 's/^version = "\(1\.[0-9]*\.[0-9]*\)"$/\1/p' "$repo/profiles/cluster-master.toml" | head -1)
    [ -n "$PAIR_VERSION" ] || { echo "no [kubernetes] version in profiles/cluster-master.toml" >&2; return 1; }
    PAIR_CRICTL="${PAIR_VERSION%.*}.0"
    rel="$dir/release/v$PAIR_VERSION/bin/linux/amd64"
    mkdir -p "$rel" "$dir/cri-tools/v$PAIR_CRICTL" "$work/crictl"
    printf '%s %s\n' "$PAIR_VERSION" "$PAIR_CRICTL" >"$dir/versions"
    sed "s/^set -u\$/set -u\nexport STANDIN_KUBEADM_VERSION=$PAIR_VERSION/" \
        "$VM_DIR/guest/standins/kubeadm-cluster" >"$rel/kubeadm"
    grep -q "^export STANDIN_KUBEADM_VERSION=$PAIR_VERSION\$" "$rel/kubeadm" \
        || { echo "kubeadm-cluster: no 'set -u' line to follow" >&2; return 1; }
    sed "s/1\.35\.2/$PAIR_VERSION/g" "$VM_DIR/guest/standins/kubelet" >"$rel/kubelet"
    sed "s/1\.35\.2/$PAIR_VERSION/g" "$VM_DIR/guest/standins/kubectl-cluster" >"$rel/kubectl"
    chmod 0755 "$rel/kubeadm" "$rel/kubelet" "$rel/kubectl"
    for f in kubeadm kubelet kubectl; do
        sha256sum "$rel/$f" | cut -d' ' -f1 >"$rel/$f.sha256"   # dl.k8s.io: the digest alone
    done
    printf '#!/bin/sh\n# crictl stand-in (VM tier): only the version probe.\n[ "$*" = --version ] && { echo "crictl version v%s"; exit 0; }\necho "crictl stand-in: not modelled: crictl $*" >&2\nexit 1\n' \
        "$PAIR_CRICTL" >"$work/crictl/crictl"
    chmod 0755 "$work/crictl/crictl"
    f="crictl-v$PAIR_CRICTL-linux-amd64.tar.gz"
    tar -C "$work/crictl" -czf "$dir/cri-tools/v$PAIR_CRICTL/$f" crictl
    (cd "$dir/cri-tools/v$PAIR_CRICTL" && sha256sum "$f" >"$f.sha256")   # GitHub: digest and name
    "$VM_DIR/make-debian-repo.sh" "$dir/debian" "$image_dir/packages.txt" \
        conntrack socat ethtool ebtables >/dev/null 2>"$work/debian-repo.err" \
        || { cat "$work/debian-repo.err" >&2; return 1; }
}

# pair_user_data ADDRESS PROFILE: the node's cloud-config. The shipped profile with the
# [packages] section added; the stand-in's preflight run once before the apply (a join
# config for nowhere: its warnings about the image, then a failed discovery); the private
# link's address given to the virtio NIC (a
# networkd file sorting before the image's 10-harness.network); the mirror as the node's
# Debian source; the bundle copied from the share; then `bootstrap apply`.
pair_user_data() {
    local address=$1 profile=$2
    cat <<USERDATA
#cloud-config
users:
  - name: vagrant
    shell: /bin/bash
bootcmd:
  - [sh, -c, 'for t in conntrack socat ethtool ebtables; do if command -v \$t >/dev/null; then echo "\$t present"; else echo "\$t missing"; fi; done >/var/log/host-tools-before']
write_files:
  - path: /etc/systemd/network/05-cluster.network
    content: |
      [Match]
      Driver=virtio_net

      [Network]
      Address=$address/24
      Gateway=192.168.33.1
      IPv6AcceptRA=no
      LinkLocalAddressing=no
  - path: /etc/apt/sources.list.d/debian.list
    content: |
      deb [signed-by=/etc/apt/keyrings/debian-mirror.gpg] http://127.0.0.1:8080/debian/ /
  - path: /etc/bootstrap/cni/kube-flannel.yml
    content: |
      apiVersion: v1
      kind: Namespace
      metadata:
        name: kube-flannel
      ---
      apiVersion: apps/v1
      kind: DaemonSet
      metadata:
        name: kube-flannel-ds
        namespace: kube-flannel
  - path: /var/lib/preflight-probe/join.yaml
    content: |
      apiVersion: kubeadm.k8s.io/v1beta4
      kind: JoinConfiguration
      discovery:
        bootstrapToken:
          apiServerEndpoint: "192.0.2.1:6443"
          token: "abcdef.0123456789abcdef"
          caCertHashes:
            - "sha256:0000000000000000000000000000000000000000000000000000000000000000"
      nodeRegistration:
        name: "preflight-probe"
  - path: /etc/bootstrap/profile.toml
    permissions: "0644"
    content: |
$(sed 's/^/      /' "$profile")

      [packages]
      method = "binary"
      release_url = "http://127.0.0.1:8080/release"
      cri_tools_url = "http://127.0.0.1:8080/cri-tools"
runcmd:
  - networkctl reload
  - timeout 60 sh -c 'until ip -4 -o addr show | grep -q " $address/24"; do sleep 0.3; done'
  - ip -4 -o addr show | grep -v ' lo ' | grep -v ' $address/24' | awk '{ print \$2, \$4 }' | while read dev a; do ip addr del \$a dev \$dev; done
  - install -D -m 0644 /mnt/share/mirror/debian/keyring.gpg /etc/apt/keyrings/debian-mirror.gpg
  - install -m 0755 /mnt/share/bootstrap /usr/local/bin/bootstrap
  - install -D -m 0755 /mnt/share/kubeadm-standin /usr/local/libexec/kubeadm-standin
  - install -D -m 0755 /mnt/share/standins/kubeadm-wire /usr/local/libexec/kubeadm-wire
  - cp -rp /mnt/share/cluster /etc/bootstrap/cluster
  - SANDBOX_ROOT=/ STANDIN_CLUSTER=/var/lib/preflight-probe/cluster /usr/local/libexec/kubeadm-standin join --config /var/lib/preflight-probe/join.yaml >/var/log/preflight-before.out 2>&1 || true
  - mkdir -p /var/log/bootstrap
  - systemd-run --quiet --unit=mirror python3 -m http.server 8080 --bind 127.0.0.1 --directory /mnt/share/mirror
  - timeout 60 sh -c 'until python3 -c "import urllib.request as u; u.urlopen(\"http://127.0.0.1:8080/\")" 2>/dev/null; do sleep 0.3; done'
  - /usr/local/bin/bootstrap apply --profile /etc/bootstrap/profile.toml --output json > /var/log/bootstrap/first-boot.json
USERDATA
}

# pair_share NAME: a share for one node of the pair.
pair_share() {
    local s="$work/share-$1"
    mkdir -p "$s/cluster"
    chmod 0700 "$s/cluster"
    cp "$binary" "$s/bootstrap"
    cp "$standin" "$s/kubeadm-standin"
    cp "$VM_DIR/guest/checks.sh" "$VM_DIR/guest/pair-checks.sh" "$s/"
    cp "$VM_DIR/guest/pair-$1.sh" "$s/run.sh"
    cp -r "$VM_DIR/guest/standins" "$s/standins"
    cp -r "$work/mirror" "$s/mirror"
    echo "$s"
}

# pair_vm NAME LOG ARGS...: one node's run-vm.sh, in the background; sets pair_pid.
pair_vm() {
    local name=$1
    shift
    "$VM_DIR/run-vm.sh" --quiet --timeout "$timeout" "$@" 2>"$work/pair-$name.err" &
    pair_pid=$!
}

pair_run() {
    local wshare cshare start wpid cpid wrc=0 crc=0 port waited=0
    if [[ ! -x $standin ]]; then
        echo "pair: the musl kubeadm stand-in $standin is missing (cargo build --release" \
            "--target x86_64-unknown-linux-musl --example kubeadm_standin)" >&2
        return 0
    fi
    python3 "$VM_DIR/guest/standins/kubeadm-wire" self-test >&2 || return 0
    "$binary" secrets generate --out "$work/pair-bundle" >/dev/null
    pair_mirror "$work/mirror" || return 0
    wshare="$(pair_share worker)"
    cshare="$(pair_share cp)"
    cp -p "$work/pair-bundle"/* "$cshare/cluster/"
    cp -p "$work/pair-bundle/token" "$work/pair-bundle/ca-cert-hash" "$wshare/cluster/"
    sha256sum <"$work/pair-bundle/ca.crt" | cut -d' ' -f1 >"$wshare/expect-ca.sha256"
    pair_user_data 192.168.33.13 "$repo/profiles/cluster-master.toml" >"$work/cp-user-data"
    pair_user_data 192.168.33.14 "$repo/profiles/cluster-worker-1.toml" >"$work/worker-user-data"
    port=$((20000 + RANDOM % 20000))
    start="$(vm_now)"
    pair_vm worker --share "$wshare" --user-data "$work/worker-user-data" --hostname worker-1 \
        --memory 1024 --netdev "socket,id=net0,udp=127.0.0.1:$((port + 1)),localaddr=127.0.0.1:$port" \
        --mac 52:54:00:33:00:14
    wpid=$pair_pid
    # The worker first: the control plane boots once the worker's join has failed once.
    while kill -0 "$wpid" 2>/dev/null && ! grep -qs 'will try again' "$wshare/discovery.log" \
        && ((waited < timeout)); do
        sleep 1
        waited=$((waited + 1))
    done
    vm_log "pair: worker's first failed discovery after $(vm_elapsed "$start") s; booting the control plane"
    pair_vm cp --share "$cshare" --user-data "$work/cp-user-data" --hostname master \
        --memory 2048 --netdev "socket,id=net0,udp=127.0.0.1:$port,localaddr=127.0.0.1:$((port + 1))" \
        --mac 52:54:00:33:00:13
    cpid=$pair_pid
    wait "$wpid" || wrc=$?
    touch "$cshare/worker-done"
    wait "$cpid" || crc=$?
    local name s rc result
    for name in worker cp; do
        s="$work/share-$name"
        rc=$wrc
        [[ $name == cp ]] && rc=$crc
        result="$(grep -o 'boot-to-result [0-9.]*s' "$work/pair-$name.err" | tail -1 || true)"
        boots+=("pair $name: ${result:-no result} (rc $rc)")
        if [[ -f $s/out.log ]]; then tee "$work/pair-$name.out" <"$s/out.log"; else : >"$work/pair-$name.out"; fi
        [[ $rc -eq 124 || $rc -eq 125 ]] && sed 's/^/  ! /' "$work/pair-$name.err" >&2
        if grep -q '^SCENARIO .* FAIL$' "$work/pair-$name.out" || [[ $rc -ne 0 ]]; then
            guest_logs "pair-$name" "$s"
        fi
    done
    boots+=("pair, both nodes: $(vm_elapsed "$start") s wall")
}
