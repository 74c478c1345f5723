//! `[kubeadm]`: how this node forms or joins the cluster (kubeadm init or join), the
//! cluster settings the first control plane initialises with, and where the join secrets
//! come from. Contradictions between keys are found by [`validate`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Profile;
use super::diagnostic::Diagnostic;
use super::locate::{Seg, keys};
use super::node::Role;
use super::validate::rfc1123_problem;
use super::values::{Cidr, EXPECTED_SEP, Ip};
use crate::kube::secrets::{CaHash, CertificateKey, Token};

/// The pod network of the classic layout (flannel's default), 10.244.0.0/16.
pub const DEFAULT_POD_SUBNET: Cidr = Cidr {
    address: IpAddr::V4(Ipv4Addr::new(10, 244, 0, 0)),
    prefix: 16,
};
/// kubeadm's default service network, 10.96.0.0/12.
pub const DEFAULT_SERVICE_SUBNET: Cidr = Cidr {
    address: IpAddr::V4(Ipv4Addr::new(10, 96, 0, 0)),
    prefix: 12,
};
/// containerd's CRI socket.
pub const DEFAULT_CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";
/// The API server port kubeadm binds by default.
pub const DEFAULT_BIND_PORT: u16 = 6443;
/// The kube-vip image pinned by default (REFERENCE §9).
pub const DEFAULT_KUBE_VIP_IMAGE: &str = "ghcr.io/kube-vip/kube-vip:v1.2.3";

