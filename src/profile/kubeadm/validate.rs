//! Contradictions in `[kubeadm]`, and between it and `[node]` / `[kubernetes]`, each a
//! located diagnostic with the fix.

use std::net::IpAddr;

use super::super::Profile;
use super::super::diagnostic::Diagnostic;
use super::super::locate::{Seg, keys};
use super::super::node::Role;
use super::{Kubeadm, Mode};
use crate::values::name::{interface_name_ok, rfc1123_problem};

fn at(path: &[&str]) -> Vec<Seg> {
    let mut full = vec!["kubeadm"];
    full.extend_from_slice(path);
    keys(&full)
}

/// Contradictions in `[kubeadm]` (and between it and `[node]`/`[kubernetes]`).
pub fn validate(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let Some(k) = &profile.kubeadm else { return };
    let role = profile.node.role;
    // A control plane without `mode` is reported below; the other checks then read it as
    // the init it would have been before `mode` was required, so no second complaint
    // follows from the same omission.
    let mode = match (k.mode, role) {
        (Some(mode), _) => mode,
        (None, Role::ControlPlane) => Mode::Init,
        (None, Role::Worker) => Mode::Join,
    };
    if profile.kubernetes.is_none() {
        out.push(
            Diagnostic::at(
                keys(&["kubeadm"]),
                "[kubeadm] needs the Kubernetes version from [kubernetes]",
            )
            .expected("a [kubernetes] section with version = \"MAJOR.MINOR.PATCH\"")
            .help("add [kubernetes] with version = \"1.35.2\" (the release kubeadm deploys)"),
        );
    }
    if role == Role::ControlPlane && k.mode.is_none() {
        out.push(
            Diagnostic::at(keys(&["kubeadm"]), "kubeadm.mode is not set on a control plane")
                .expected("mode = \"init\" on exactly one control plane (the cluster's first), mode = \"join\" on every other")
                .help("a profile used on several control planes would otherwise make each of them run `kubeadm init` and build its own cluster; add mode = \"init\" to the first control plane's profile only"),
        );
    }
    check_cri_socket(profile, k, out);
    if role == Role::Worker {
        if mode == Mode::Init {
            out.push(
                Diagnostic::at(at(&["mode"]), "a worker cannot run `kubeadm init`")
                    .expected("mode = \"join\" on a worker (or role = \"control-plane\")")
                    .help("only the first control plane initialises the cluster"),
            );
        }
        for key in k.control_plane_only_keys() {
            out.push(
                Diagnostic::at(
                    at(&key),
                    format!(
                        "`{}` is a control-plane setting, but node.role is worker",
                        key.join(".")
                    ),
                )
                .expected("control-plane settings only on control-plane nodes")
                .help("remove it from the worker's profile"),
            );
        }
    }
    if mode == Mode::Join {
        for key in k.init_only_keys() {
            let name = key.join(".");
            out.push(
                Diagnostic::at(
                    at(&key),
                    format!("`{name}` is an init setting, but this node joins an existing cluster"),
                )
                .expected("cluster settings only on the node that runs kubeadm init")
                .help("move it to the first control plane's profile"),
            );
        }
    }
    let has_command = k.secrets.join_command.is_some();
    if k.control_planes > 1 && k.control_plane_endpoint.is_none() {
        out.push(
            Diagnostic::at(at(&["control_planes"]), format!("{} control planes are declared, but there is no control_plane_endpoint", k.control_planes))
                .expected("control_plane_endpoint = a DNS name or virtual IP shared by every control plane")
                .help("set control_plane_endpoint before the first init: it cannot be added to a running cluster without certificate surgery"),
        );
    }
    if k.control_planes == 0 {
        out.push(
            Diagnostic::at(at(&["control_planes"]), "control_planes is 0").expected("1 or more"),
        );
    }
    if role == Role::ControlPlane && mode == Mode::Join && k.control_plane_endpoint.is_none() {
        out.push(
            Diagnostic::at(
                keys(&["kubeadm"]),
                "a second control plane needs control_plane_endpoint (the cluster is HA)",
            )
            .expected("control_plane_endpoint = the shared DNS name or virtual IP")
            .help("set the same control_plane_endpoint on every node"),
        );
    } else if mode == Mode::Join && !has_command && k.control_plane_endpoint.is_none() {
        out.push(
            Diagnostic::at(keys(&["kubeadm"]), "a joining node needs to know where the API server is")
                .expected("control_plane_endpoint = \"HOST:PORT\" of the control plane (or secrets.join_command)")
                .help("for the Vagrant layout: control_plane_endpoint = \"192.168.33.13:6443\""),
        );
    }
    let pods = k.pod_subnet();
    let services = k.service_subnet();
    if pods.overlaps(&services) {
        let key = if k.service_subnet.is_some() {
            "service_subnet"
        } else {
            "pod_subnet"
        };
        out.push(
            Diagnostic::at(
                at(&[key]),
                format!("pod_subnet {pods} and service_subnet {services} overlap"),
            )
            .expected("two separate networks, such as 10.244.0.0/16 and 10.96.0.0/12")
            .help("pick a pod network outside the service network"),
        );
    }
    for (i, san) in k.cert_sans.iter().enumerate() {
        if san.parse::<IpAddr>().is_err()
            && rfc1123_problem(&san.trim_start_matches("*.").to_ascii_lowercase()).is_some()
        {
            let mut path = at(&["cert_sans"]);
            path.push(Seg::Index(i));
            out.push(
                Diagnostic::at(path, format!("invalid certificate SAN `{san}`"))
                    .expected("an IP address or DNS name such as k8s.example.com"),
            );
        }
    }
    validate_secrets(k, role, mode, out);
    validate_addons(k, out);
    if let Some(user) = &k.kubeconfig_user
        && (user.is_empty() || user == "root" || user.contains(['/', ':', ' ']))
    {
        out.push(
            Diagnostic::at(at(&["kubeconfig_user"]), format!("invalid user `{user}`"))
                .expected("the name of a regular (non-root) user in /etc/passwd, such as vagrant")
                .help("root can use KUBECONFIG=/etc/kubernetes/admin.conf"),
        );
    }
    if k.discovery.attempts == 0 {
        out.push(
            Diagnostic::at(at(&["discovery", "attempts"]), "discovery.attempts is 0")
                .expected("1 or more"),
        );
    }
    if k.discovery.max_delay.0 < k.discovery.initial_delay.0 {
        out.push(
            Diagnostic::at(
                at(&["discovery", "max_delay"]),
                "max_delay is shorter than initial_delay",
            )
            .expected("max_delay at least initial_delay"),
        );
    }
}

