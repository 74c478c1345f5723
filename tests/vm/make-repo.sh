#!/usr/bin/env bash
# Builds, at test time, a signed apt repository in the pkgs.k8s.io layout for the VM tier:
#
#   make-repo.sh OUT
#
# OUT/core:/stable:/v1.34/deb/ and v1.35/deb/ are flat repositories (`deb [signed-by=…]
# URL/core:/stable:/v1.35/deb/ /`), as pkgs.k8s.io serves them: the .deb files, Packages,
# Packages.gz, Release, InRelease, Release.gpg and Release.key (the armored signing key).
# Packages kubeadm, kubelet, kubectl (1.34.3; 1.35.1 and 1.35.2) and cri-tools (1.34.0,
# 1.35.0), revision -1.1 like pkgs.k8s.io's, built with dpkg-deb; their programs print what
# the real ones print for the version probes (`kubeadm version -o short`, `kubelet
# --version`, `kubectl version --client`, `crictl --version`). Index and Release files come
# from Debian's own tools (dpkg-scanpackages, apt-ftparchive), signatures from gpg with a
# key made for the test. OUT/core:/stable:/v1.36/deb/ is the same kind of repository signed
# with ANOTHER key while its Release.key is still the first one: apt must refuse it.
# OUT/keyring.gpg is the signing key, binary (what the agent must store).
set -euo pipefail

out=${1:?usage: make-repo.sh OUT}
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"

gpg --batch -q --passphrase '' --quick-gen-key 'bootstrap VM test repository <vm@test.invalid>' ed25519 sign never
gpg --batch -q --passphrase '' --quick-gen-key 'someone else <other@test.invalid>' ed25519 sign never
fpr() { gpg --batch --with-colons --list-keys "$1" | awk -F: '/^fpr:/ { print $10; exit }'; }
good="$(fpr vm@test.invalid)"
other="$(fpr other@test.invalid)"
gpg --batch --export "$good" >"$out/keyring.gpg"

# probe PROGRAM VERSION: the `case` arms answering PROGRAM's version probe as the real one.
probe() {
    local minor=${2#1.}
    minor=${minor%%.*}
    case $1 in
        kubeadm)
            echo "  'version -o short') echo v$2 ;;"
            echo "  version) echo 'kubeadm version: &version.Info{Major:\"1\", Minor:\"$minor\", GitVersion:\"v$2\", GoVersion:\"go1.24.9\", Compiler:\"gc\", Platform:\"linux/amd64\"}' ;;"
            ;;
        kubelet) echo "  --version) echo 'Kubernetes v$2' ;;" ;;
        kubectl)
            echo "  'version --client') echo 'Client Version: v$2'; echo 'Kustomize Version: v5.7.1' ;;"
            echo "  'completion bash') printf '# bash completion V2 for kubectl                            -*- shell-script -*-\\n__start_kubectl() { :; }\\ncomplete -o default -F __start_kubectl kubectl\\n' ;;"
            ;;
        crictl) echo "  --version) echo 'crictl version v$2' ;;" ;;
    esac
}

# deb NAME VERSION PROGRAM DEPENDS DIR: a package holding /usr/bin/PROGRAM into DIR.
deb() {
    local name=$1 version=$2 program=$3 depends=$4 into=$5 dir
    dir="$work/pkg/$name-$version"
    mkdir -p "$dir/DEBIAN" "$dir/usr/bin"
    {
        echo "Package: $name"
        echo "Version: $version-1.1"
        echo "Architecture: amd64"
        echo "Maintainer: bootstrap VM tier <vm@test.invalid>"
        [[ -n $depends ]] && echo "Depends: $depends"
        echo "Section: admin"
        echo "Priority: optional"
        echo "Description: $program $version stand-in for the bootstrap VM tier"
        echo " Answers the version probe as the real $program does; nothing else."
    } >"$dir/DEBIAN/control"
    {
        echo '#!/bin/sh'
        echo "# $program $version stand-in (bootstrap VM tier): only the version probe."
        echo 'case "$*" in'
        probe "$program" "$version"
        echo "  *) echo '$program stand-in: only the version probe is modelled' >&2; exit 1 ;;"
        echo 'esac'
    } >"$dir/usr/bin/$program"
    chmod 0755 "$dir/usr/bin/$program"
    dpkg-deb --root-owner-group -Zxz --build "$dir" "$into/${name}_$version-1.1_amd64.deb" >/dev/null
}

# repo MINOR KEY PATCH...: one minor's repository, signed with KEY.
repo() {
    local minor=$1 key=$2 dir patch
    shift 2
    dir="$out/core:/stable:/v$minor/deb"
    mkdir -p "$dir"
    for patch in "$@"; do
        deb kubelet "$minor.$patch" kubelet "" "$dir"
        deb kubectl "$minor.$patch" kubectl "" "$dir"
        deb kubeadm "$minor.$patch" kubeadm "kubelet (>= $minor.0), kubectl (>= $minor.0), cri-tools (>= $minor.0)" "$dir"
    done
    deb cri-tools "$minor.0" crictl "" "$dir"
    (
        cd "$dir"
        dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages
        gzip -9nk Packages
        apt-ftparchive -o APT::FTPArchive::Release::Origin=obs://build.opensuse.org/isv:kubernetes:core:stable:v$minor/deb \
            -o APT::FTPArchive::Release::Label=isv:kubernetes:core:stable:v$minor release . >"$work/Release"
        mv "$work/Release" Release
        gpg --batch -q --yes -u "$key" --clearsign -o InRelease Release
        gpg --batch -q --yes -u "$key" -abs -o Release.gpg Release
        gpg --batch --armor --export "$good" >Release.key
    )
}

repo 1.34 "$good" 3
repo 1.35 "$good" 1 2
repo 1.36 "$other" 0
echo "$out"
