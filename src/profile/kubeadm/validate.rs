//! Contradictions in `[kubeadm]`, and between it and `[node]` / `[kubernetes]`, each a
//! located diagnostic with the fix.

use std::net::IpAddr;

use super::super::Profile;
use super::super::diagnostic::Diagnostic;
use super::super::locate::{Seg, keys};
use super::super::node::Role;
use super::super::validate::rfc1123_problem;
use super::{Kubeadm, Mode};

fn at(path: &[&str]) -> Vec<Seg> {
    let mut full = vec!["kubeadm"];
    full.extend_from_slice(path);
    keys(&full)
}

/// Contradictions in `[kubeadm]` (and between it and `[node]`/`[kubernetes]`).
pub fn validate(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let Some(k) = &profile.kubeadm else { return };
    let role = profile.node.role;
    let mode = k.mode(role);
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
        if vip.interface.is_empty()
            || vip.interface.len() > 15
            || vip.interface.contains(['/', ' ', ':'])
        {
            out.push(
                Diagnostic::at(
                    at(&["kube_vip", "interface"]),
                    format!("invalid interface name `{}`", vip.interface),
                )
                .expected("a network interface name such as eth1"),
            );
        }
    }
}