/// `cri_socket`, when given, must name the socket containerd listens on.
fn check_cri_socket(profile: &Profile, k: &Kubeadm, out: &mut Vec<Diagnostic>) {
    let Some(given) = &k.cri_socket else { return };
    let containerd = &profile.containerd.socket;
    // /var/run is a link to /run on every distribution kubeadm supports.
    let canonical = |s: &str| {
        let path = s.strip_prefix("unix://").unwrap_or(s);
        path.strip_prefix("/var")
            .filter(|p| p.starts_with("/run/"))
            .unwrap_or(path)
            .to_string()
    };
    if canonical(given) != canonical(containerd) {
        out.push(
            Diagnostic::at(
                at(&["cri_socket"]),
                format!("cri_socket `{given}` is not the socket containerd listens on (containerd.socket = `{containerd}`)"),
            )
            .expected(format!("{} (or no cri_socket: it follows containerd.socket)", Kubeadm::cri_socket_for(containerd)))
            .help("the kubelet and kubeadm must talk to the socket containerd serves; set the socket once, in containerd.socket"),
        );
    }
}

fn validate_secrets(k: &Kubeadm, role: Role, mode: Mode, out: &mut Vec<Diagnostic>) {
    let s = &k.secrets;
    if s.bundle.is_some() && (s.has_values() || s.join_command.is_some()) {
        out.push(
            Diagnostic::at(
                at(&["secrets", "bundle"]),
                "secrets come from a bundle and from values at once",
            )
            .expected(
                "either secrets.bundle, or token / ca_cert_hash / certificate_key, or join_command",
            )
            .help("keep one source so every node agrees"),
        );
    }
    if let Some(command) = &s.join_command {
        if s.has_values() {
            out.push(
                Diagnostic::at(
                    at(&["secrets", "join_command"]),
                    "join_command and token / ca_cert_hash / certificate_key given together",
                )
                .expected("either a join command or separate values"),
            );
        }
        if mode == Mode::Init {
            out.push(
                Diagnostic::at(
                    at(&["secrets", "join_command"]),
                    "join_command on a node that runs kubeadm init",
                )
                .expected("join_command only on joining nodes"),
            );
        }
        if command.control_plane != (role == Role::ControlPlane) && mode == Mode::Join {
            out.push(
                Diagnostic::at(
                    at(&["secrets", "join_command"]),
                    if command.control_plane {
                        "the join command joins a control plane, but node.role is worker"
                    } else {
                        "the join command joins a worker, but node.role is control-plane"
                    },
                )
                .expected(
                    "--control-plane in the join command exactly when node.role is control-plane",
                ),
            );
        }
    }
    if mode == Mode::Init && s.ca_cert_hash.is_some() {
        out.push(
            Diagnostic::at(at(&["secrets", "ca_cert_hash"]), "ca_cert_hash on the node that creates the CA")
                .expected("ca_cert_hash only on joining nodes; the first control plane needs the CA itself")
                .help("use secrets.bundle (from `bootstrap secrets generate`), which places the CA before init"),
        );
    }
    if mode == Mode::Join && s.bundle.is_none() && s.join_command.is_none() {
        if s.token.is_none() || s.ca_cert_hash.is_none() {
            out.push(
                Diagnostic::at(at(&["secrets"]), "a joining node needs a bootstrap token and the CA hash")
                    .expected("secrets.bundle, or secrets.token with secrets.ca_cert_hash, or secrets.join_command")
                    .help("run `bootstrap secrets generate --out DIR` once and point every profile at it"),
            );
        }
        if role == Role::ControlPlane && s.certificate_key.is_none() {
            out.push(
                Diagnostic::at(at(&["secrets"]), "a joining control plane needs the certificate key")
                    .expected("secrets.certificate_key (the key the first control plane uploaded its certificates with)"),
            );
        }
    }
    if mode == Mode::Init
        && k.control_planes > 1
        && s.bundle.is_none()
        && s.certificate_key.is_none()
    {
        out.push(
            Diagnostic::at(at(&["secrets"]), format!("the first of {} control planes has no certificate key to upload the control-plane certificates with", k.control_planes))
                .expected("secrets.bundle (from `bootstrap secrets generate`), or secrets.certificate_key")
                .help("without it kubeadm makes a random key the other control planes never learn, so they can never join"),
        );
    }
    if let Some(command) = &s.join_command
        && role == Role::ControlPlane
        && command.certificate_key.is_none()
    {
        out.push(
            Diagnostic::at(
                at(&["secrets", "join_command"]),
                "the control-plane join command has no --certificate-key",
            )
            .expected("`--control-plane --certificate-key KEY` in the join command"),
        );
    }
    if let Some(bundle) = &s.bundle
        && !bundle.starts_with('/')
    {
        out.push(
            Diagnostic::at(
                at(&["secrets", "bundle"]),
                format!("bundle path `{bundle}` is relative"),
            )
            .expected("an absolute path on the node, such as /etc/bootstrap/cluster"),
        );
    }
}

