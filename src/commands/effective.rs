//! The effective profile of `profile show`: every default the agent would use.
//!
//! Two kinds of default:
//! - **constants** (a port, a subnet, a timeout) are filled into the profile itself, so the
//!   shown profile, fed back, is the same effective profile;
//! - **derived** values (from another key, the machine, the environment, the installed
//!   kubeadm) and **unset** optional features are [`Note`]s: shown as commented keys in the
//!   TOML (filling them in would pin what follows something else) and listed in JSON.

use serde::Serialize;

use crate::profile::kubeadm::{DEFAULT_POD_SUBNET, DEFAULT_SERVICE_SUBNET, Kubeadm, Mode};
use crate::profile::kubernetes::default_pause_image;
use crate::profile::packages::Method;
use crate::profile::{AddressSource, Profile, Role};

/// A key the effective profile does not carry as a value: derived at run time, or unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// The table it belongs to (`kubeadm.secrets`; empty for the top level).
    pub table: String,
    /// The key within that table.
    pub key: String,
    /// The value the agent would use, when it is known without the machine.
    pub value: Option<serde_json::Value>,
    /// Where the value comes from, or what leaving the key out means.
    pub meaning: String,
}

/// The profile with constant defaults filled in, and notes for every other key.
pub fn effective(profile: &Profile) -> (Profile, Vec<Note>) {
    let mut p = profile.clone();
    let mut notes = Notes::default();
    node_notes(&p, &mut notes);
    containerd_notes(&p, &mut notes);
    packages_notes(&p, &mut notes);
    if p.upgrade.drain.kubeconfig.is_none() {
        notes.unset(
            "upgrade.drain",
            "kubeconfig",
            "a control plane drains with /etc/kubernetes/admin.conf; a worker needs one (or skip = true) to be upgraded",
        );
    }
    if p.kubernetes.is_none() {
        notes.unset(
            "",
            "kubernetes",
            "node preparation only: no packages, no kubeadm",
        );
    }
    if p.access.is_none() {
        notes.unset(
            "",
            "access",
            "no RBAC objects (namespaces, service accounts, roles, bindings) are made",
        );
    }
    let socket = p.containerd.socket.clone();
    let address = match &p.node.address {
        AddressSource::Literal(ip) => Some(*ip),
        _ => None,
    };
    match p.kubeadm.as_mut() {
        Some(k) => kubeadm(k, p.node.role, &socket, address, &mut notes),
        None => notes.unset("", "kubeadm", "no cluster formation (kubeadm init/join)"),
    }
    (p, notes.0)
}

#[derive(Default)]
struct Notes(Vec<Note>);

impl Notes {
    fn derived(&mut self, table: &str, key: &str, value: impl Serialize, meaning: &str) {
        self.push(table, key, serde_json::to_value(value).ok(), meaning);
    }

    fn unset(&mut self, table: &str, key: &str, meaning: &str) {
        self.push(table, key, None, &format!("not set: {meaning}"));
    }

    fn push(&mut self, table: &str, key: &str, value: Option<serde_json::Value>, meaning: &str) {
        self.0.push(Note {
            table: table.into(),
            key: key.into(),
            value,
            meaning: meaning.into(),
        });
    }
}

fn node_notes(p: &Profile, notes: &mut Notes) {
    if p.node.name.is_empty() {
        notes.push(
            "node",
            "name",
            None,
            "the machine's hostname, lowercased (/proc/sys/kernel/hostname, else /etc/hostname), as kubeadm defaults it",
        );
    }
}

fn containerd_notes(p: &Profile, notes: &mut Notes) {
    let c = &p.containerd;
    if c.sandbox_image.is_none() {
        match &p.kubernetes {
            Some(k) => match default_pause_image(k.version, &k.image_repository) {
                Some(image) => notes.derived(
                    "containerd",
                    "sandbox_image",
                    image,
                    "kubeadm's pause image: `kubeadm config images list` when kubeadm is installed, else this documented value",
                ),
                None => notes.push(
                    "containerd",
                    "sandbox_image",
                    None,
                    &format!(
                        "kubeadm's pause image from `kubeadm config images list` (bootstrap's table has no entry for {}.{}: never guessed)",
                        k.version.major, k.version.minor
                    ),
                ),
            },
            None => notes.unset("containerd", "sandbox_image", "left as containerd has it"),
        }
    }
    if c.mirrors.is_empty() {
        notes.unset(
            "containerd",
            "mirrors",
            "images are pulled from their registries",
        );
    }
}

