//! Contradictions in `[kubeadm]`, and between it and `[node]` / `[kubernetes]`, each a
//! located diagnostic with the fix. The secrets and the add-ons are checked in
//! `kubeadm_secrets.rs` and `kubeadm_addons.rs`.

use std::net::IpAddr;

use super::kubeadm_addons::validate_addons;
use super::kubeadm_secrets::validate_secrets;
use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::kubeadm::{Kubeadm, Mode};
use crate::profile::locate::{Seg, keys};
use crate::profile::node::Role;
use crate::values::name::rfc1123_problem;

/// The key path `kubeadm.<path>`.
pub(super) fn at(path: &[&str]) -> Vec<Seg> {
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
    check_prerequisites(profile, k, out);
    check_cri_socket(profile, k, out);
    check_role_and_mode(k, role, mode, out);
    check_endpoint(k, role, mode, out);
    check_networks(k, out);
    validate_secrets(k, role, mode, out);
    validate_addons(k, out);
    check_user_and_discovery(k, out);
}

/// `[kubernetes]` present, and `mode` set on a control plane.
fn check_prerequisites(profile: &Profile, k: &Kubeadm, out: &mut Vec<Diagnostic>) {
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
    if profile.node.role == Role::ControlPlane && k.mode.is_none() {
        out.push(
            Diagnostic::at(keys(&["kubeadm"]), "kubeadm.mode is not set on a control plane")
                .expected("mode = \"init\" on exactly one control plane (the cluster's first), mode = \"join\" on every other")
                .help("a profile used on several control planes would otherwise make each of them run `kubeadm init` and build its own cluster; add mode = \"init\" to the first control plane's profile only"),
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

/// Settings that belong to a control plane on a worker, and init settings on a joining node.
fn check_role_and_mode(k: &Kubeadm, role: Role, mode: Mode, out: &mut Vec<Diagnostic>) {
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
}

/// The control-plane count, and where a joining node finds the API server.
fn check_endpoint(k: &Kubeadm, role: Role, mode: Mode, out: &mut Vec<Diagnostic>) {
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
}

/// Pod and service networks apart; certificate SANs that are addresses or DNS names.
fn check_networks(k: &Kubeadm, out: &mut Vec<Diagnostic>) {
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
}

/// The kubeconfig user, and the discovery retry settings.
fn check_user_and_discovery(k: &Kubeadm, out: &mut Vec<Diagnostic>) {
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