fn validate_addons(k: &Kubeadm, out: &mut Vec<Diagnostic>) {
    if let Some(cni) = &k.cni {
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
            (None, Some(url)) => {
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
                            .help("without a pin, whatever the URL serves today would be applied to the cluster"),
                    );
                }
            }
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
    if let Some(vip) = &k.kube_vip {
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
}

/// What is wrong with an image reference, by the grammar of distribution/reference
/// (github.com/distribution/reference, `reference.go`): `[domain[:port]/]path[:tag][@digest]`,
/// path components lowercase `[a-z0-9]+` joined by `.`, `_`, `__` or dashes, a tag
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, a digest `algorithm:hex` (32+ hex characters).
pub fn image_reference_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() || image.len() > 255 {
        return Some("empty or longer than 255 characters");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !ok {
            return Some("the digest is not ALGORITHM:HEX");
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return Some("the tag may hold only letters, digits, `_`, `.` and `-`");
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    let is_domain = parts.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.bytes().any(|b| b.is_ascii_uppercase()));
    if is_domain {
        let (host, port) = first
            .split_once(':')
            .map_or((first, None), |(h, p)| (h, Some(p)));
        let host_ok = !host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !host_ok || port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return Some("the registry is not a host name with an optional port");
        }
        parts.remove(0);
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && c.bytes()
                .last()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && !c.contains("..")
            && !c.contains("___")
    };
    if parts.iter().all(|c| component_ok(c)) {
        None
    } else {
        Some(
            "the repository path may hold only lowercase letters, digits and `.`, `_`, `-` between them",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        for ok in [
            "ghcr.io/kube-vip/kube-vip:v1.2.3",
            "kube-vip/kube-vip",
            "localhost:5000/kube-vip:v1",
            "registry.example.com/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_reference_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "x\n    securityContext:\n      privileged: true",
            "ghcr.io/Kube-Vip/kube-vip:v1",
            "ghcr.io/kube-vip/kube-vip:v1 --privileged",
            "ghcr.io/kube-vip/kube-vip:",
            "ghcr.io/kube-vip/kube-vip@sha256:xyz",
            "a//b",
            "\"quoted\"",
        ] {
            assert!(image_reference_problem(bad).is_some(), "{bad:?}");
        }
    }
}