/// Serialises a type through `Display` and deserialises it through `FromStr`, whose error
/// names what was expected.
macro_rules! serde_as_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A duration written as text: `500ms`, `2s`, `5m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(Span)
            .map_err(|_| {
                format!(
                    "invalid duration `{text}`{EXPECTED_SEP}a duration such as 500ms, 10s, 5m or 1h"
                )
            })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

serde_as_string!(Span);

/// An API endpoint: an IP address or DNS name, with an optional port (`10.0.0.10:6443`,
/// `k8s.example.com`, `[fd00::10]:6443`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address or name (IPv6 without brackets).
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

impl Endpoint {
    /// `host:port`, with `default_port` when none was given (IPv6 in brackets).
    pub fn with_port(&self, default_port: u16) -> String {
        let port = self.port.unwrap_or(default_port);
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "invalid endpoint `{text}`{EXPECTED_SEP}an IP address or DNS name with an optional port, such as 192.168.33.100:6443 or k8s.example.com"
            )
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(expected)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(expected()),
            };
            (host, port)
        } else if text.matches(':').count() > 1 {
            (text, None)
        } else {
            match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(expected)
            })
            .transpose()?;
        let is_ip = host.parse::<IpAddr>().is_ok();
        if !is_ip && rfc1123_problem(host).is_some() {
            return Err(expected());
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(_) => f.write_str(&self.with_port(0)),
            None => f.write_str(&self.host),
        }
    }
}

serde_as_string!(Endpoint);

/// A join command as `kubeadm token create --print-join-command` prints it, taken apart.
/// Shown as `<redacted>` (it holds the token).
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCommand {
    /// The API server endpoint (`host:port`).
    pub endpoint: Endpoint,
    /// The bootstrap token.
    pub token: Token,
    /// The CA hashes to pin.
    pub ca_cert_hashes: Vec<CaHash>,
    /// `--control-plane` was given.
    pub control_plane: bool,
    /// `--certificate-key`, for a control-plane join.
    pub certificate_key: Option<CertificateKey>,
}

impl fmt::Debug for JoinCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinCommand({})", crate::host::REDACTED)
    }
}

const JOIN_EXPECTED: &str = "`kubeadm join HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH` (optionally with --control-plane --certificate-key KEY), as `kubeadm token create --print-join-command` prints it";

impl FromStr for JoinCommand {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid join command: {why}{EXPECTED_SEP}{JOIN_EXPECTED}");
        let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "\\").collect();
        let rest = match words.as_slice() {
            ["kubeadm", "join", rest @ ..] => rest,
            _ => return Err(bad("it does not start with `kubeadm join`")),
        };
        let mut endpoint = None;
        let mut token = None;
        let mut hashes = Vec::new();
        let mut control_plane = false;
        let mut certificate_key = None;
        let mut iter = rest
            .iter()
            .map(|w| w.split_once('=').map_or((*w, None), |(f, v)| (f, Some(v))));
        while let Some((word, inline)) = iter.next() {
            let mut value = |flag: &str| -> Result<String, String> {
                inline
                    .map(str::to_string)
                    .or_else(|| iter.next().map(|(w, _)| w.to_string()))
                    .ok_or_else(|| bad(&format!("{flag} has no value")))
            };
            match word {
                "--token" | "--discovery-token" => {
                    token = Some(value(word)?.parse::<Token>()?);
                }
                "--discovery-token-ca-cert-hash" => hashes.push(value(word)?.parse::<CaHash>()?),
                "--certificate-key" => {
                    certificate_key = Some(value(word)?.parse::<CertificateKey>()?);
                }
                "--control-plane" => control_plane = true,
                flag if flag.starts_with('-') => {
                    return Err(bad(&format!("unsupported flag `{flag}`")));
                }
                address => endpoint = Some(address.parse::<Endpoint>()?),
            }
        }
        Ok(JoinCommand {
            endpoint: endpoint.ok_or_else(|| bad("no API server endpoint"))?,
            token: token.ok_or_else(|| bad("no --token"))?,
            ca_cert_hashes: if hashes.is_empty() {
                return Err(bad("no --discovery-token-ca-cert-hash"));
            } else {
                hashes
            },
            control_plane,
            certificate_key,
        })
    }
}

impl Serialize for JoinCommand {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::host::REDACTED)
    }
}

impl<'de> Deserialize<'de> for JoinCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What kubeadm does on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `kubeadm init`: the first control plane, creating the cluster.
    Init,
    /// `kubeadm join`: a worker, or another control plane.
    Join,
}

/// `[kubeadm]` section. Its presence turns on the `kubeadm` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kubeadm {
    /// `init` or `join`; default: init on a control plane, join on a worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The stable API address (DNS name or VIP, optional port). Required for join and when
    /// the cluster has more than one control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<Endpoint>,
    /// How many control-plane nodes the cluster has.
    #[serde(default = "one")]
    pub control_planes: u32,
    /// The address this control plane's API server advertises; default: the node address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<Ip>,
    /// The port this control plane's API server listens on.
    #[serde(default = "default_bind_port")]
    pub bind_port: u16,
    /// Pod network (init only); default 10.244.0.0/16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<Cidr>,
    /// Service network (init only); default 10.96.0.0/12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<Cidr>,
    /// Extra names and addresses in the API server certificate (init only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
    /// The container runtime's CRI socket.
    #[serde(default = "default_cri_socket")]
    pub cri_socket: String,
    /// Let workloads run on this control plane (no control-plane taint).
    #[serde(default)]
    pub schedule_workloads: bool,
    /// kubeadm preflight checks to ignore (kubeadm's own names, e.g. `NumCPU`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    /// kube-proxy mode (`iptables`, `ipvs`, `nftables`); default: kube-proxy's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_proxy_mode: Option<String>,
    /// How long the bootstrap token stays valid after init.
    #[serde(default = "default_token_ttl")]
    pub token_ttl: Span,
    /// How long one kubeadm init or join may run.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// How long to wait for the node to become Ready after init (with a CNI add-on).
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: Span,
    /// A regular user who gets a copy of admin.conf in ~/.kube/config (control planes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_user: Option<String>,
    /// Extra command-line arguments per component.
    #[serde(default, skip_serializing_if = "ExtraArgs::is_empty")]
    pub extra_args: ExtraArgs,
    /// Where the join secrets come from.
    #[serde(default)]
    pub secrets: Secrets,
    /// How a join waits for the API server to answer.
    #[serde(default)]
    pub discovery: Discovery,
    /// A pod network add-on applied after init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<Cni>,
    /// A kube-vip static pod holding the control-plane VIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_vip: Option<KubeVip>,
}

fn one() -> u32 {
    1
}
fn default_bind_port() -> u16 {
    DEFAULT_BIND_PORT
}
fn default_cri_socket() -> String {
    DEFAULT_CRI_SOCKET.to_string()
}
fn default_token_ttl() -> Span {
    Span(Duration::from_secs(24 * 3600))
}
fn default_timeout() -> Span {
    Span(Duration::from_secs(15 * 60))
}
fn default_ready_timeout() -> Span {
    Span(Duration::from_secs(5 * 60))
}

/// `[kubeadm.extra_args]`: `--name=value` arguments per component, as tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraArgs {
    /// The kubelet (nodeRegistration.kubeletExtraArgs). `node-ip` defaults to the node address.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kubelet: BTreeMap<String, String>,
    /// kube-apiserver (init only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub api_server: BTreeMap<String, String>,
    /// kube-controller-manager (init only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub controller_manager: BTreeMap<String, String>,
    /// kube-scheduler (init only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scheduler: BTreeMap<String, String>,
    /// etcd (init only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub etcd: BTreeMap<String, String>,
}

impl ExtraArgs {
    /// Whether no component has extra arguments.
    pub fn is_empty(&self) -> bool {
        self.tables().iter().all(|(_, t)| t.is_empty())
    }

    /// Each component's table with its key name.
    pub fn tables(&self) -> [(&'static str, &BTreeMap<String, String>); 5] {
        [
            ("kubelet", &self.kubelet),
            ("api_server", &self.api_server),
            ("controller_manager", &self.controller_manager),
            ("scheduler", &self.scheduler),
            ("etcd", &self.etcd),
        ]
    }
}

/// `[kubeadm.secrets]`: a bundle directory from `bootstrap secrets generate`, or values
/// (for example injected by cloud-init), or a join command. Values are shown as `<redacted>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Node path of the bundle directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The bootstrap token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    /// The CA hash workers pin (join only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_hash: Option<CaHash>,
    /// The certificate key (init with --upload-certs, control-plane join).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_key: Option<CertificateKey>,
    /// A whole join command (join only), the classic way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_command: Option<JoinCommand>,
}

