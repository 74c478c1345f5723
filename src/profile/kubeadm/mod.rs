//! `[kubeadm]`: how this node forms or joins the cluster (kubeadm init or join), the
//! cluster settings the first control plane initialises with, and where the join secrets
//! come from. Contradictions between keys are found by the
//! validation in `profile/validate/kubeadm.rs`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::values::secret::{CaHash, CertificateKey, Token};
use crate::values::{Cidr, Ip};

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
/// The API server port kubeadm binds by default.
pub const DEFAULT_BIND_PORT: u16 = 6443;
/// The kube-vip image pinned by default: kube-vip's v1.2.3 release (docs/kubeadm-facts.md).
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

mod values;

pub use crate::values::Endpoint;
pub use values::{JoinCommand, Span};

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
    /// `init` or `join`. Required on a control plane (exactly one control plane of a
    /// cluster inits, so a profile must say which); default `join` on a worker.
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
    /// The CRI socket kubeadm and the kubelet use. Default and only accepted value: the one
    /// containerd listens on, `unix://` + `containerd.socket` (one source of truth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_socket: Option<String>,
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
    /// Whether any of token, CA hash or certificate key is given.
    pub fn has_values(&self) -> bool {
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
    /// What kubeadm does on this node. A control plane without `mode` is refused by
    /// validation; it is taken as `join` here, which never creates a second cluster.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Join)
    }

    /// The CRI socket URL for `containerd_socket` (containerd.socket), as kubeadm wants it.
    pub fn cri_socket_for(containerd_socket: &str) -> String {
        format!("unix://{containerd_socket}")
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
    pub fn init_only_keys(&self) -> Vec<Vec<&'static str>> {
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
    pub fn control_plane_only_keys(&self) -> Vec<Vec<&'static str>> {
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
