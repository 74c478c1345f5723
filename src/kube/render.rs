//! From the profile to kubeadm's `--config` documents and the kube-vip manifest. Pure: the
//! node address and the resolved secrets are passed in.

use std::net::IpAddr;

use super::bundle::{self, Bundle, BundleError};
use super::config::{
    ApiEndpoint, ApiServer, ApiVersion, Args, BootstrapToken, BootstrapTokenDiscovery,
    ClusterConfiguration, Component, Discovery, Document, Etcd, InitConfiguration,
    JoinConfiguration, JoinControlPlane, KubeProxyConfiguration, KubeletConfiguration,
    KubeletPatch, Networking, NodeRegistration, Patches,
};
use super::secrets::Ca;
use crate::host::Host;
use crate::profile::kubeadm::{Kubeadm, Mode};
use crate::profile::kubernetes::Kubernetes;
use crate::profile::swap::SwapPolicy;
use crate::profile::{Profile, Role};
use crate::values::secret::{CaHash, CertificateKey, Token};

/// The directory of the patches kubeadm applies on join.
pub const PATCHES_DIR: &str = "/var/lib/bootstrap/kubeadm/patches";
/// The kubelet configuration patch: target `kubeletconfiguration`, a JSON merge patch.
pub const KUBELET_PATCH: &str =
    "/var/lib/bootstrap/kubeadm/patches/kubeletconfiguration+merge.yaml";

/// The join secrets this node has, from the bundle, the profile's values or a join command.
#[derive(Debug, Clone, Default)]
pub struct JoinSecrets {
    /// The bootstrap token.
    pub token: Option<Token>,
    /// CA hashes to pin.
    pub ca_cert_hashes: Vec<CaHash>,
    /// The certificate key.
    pub certificate_key: Option<CertificateKey>,
    /// The CA to place before init.
    pub ca: Option<Ca>,
    /// The CA certificate of the bundle (to compare with the node's).
    pub ca_cert: Option<String>,
    /// The endpoint named by a join command.
    pub endpoint: Option<String>,
}

impl JoinSecrets {
    /// Collects the secrets `kubeadm` names, reading the bundle through `host`, and
    /// registers every secret value with the host for redaction.
    /// A bundle must hold every file the node's part needs ([`bundle::required`]).
    pub fn resolve(host: &Host, kubeadm: &Kubeadm, role: Role) -> Result<JoinSecrets, BundleError> {
        let s = &kubeadm.secrets;
        let mut out = JoinSecrets::default();
        if let Some(dir) = &s.bundle {
            let init = kubeadm.mode() == Mode::Init;
            let control_plane = role == Role::ControlPlane;
            let files = bundle::missing(
                host,
                dir,
                &bundle::required(init, control_plane, kubeadm.control_planes),
            );
            if !files.is_empty() {
                return Err(BundleError::Missing {
                    dir: dir.clone(),
                    files,
                    who: match (init, control_plane) {
                        (true, _) => "the control plane that runs kubeadm init",
                        (false, true) => "a joining control plane",
                        (false, false) => "a joining worker",
                    },
                });
            }
            let b = Bundle::read(host, dir)?;
            out = JoinSecrets {
                token: b.token,
                ca_cert_hashes: b.ca_cert_hash.into_iter().collect(),
                certificate_key: b.certificate_key,
                ca: b.ca,
                ca_cert: b.ca_cert,
                endpoint: None,
            };
        }
        if let Some(command) = &s.join_command {
            out.token = Some(command.token.clone());
            out.ca_cert_hashes = command.ca_cert_hashes.clone();
            out.certificate_key = command.certificate_key.clone();
            out.endpoint = Some(command.endpoint.with_port(kubeadm.bind_port));
        }
        if let Some(token) = &s.token {
            out.token = Some(token.clone());
        }
        if let Some(hash) = &s.ca_cert_hash {
            out.ca_cert_hashes = vec![hash.clone()];
        }
        if let Some(key) = &s.certificate_key {
            out.certificate_key = Some(key.clone());
        }
        if let Some(token) = &out.token {
            host.add_secret(token.expose());
            host.add_secret(token.secret_part());
        }
        if let Some(key) = &out.certificate_key {
            host.add_secret(key.expose());
        }
        Ok(out)
    }
}

