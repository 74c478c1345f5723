//! Typed kubeadm configuration documents, serialised to the YAML kubeadm reads with
//! `--config` (the kubeadm configuration API references,
//! <https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/>; see
//! docs/kubeadm-facts.md). One set of types covers `kubeadm.k8s.io/v1beta3` (Kubernetes
//! 1.22–1.30) and `v1beta4` (1.31+): the difference that matters for what we write is the
//! shape of `extraArgs` (a map in v1beta3, a list of `{name, value}` in v1beta4), carried by
//! [`Args`]. Fields kubeadm treats specially keep their meaning: `taints` absent (kubeadm's
//! default control-plane taint) is `None`, `taints: []` (no taint) is `Some(vec![])`.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::yaml::{self, YamlError};
use crate::values::KubeVersion;

/// The kubeadm config API version for a Kubernetes release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `kubeadm.k8s.io/v1beta3`, for Kubernetes 1.30 and older.
    V1Beta3,
    /// `kubeadm.k8s.io/v1beta4`, for Kubernetes 1.31 and newer.
    V1Beta4,
}

impl ApiVersion {
    /// v1beta4 from 1.31 on (PR #125029), v1beta3 before.
    pub fn for_kubernetes(version: KubeVersion) -> Self {
        if (version.major, version.minor) >= (1, 31) {
            ApiVersion::V1Beta4
        } else {
            ApiVersion::V1Beta3
        }
    }

    /// The version named by an `apiVersion` value, when this agent renders it.
    pub fn parse(value: &str) -> Option<Self> {
        [ApiVersion::V1Beta3, ApiVersion::V1Beta4]
            .into_iter()
            .find(|v| v.as_str() == value)
    }

    /// The `apiVersion` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1Beta3 => "kubeadm.k8s.io/v1beta3",
            ApiVersion::V1Beta4 => "kubeadm.k8s.io/v1beta4",
        }
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Component arguments (`--name=value` without the dashes), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    version: ApiVersion,
    pairs: Vec<(String, String)>,
}

impl Args {
    /// Arguments written the way `version` expects.
    pub fn new(version: ApiVersion, pairs: Vec<(String, String)>) -> Self {
        Args { version, pairs }
    }

    /// Whether there are none (the key is then left out).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[derive(Serialize)]
struct NameValue<'a> {
    name: &'a str,
    value: &'a str,
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.version {
            ApiVersion::V1Beta3 => {
                let mut map = s.serialize_map(Some(self.pairs.len()))?;
                for (name, value) in &self.pairs {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
            ApiVersion::V1Beta4 => {
                let mut seq = s.serialize_seq(Some(self.pairs.len()))?;
                for (name, value) in &self.pairs {
                    seq.serialize_element(&NameValue { name, value })?;
                }
                seq.end()
            }
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    /// The key.
    pub key: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// `nodeRegistration`, shared by init and join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRegistration {
    /// The Node object's name.
    pub name: String,
    /// The runtime's CRI socket.
    pub cri_socket: String,
    /// `None`: key absent, kubeadm applies its default (the control-plane taint on control
    /// planes). `Some(vec![])`: `taints: []`, no taint at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Extra kubelet flags.
    #[serde(skip_serializing_if = "Args::is_empty")]
    pub kubelet_extra_args: Args,
    /// Preflight checks to ignore.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
}

/// An API server's own address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// The address it advertises.
    pub advertise_address: String,
    /// The port it binds.
    pub bind_port: u16,
}

/// A bootstrap token created at init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootstrapToken {
    /// `id.secret`.
    pub token: String,
    /// Why it exists.
    pub description: String,
    /// Lifetime, such as `24h0m0s`.
    pub ttl: String,
    /// `signing`, `authentication`.
    pub usages: Vec<String>,
    /// The groups joining nodes authenticate as.
    pub groups: Vec<String>,
}

/// `InitConfiguration`: this node's part of `kubeadm init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitConfiguration {
    /// The API version.
    pub api_version: ApiVersion,
    /// `InitConfiguration`.
    pub kind: &'static str,
    /// Tokens to create (absent: kubeadm makes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_tokens: Vec<BootstrapToken>,
    /// This node.
    pub node_registration: NodeRegistration,
    /// This API server.
    #[serde(rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
    /// The key for `--upload-certs` (absent: kubeadm generates one when uploading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_key: Option<String>,
}