impl Secrets {
    fn has_values(&self) -> bool {
        self.token.is_some() || self.ca_cert_hash.is_some() || self.certificate_key.is_some()
    }
}

/// `[kubeadm.discovery]`: a join retries while the API server does not answer yet (all
/// nodes booting at once), with exponential backoff, a bounded number of times.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    /// Join attempts before giving up.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Wait after the first failed attempt; doubles each time.
    #[serde(default = "default_initial_delay")]
    pub initial_delay: Span,
    /// The longest wait between attempts.
    #[serde(default = "default_max_delay")]
    pub max_delay: Span,
}

fn default_attempts() -> u32 {
    20
}
fn default_initial_delay() -> Span {
    Span(Duration::from_secs(2))
}
fn default_max_delay() -> Span {
    Span(Duration::from_secs(30))
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            attempts: default_attempts(),
            initial_delay: default_initial_delay(),
            max_delay: default_max_delay(),
        }
    }
}

/// `[kubeadm.cni]`: a pinned pod network manifest applied once after init.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cni {
    /// A short name (`flannel`, `calico`), used for the stored copy.
    pub name: String,
    /// Node path of a local manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// URL of the manifest (needs `sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Lowercase hex SHA-256 the manifest must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// `[kubeadm.kube_vip]`: kube-vip as a static pod announcing the control-plane VIP by ARP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeVip {
    /// The virtual IP (the host of control_plane_endpoint).
    pub address: Ip,
    /// The interface to announce it on.
    pub interface: String,
    /// The kube-vip image.
    #[serde(default = "default_kube_vip_image")]
    pub image: String,
}

fn default_kube_vip_image() -> String {
    DEFAULT_KUBE_VIP_IMAGE.to_string()
}