fn packages_notes(p: &Profile, notes: &mut Notes) {
    let pk = &p.packages;
    if pk.cri_tools_version.is_none() {
        match (&p.kubernetes, pk.method) {
            (Some(k), Method::Binary | Method::Bundle) => notes.derived(
                "packages",
                "cri_tools_version",
                format!("{}.{}.0", k.version.major, k.version.minor),
                "the Kubernetes minor with patch 0",
            ),
            _ => notes.unset(
                "packages",
                "cri_tools_version",
                "apt: the repository's cri-tools, not pinned; none: not installed",
            ),
        }
    }
    if pk.cni_plugins.is_none() {
        notes.unset(
            "packages",
            "cni_plugins",
            "the CNI plugins are not installed by this step",
        );
    }
    if pk.bundle.is_none() {
        notes.unset("packages", "bundle", "used by method = \"bundle\" only");
    }
    if pk.proxy.is_none() {
        notes.push(
            "packages",
            "proxy",
            None,
            "HTTPS_PROXY (or HTTP_PROXY) from the environment",
        );
    }
    if pk.no_proxy.is_none() {
        notes.push(
            "packages",
            "no_proxy",
            None,
            "NO_PROXY from the environment",
        );
    }
}

/// Fills `[kubeadm]`'s constant defaults (only where this node uses them, so the shown
/// profile stays valid) and notes the rest.
fn kubeadm(
    k: &mut Kubeadm,
    role: Role,
    socket: &str,
    address: Option<crate::values::Ip>,
    notes: &mut Notes,
) {
    let t = "kubeadm";
    if k.mode.is_none() && role == Role::Worker {
        k.mode = Some(Mode::Join);
    }
    if k.mode == Some(Mode::Init) {
        k.pod_subnet.get_or_insert(DEFAULT_POD_SUBNET);
        k.service_subnet.get_or_insert(DEFAULT_SERVICE_SUBNET);
        if k.kube_proxy_mode.is_none() {
            notes.derived(
                t,
                "kube_proxy_mode",
                "iptables",
                "kube-proxy's own default on Linux",
            );
        }
    } else {
        for key in ["pod_subnet", "service_subnet", "kube_proxy_mode"] {
            notes.unset(
                t,
                key,
                "init only: the cluster's, set on the node that ran kubeadm init",
            );
        }
    }
    if k.control_plane_endpoint.is_none() {
        notes.unset(
            t,
            "control_plane_endpoint",
            "the API server is reached at this control plane's advertise address",
        );
    }
    if k.advertise_address.is_none() {
        match (role, address) {
            (Role::ControlPlane, Some(ip)) => {
                notes.derived(t, "advertise_address", ip, "the node address")
            }
            (Role::ControlPlane, None) => notes.push(
                t,
                "advertise_address",
                None,
                "the node address, found on the machine (node.address)",
            ),
            (Role::Worker, _) => notes.unset(t, "advertise_address", "control planes only"),
        }
    }
    if k.cri_socket.is_none() {
        notes.derived(
            t,
            "cri_socket",
            Kubeadm::cri_socket_for(socket),
            "follows containerd.socket",
        );
    }
    list_notes(k, notes);
    nested_notes(k, notes);
    if k.cni.is_none() {
        notes.unset(t, "cni", "no pod network add-on is applied");
    }
    if k.kube_vip.is_none() {
        notes.unset(t, "kube_vip", "no kube-vip static pod");
    }
}

/// Notes for `[kubeadm]`'s lists and tables left empty.
fn list_notes(k: &Kubeadm, notes: &mut Notes) {
    let t = "kubeadm";
    if k.cert_sans.is_empty() {
        notes.unset(t, "cert_sans", "kubeadm's own names and addresses only");
    }
    if k.ignore_preflight_errors.is_empty() {
        notes.unset(
            t,
            "ignore_preflight_errors",
            "every kubeadm preflight check counts",
        );
    }
    if k.kubeconfig_user.is_none() {
        notes.unset(t, "kubeconfig_user", "no user gets a copy of admin.conf");
    }
    for (name, table) in k.extra_args.tables() {
        if table.is_empty() {
            let meaning = if name == "kubelet" {
                "none beyond node-ip (the node address)"
            } else {
                "none"
            };
            notes.unset("kubeadm.extra_args", name, meaning);
        }
    }
}

/// Notes for `[kubeadm.secrets]` and `[kubeadm.cni]`.
fn nested_notes(k: &Kubeadm, notes: &mut Notes) {
    let s = &k.secrets;
    let t = "kubeadm.secrets";
    let unset = [
        (
            "bundle",
            s.bundle.is_none(),
            "secrets come from the keys below (or init makes them)",
        ),
        (
            "token",
            s.token.is_none(),
            "from the bundle or the join command when given; init makes one",
        ),
        (
            "ca_cert_hash",
            s.ca_cert_hash.is_none(),
            "from the bundle or the join command when given",
        ),
        (
            "certificate_key",
            s.certificate_key.is_none(),
            "from the bundle when given; only control planes use it",
        ),
        (
            "join_command",
            s.join_command.is_none(),
            "a join uses control_plane_endpoint with the token and CA hash",
        ),
    ];
    for (key, _, meaning) in unset.iter().filter(|(_, none, _)| *none) {
        notes.unset(t, key, meaning);
    }
    if let Some(cni) = &k.cni {
        for (key, none) in [
            ("manifest", cni.manifest.is_none()),
            ("url", cni.url.is_none()),
            ("sha256", cni.sha256.is_none()),
        ] {
            if none {
                notes.unset(
                    "kubeadm.cni",
                    key,
                    "the other way of giving the manifest is used",
                );
            }
        }
    }
}