/// `networking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Networking {
    /// The pod network.
    pub pod_subnet: String,
    /// The service network.
    pub service_subnet: String,
}

/// `apiServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServer {
    /// Extra flags.
    #[serde(skip_serializing_if = "Args::is_empty")]
    pub extra_args: Args,
    /// Extra certificate SANs.
    #[serde(rename = "certSANs", skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
}

/// `controllerManager` or `scheduler`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Extra flags.
    #[serde(skip_serializing_if = "Args::is_empty")]
    pub extra_args: Args,
}

/// `etcd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Etcd {
    /// Stacked etcd on the control planes.
    pub local: Component,
}

/// `ClusterConfiguration`: the cluster-wide settings of `kubeadm init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfiguration {
    /// The API version.
    pub api_version: ApiVersion,
    /// `ClusterConfiguration`.
    pub kind: &'static str,
    /// `v1.35.2`.
    pub kubernetes_version: String,
    /// The shared API address (HA); absent: this node's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<String>,
    /// Networks.
    pub networking: Networking,
    /// kube-apiserver.
    #[serde(skip_serializing_if = "ApiServer::is_empty")]
    pub api_server: ApiServer,
    /// kube-controller-manager.
    #[serde(skip_serializing_if = "Component::is_empty")]
    pub controller_manager: Component,
    /// kube-scheduler.
    #[serde(skip_serializing_if = "Component::is_empty")]
    pub scheduler: Component,
    /// etcd.
    #[serde(skip_serializing_if = "Etcd::is_empty")]
    pub etcd: Etcd,
    /// Where control-plane images come from.
    pub image_repository: String,
}

impl ApiServer {
    fn is_empty(&self) -> bool {
        self.extra_args.is_empty() && self.cert_sans.is_empty()
    }
}

impl Component {
    fn is_empty(&self) -> bool {
        self.extra_args.is_empty()
    }
}

impl Etcd {
    fn is_empty(&self) -> bool {
        self.local.is_empty()
    }
}

/// `discovery.bootstrapToken`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapTokenDiscovery {
    /// The token.
    pub token: String,
    /// `host:port` of the API server.
    pub api_server_endpoint: String,
    /// Pinned CA hashes.
    pub ca_cert_hashes: Vec<String>,
}

/// `discovery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// Token-based discovery.
    pub bootstrap_token: BootstrapTokenDiscovery,
}

/// `controlPlane` of a join: present only when this node becomes a control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinControlPlane {
    /// This node's API server.
    #[serde(rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
    /// The key the first control plane uploaded the certificates with.
    pub certificate_key: String,
}

/// `JoinConfiguration`: `kubeadm join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinConfiguration {
    /// The API version.
    pub api_version: ApiVersion,
    /// `JoinConfiguration`.
    pub kind: &'static str,
    /// This node.
    pub node_registration: NodeRegistration,
    /// How to find and trust the cluster.
    pub discovery: Discovery,
    /// `None` for a worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<JoinControlPlane>,
    /// Where kubeadm finds this node's patches (the kubelet configuration patch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
}

/// `patches`: a directory of `target[suffix][+patchtype].extension` files kubeadm applies
/// (kubeadm reference, `--patches`: targets include `kubeletconfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Patches {
    /// The directory.
    pub directory: String,
}

/// A JSON merge patch (RFC 7386) of this node's KubeletConfiguration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletPatch {
    /// `systemd` or `cgroupfs`: this node's, matching its containerd.
    pub cgroup_driver: String,
    /// `false` when the profile keeps swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_swap_on: Option<bool>,
}