impl Kubeadm {
    /// What kubeadm does on a node with `role`.
    pub fn mode(&self, role: Role) -> Mode {
        self.mode.unwrap_or(match role {
            Role::ControlPlane => Mode::Init,
            Role::Worker => Mode::Join,
        })
    }

    /// The pod network, defaulted.
    pub fn pod_subnet(&self) -> Cidr {
        self.pod_subnet.unwrap_or(DEFAULT_POD_SUBNET)
    }

    /// The service network, defaulted.
    pub fn service_subnet(&self) -> Cidr {
        self.service_subnet.unwrap_or(DEFAULT_SERVICE_SUBNET)
    }

    /// Keys that only the node running `kubeadm init` uses, when set.
    fn init_only_keys(&self) -> Vec<Vec<&'static str>> {
        let flags = [
            ("pod_subnet", self.pod_subnet.is_some()),
            ("service_subnet", self.service_subnet.is_some()),
            ("cert_sans", !self.cert_sans.is_empty()),
            ("kube_proxy_mode", self.kube_proxy_mode.is_some()),
            ("cni", self.cni.is_some()),
        ];
        let mut set: Vec<Vec<&'static str>> = flags
            .iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| vec![*k])
            .collect();
        // Control-plane component flags live in ClusterConfiguration, which only init reads.
        for (name, table) in self.extra_args.tables().into_iter().skip(1) {
            if !table.is_empty() {
                set.push(vec!["extra_args", name]);
            }
        }
        set
    }

    /// Keys that only control planes use, when set.
    fn control_plane_only_keys(&self) -> Vec<Vec<&'static str>> {
        let mut set = Vec::new();
        let flags = [
            ("advertise_address", self.advertise_address.is_some()),
            ("schedule_workloads", self.schedule_workloads),
            ("kubeconfig_user", self.kubeconfig_user.is_some()),
            ("kube_vip", self.kube_vip.is_some()),
        ];
        set.extend(flags.iter().filter(|(_, on)| *on).map(|(k, _)| vec![*k]));
        set
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e: Endpoint = "192.168.33.13:6443".parse().unwrap();
        assert_eq!(e.with_port(1), "192.168.33.13:6443");
        let e: Endpoint = "k8s.example.com".parse().unwrap();
        assert_eq!(e.with_port(6443), "k8s.example.com:6443");
        assert_eq!(e.to_string(), "k8s.example.com");
        let e: Endpoint = "[fd00::10]:8443".parse().unwrap();
        assert_eq!(e.with_port(1), "[fd00::10]:8443");
        assert_eq!(e.to_string(), "[fd00::10]:8443");
        for bad in ["", "a:b", "host:0", "Bad_Host", "[fd00::1", "1.2.3.4:99999"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn join_commands() {
        let text = format!(
            "kubeadm join 192.168.33.13:6443 --token abcdef.0123456789abcdef \\\n  --discovery-token-ca-cert-hash sha256:{}",
            "a".repeat(64)
        );
        let c: JoinCommand = text.parse().unwrap();
        assert_eq!(c.endpoint.with_port(1), "192.168.33.13:6443");
        assert!(!c.control_plane);
        let cp: JoinCommand = format!(
            "{text} --control-plane --certificate-key={}",
            "b".repeat(64)
        )
        .parse()
        .unwrap();
        assert!(cp.control_plane && cp.certificate_key.is_some());
        assert!("kubeadm init".parse::<JoinCommand>().is_err());
        let err = "kubeadm join 1.2.3.4:6443 --token abcdef.0123456789abcdef"
            .parse::<JoinCommand>()
            .unwrap_err();
        assert!(err.contains("no --discovery-token-ca-cert-hash"), "{err}");
        assert!(format!("{c:?}").contains("redacted"));
    }

    #[test]
    fn spans() {
        assert_eq!(
            "500ms".parse::<Span>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!("5m".parse::<Span>().unwrap().to_string(), "5m");
        assert!("soon".parse::<Span>().is_err());
    }
}
