#!/usr/bin/env bash
# A signed flat apt repository of REAL Debian packages, standing in for deb.debian.org in a
# guest that has no Internet (the VM tier's binary-method scenario):
#
#   make-debian-repo.sh OUT IMAGE_PACKAGES PACKAGE...
#
# Downloads PACKAGE... and every package of their dependency closure that the guest image
# lacks (IMAGE_PACKAGES: the image's `Package Version` list, build-image.sh's packages.txt)
# with this host's apt (Debian 12, the guest's release), into a cache under
# ${BOOTSTRAP_VM_CACHE:-/var/cache/bootstrap-vm}/debian-debs, then builds OUT/ as a flat
# repository (`deb [signed-by=…] URL /`) with Debian's own tools (dpkg-scanpackages,
# apt-ftparchive), signed with a key made for the run (InRelease, Release.gpg). The signing
# key, binary, is OUT/keyring.gpg.
set -euo pipefail

out=${1:?usage: make-debian-repo.sh OUT IMAGE_PACKAGES PACKAGE...}
have=${2:?usage: make-debian-repo.sh OUT IMAGE_PACKAGES PACKAGE...}
shift 2
[[ $# -gt 0 ]] || { echo "make-debian-repo.sh: no packages named" >&2; exit 64; }
cache="${BOOTSTRAP_VM_CACHE:-/var/cache/bootstrap-vm}/debian-debs"
mkdir -p "$out" "$cache"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT

# The dependency closure (Depends and Pre-Depends), minus what the image has.
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" | grep -E '^[a-z0-9]' | sort -u >"$work/closure"
awk '{ print $1 }' "$have" | sort -u >"$work/have"
comm -23 "$work/closure" "$work/have" >"$work/need"
(
    cd "$cache"
    while read -r pkg; do
        ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2
    done <"$work/need"
)
while read -r pkg; do
    cp "$cache/${pkg}"_*.deb "$out/"
done <"$work/need"

export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch -q --passphrase '' --quick-gen-key 'bootstrap VM test Debian mirror <debian@test.invalid>' ed25519 sign never
gpg --batch --export debian@test.invalid >"$out/keyring.gpg"
(
    cd "$out"
    dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages
    gzip -9nk Packages
    apt-ftparchive -o APT::FTPArchive::Release::Origin=Debian -o APT::FTPArchive::Release::Label=Debian \
        -o APT::FTPArchive::Release::Suite=bookworm release . >"$work/Release"
    mv "$work/Release" Release
    gpg --batch -q --yes -u debian@test.invalid --clearsign -o InRelease Release
    gpg --batch -q --yes -u debian@test.invalid -abs -o Release.gpg Release
)
tr '\n' ' ' <"$work/need" >&2
echo >&2
echo "$out"