/// `KubeletConfiguration` (kubelet.config.k8s.io/v1beta1), the cluster-wide kubelet settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfiguration {
    /// `kubelet.config.k8s.io/v1beta1`.
    pub api_version: &'static str,
    /// `KubeletConfiguration`.
    pub kind: &'static str,
    /// `systemd` or `cgroupfs`; must match the runtime.
    pub cgroup_driver: String,
    /// `false` lets the kubelet start with swap on (profile swap.policy = "keep").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_swap_on: Option<bool>,
}

/// `KubeProxyConfiguration` (kubeproxy.config.k8s.io/v1alpha1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeProxyConfiguration {
    /// `kubeproxy.config.k8s.io/v1alpha1`.
    pub api_version: &'static str,
    /// `KubeProxyConfiguration`.
    pub kind: &'static str,
    /// The pod network.
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: String,
    /// The proxy mode, when chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// One document of a `--config` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// InitConfiguration.
    Init(InitConfiguration),
    /// ClusterConfiguration.
    Cluster(ClusterConfiguration),
    /// JoinConfiguration.
    Join(JoinConfiguration),
    /// KubeletConfiguration.
    Kubelet(KubeletConfiguration),
    /// KubeProxyConfiguration.
    KubeProxy(KubeProxyConfiguration),
}

impl Document {
    fn yaml(&self) -> Result<String, YamlError> {
        match self {
            Document::Init(d) => yaml::to_string(d),
            Document::Cluster(d) => yaml::to_string(d),
            Document::Join(d) => yaml::to_string(d),
            Document::Kubelet(d) => yaml::to_string(d),
            Document::KubeProxy(d) => yaml::to_string(d),
        }
    }
}

/// The documents as one multi-document YAML file (`---` between documents), every string
/// written so that kubeadm's YAML 1.1 reader sees the same string (see [`yaml`]).
pub fn to_yaml(documents: &[Document]) -> Result<String, YamlError> {
    let parts = documents
        .iter()
        .map(Document::yaml)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join("---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(version: ApiVersion, taints: Option<Vec<Taint>>) -> NodeRegistration {
        NodeRegistration {
            name: "n1".into(),
            cri_socket: "unix:///var/run/containerd/containerd.sock".into(),
            taints,
            kubelet_extra_args: Args::new(version, vec![("node-ip".into(), "10.0.0.5".into())]),
            ignore_preflight_errors: Vec::new(),
        }
    }

    #[test]
    fn extra_args_shape_follows_the_api_version() {
        let v3 = serde_norway::to_string(&registration(ApiVersion::V1Beta3, None)).unwrap();
        assert!(
            v3.contains("kubeletExtraArgs:\n  node-ip: 10.0.0.5\n"),
            "{v3}"
        );
        let v4 = serde_norway::to_string(&registration(ApiVersion::V1Beta4, None)).unwrap();
        assert!(
            v4.contains("kubeletExtraArgs:\n- name: node-ip\n  value: 10.0.0.5\n"),
            "{v4}"
        );
    }

    #[test]
    fn taints_absent_differs_from_empty() {
        let absent = serde_norway::to_string(&registration(ApiVersion::V1Beta4, None)).unwrap();
        assert!(!absent.contains("taints"), "{absent}");
        let empty =
            serde_norway::to_string(&registration(ApiVersion::V1Beta4, Some(vec![]))).unwrap();
        assert!(empty.contains("taints: []\n"), "{empty}");
    }

    #[test]
    fn api_version_by_release() {
        let v = |s: &str| ApiVersion::for_kubernetes(s.parse().unwrap());
        assert_eq!(v("1.30.9"), ApiVersion::V1Beta3);
        assert_eq!(v("1.31.0"), ApiVersion::V1Beta4);
        assert_eq!(v("2.0.0"), ApiVersion::V1Beta4);
    }
}
