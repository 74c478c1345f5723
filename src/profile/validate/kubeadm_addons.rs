//! `[kubeadm.cni]` and `[kubeadm.kube_vip]`: the add-ons the first control plane installs.

use std::net::IpAddr;

use super::kubeadm::at;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::kubeadm::{Cni, KubeVip, Kubeadm};
use crate::values::image::image_reference_problem;
use crate::values::name::{interface_name_ok, rfc1123_problem};

/// Every check on the add-ons.
pub(super) fn validate_addons(k: &Kubeadm, out: &mut Vec<Diagnostic>) {
    if let Some(cni) = &k.cni {
        check_cni(cni, out);
    }
    if let Some(vip) = &k.kube_vip {
        check_kube_vip(k, vip, out);
    }
}

/// A short name, and exactly one manifest source: a node path, or a pinned URL.
fn check_cni(cni: &Cni, out: &mut Vec<Diagnostic>) {
    if rfc1123_problem(&cni.name).is_some() || cni.name.contains('.') {
        out.push(
            Diagnostic::at(
                at(&["cni", "name"]),
                format!("invalid add-on name `{}`", cni.name),
            )
            .expected("a short lowercase name such as flannel or calico"),
        );
    }
    match (&cni.manifest, &cni.url) {
        (Some(_), Some(_)) | (None, None) => out.push(
            Diagnostic::at(
                at(&["cni"]),
                "the CNI add-on needs exactly one of manifest and url",
            )
            .expected("manifest = \"/path/on/node.yaml\" or url = \"https://…\" with sha256"),
        ),
        (None, Some(url)) => check_cni_url(cni, url, out),
        (Some(path), None) => {
            if !path.starts_with('/') {
                out.push(
                    Diagnostic::at(
                        at(&["cni", "manifest"]),
                        format!("manifest path `{path}` is relative"),
                    )
                    .expected("an absolute path on the node"),
                );
            }
        }
    }
    if let Some(sum) = &cni.sha256
        && !(sum.len() == 64
            && sum
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        out.push(
            Diagnostic::at(at(&["cni", "sha256"]), format!("invalid SHA-256 `{sum}`"))
                .expected("64 lowercase hex characters, as sha256sum prints"),
        );
    }
}

/// A downloaded manifest: an http(s) URL, pinned by its SHA-256.
fn check_cni_url(cni: &Cni, url: &str, out: &mut Vec<Diagnostic>) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        out.push(
            Diagnostic::at(at(&["cni", "url"]), format!("invalid URL `{url}`"))
                .expected("an https:// URL"),
        );
    }
    if cni.sha256.is_none() {
        out.push(
            Diagnostic::at(at(&["cni", "url"]), "a downloaded manifest must be pinned")
                .expected("sha256 = the manifest's SHA-256 (sha256sum)")
                .help(
                    "without a pin, whatever the URL serves today would be applied to the cluster",
                ),
        );
    }
}

/// The VIP is the control-plane endpoint; the interface and image are well formed.
fn check_kube_vip(k: &Kubeadm, vip: &KubeVip, out: &mut Vec<Diagnostic>) {
    let matches = k
        .control_plane_endpoint
        .as_ref()
        .is_some_and(|e| e.host.parse::<IpAddr>().ok() == Some(vip.address.0));
    if !matches {
        out.push(
            Diagnostic::at(
                at(&["kube_vip", "address"]),
                format!(
                    "kube-vip holds {}, but control_plane_endpoint is not that address",
                    vip.address
                ),
            )
            .expected(format!("control_plane_endpoint = \"{}:6443\"", vip.address))
            .help("every node reaches the API through the VIP kube-vip announces"),
        );
    }
    if !interface_name_ok(&vip.interface) {
        out.push(
            Diagnostic::at(
                at(&["kube_vip", "interface"]),
                format!("invalid interface name `{}`", vip.interface.escape_debug()),
            )
            .expected("a network interface name of 1-15 characters without `/`, `:`, spaces or control characters, such as eth1")
            .help("list interfaces with `ip -br link`"),
        );
    }
    if let Some(problem) = image_reference_problem(&vip.image) {
        out.push(
            Diagnostic::at(
                at(&["kube_vip", "image"]),
                format!("invalid image reference `{}`: {problem}", vip.image.escape_debug()),
            )
            .expected("REGISTRY/PATH:TAG or REGISTRY/PATH@sha256:DIGEST, such as ghcr.io/kube-vip/kube-vip:v1.2.3")
            .help("remove the key to use the pinned default image"),
        );
    }
}