/// Everything rendering needs.
pub struct Inputs<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// `[kubernetes]`.
    pub kubernetes: &'a Kubernetes,
    /// `[kubeadm]`.
    pub kubeadm: &'a Kubeadm,
    /// This node's address.
    pub address: IpAddr,
    /// The secrets.
    pub secrets: &'a JoinSecrets,
    /// The kubeadm configuration API to write (see [`ApiVersion::for_kubernetes`]).
    pub api: ApiVersion,
}

/// Why a configuration cannot be rendered from what the node has.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A secret the mode needs is missing (for example from a worker's bundle copy).
    #[error("{0}")]
    Missing(String),
    /// YAML serialisation failed.
    #[error("cannot render the kubeadm configuration: {0}")]
    Yaml(#[from] super::yaml::YamlError),
}

fn args(version: ApiVersion, table: &std::collections::BTreeMap<String, String>) -> Args {
    Args::new(
        version,
        table.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    )
}

/// A duration the way Go prints it (`24h0m0s`), as kubeadm's fields expect.
pub fn go_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    format!("{}h{}m{}s", secs / 3600, secs / 60 % 60, secs % 60)
}

impl Inputs<'_> {
    fn version(&self) -> ApiVersion {
        self.api
    }

    fn advertise_address(&self) -> String {
        self.kubeadm
            .advertise_address
            .map_or(self.address, |ip| ip.0)
            .to_string()
    }

    fn local_endpoint(&self) -> ApiEndpoint {
        ApiEndpoint {
            advertise_address: self.advertise_address(),
            bind_port: self.kubeadm.bind_port,
        }
    }

    fn registration(&self) -> NodeRegistration {
        let mut kubelet = self.kubeadm.extra_args.kubelet.clone();
        kubelet
            .entry("node-ip".to_string())
            .or_insert_with(|| self.address.to_string());
        let control_plane = self.profile.node.role == Role::ControlPlane;
        NodeRegistration {
            name: self.profile.node.name.clone(),
            cri_socket: Kubeadm::cri_socket_for(&self.profile.containerd.socket),
            taints: (control_plane && self.kubeadm.schedule_workloads).then(Vec::new),
            kubelet_extra_args: args(self.version(), &kubelet),
            ignore_preflight_errors: self.kubeadm.ignore_preflight_errors.clone(),
        }
    }

    /// The documents of `kubeadm init --config`: Init, Cluster, Kubelet and KubeProxy.
    pub fn init_documents(&self) -> Vec<Document> {
        let version = self.version();
        let k = self.kubeadm;
        let extra = &k.extra_args;
        let init = InitConfiguration {
            api_version: version,
            kind: "InitConfiguration",
            bootstrap_tokens: self
                .secrets
                .token
                .iter()
                .map(|t| BootstrapToken {
                    token: t.expose().to_string(),
                    description: "created by bootstrap from the cluster secrets".into(),
                    ttl: go_duration(k.token_ttl.0),
                    usages: vec!["signing".into(), "authentication".into()],
                    groups: vec!["system:bootstrappers:kubeadm:default-node-token".into()],
                })
                .collect(),
            node_registration: self.registration(),
            local_api_endpoint: self.local_endpoint(),
            certificate_key: self
                .secrets
                .certificate_key
                .as_ref()
                .map(|k| k.expose().to_string()),
        };
        let cluster = ClusterConfiguration {
            api_version: version,
            kind: "ClusterConfiguration",
            kubernetes_version: format!("v{}", self.kubernetes.version),
            control_plane_endpoint: k
                .control_plane_endpoint
                .as_ref()
                .map(|e| e.with_port(k.bind_port)),
            networking: Networking {
                pod_subnet: k.pod_subnet().to_string(),
                service_subnet: k.service_subnet().to_string(),
            },
            api_server: ApiServer {
                extra_args: args(version, &extra.api_server),
                cert_sans: k.cert_sans.clone(),
            },
            controller_manager: Component {
                extra_args: args(version, &extra.controller_manager),
            },
            scheduler: Component {
                extra_args: args(version, &extra.scheduler),
            },
            etcd: Etcd {
                local: Component {
                    extra_args: args(version, &extra.etcd),
                },
            },
            image_repository: self.kubernetes.image_repository.clone(),
        };
        let kubelet = KubeletConfiguration {
            api_version: "kubelet.config.k8s.io/v1beta1",
            kind: "KubeletConfiguration",
            cgroup_driver: self.kubernetes.cgroup_driver.as_str().to_string(),
            fail_swap_on: (self.profile.swap.policy == SwapPolicy::Keep).then_some(false),
        };
        let proxy = KubeProxyConfiguration {
            api_version: "kubeproxy.config.k8s.io/v1alpha1",
            kind: "KubeProxyConfiguration",
            cluster_cidr: k.pod_subnet().to_string(),
            mode: k.kube_proxy_mode.clone(),
        };
        vec![
            Document::Init(init),
            Document::Cluster(cluster),
            Document::Kubelet(kubelet),
            Document::KubeProxy(proxy),
        ]
    }

    /// The document of `kubeadm join --config`.
    pub fn join_documents(&self) -> Result<Vec<Document>, RenderError> {
        let k = self.kubeadm;
        let missing = |what: &str| {
            RenderError::Missing(format!(
                "cannot join: {what} is missing (from kubeadm.secrets{})",
                k.secrets
                    .bundle
                    .as_ref()
                    .map_or(String::new(), |b| format!(" and the bundle in {b}"))
            ))
        };
        let token = self
            .secrets
            .token
            .as_ref()
            .ok_or_else(|| missing("the bootstrap token"))?;
        if self.secrets.ca_cert_hashes.is_empty() {
            return Err(missing("the CA certificate hash (ca-cert-hash)"));
        }
        let endpoint = match (&self.secrets.endpoint, &k.control_plane_endpoint) {
            (Some(e), _) => e.clone(),
            (None, Some(e)) => e.with_port(k.bind_port),
            (None, None) => return Err(missing("the API server endpoint")),
        };
        let control_plane = match self.profile.node.role {
            Role::Worker => None,
            Role::ControlPlane => Some(JoinControlPlane {
                local_api_endpoint: self.local_endpoint(),
                certificate_key: self
                    .secrets
                    .certificate_key
                    .as_ref()
                    .ok_or_else(|| missing("the certificate key"))?
                    .expose()
                    .to_string(),
            }),
        };
        Ok(vec![Document::Join(JoinConfiguration {
            api_version: self.version(),
            kind: "JoinConfiguration",
            node_registration: self.registration(),
            discovery: Discovery {
                bootstrap_token: BootstrapTokenDiscovery {
                    token: token.expose().to_string(),
                    api_server_endpoint: endpoint,
                    ca_cert_hashes: self
                        .secrets
                        .ca_cert_hashes
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                },
            },
            control_plane,
            patches: Some(Patches {
                directory: PATCHES_DIR.to_string(),
            }),
        })])
    }

    /// The kubelet settings of this node that a join must not take from the cluster:
    /// `JoinConfiguration` carries no KubeletConfiguration, so without this patch a joining
    /// node gets the cluster's cgroup driver (which may not be its containerd's).
    pub fn kubelet_patch(&self) -> Result<String, RenderError> {
        Ok(super::yaml::to_string(&KubeletPatch {
            cgroup_driver: self.kubernetes.cgroup_driver.as_str().to_string(),
            fail_swap_on: (self.profile.swap.policy == SwapPolicy::Keep).then_some(false),
        })?)
    }

    /// The documents for this node's mode.
    pub fn documents(&self) -> Result<Vec<Document>, RenderError> {
        match self.kubeadm.mode() {
            Mode::Init => Ok(self.init_documents()),
            Mode::Join => self.join_documents(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            go_duration(std::time::Duration::from_secs(86400)),
            "24h0m0s"
        );
        assert_eq!(
            go_duration(std::time::Duration::from_secs(5430)),
            "1h30m30s"
        );
    }
}
