//! Installing kubeadm, kubelet and kubectl (and cri-tools, and the CNI plugins) at the
//! profile's Kubernetes version: from the pkgs.k8s.io apt repository ([`apt`]), as
//! checksummed downloads ([`download`]) or from a local bundle ([`bundle`]), planned by the
//! `packages` step. Version probes are in [`tools`], the skew policy in [`skew`], the files
//! of a release in [`artifacts`].

pub mod apt;
pub mod artifacts;
pub mod binary;
pub mod bundle;
pub mod download;
pub mod error;
pub mod host_tools;
pub mod install;
pub mod record;
pub mod skew;
pub mod tools;
pub mod work;

/// Where downloads and unpacked bundle files wait, verified, before they are installed.
/// A re-run after a failure reuses every file here whose checksum matches.
pub const STAGING_DIR: &str = "/var/lib/bootstrap/downloads";

/// Where kubectl's bash completion goes.
pub const COMPLETION: &str = "/etc/bash_completion.d/kubectl";

/// What a method's planning observed, besides the plan itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Kubernetes programs on the node and their versions (for the skew check).
    pub installed: Vec<(&'static str, crate::values::KubeVersion)>,
    /// Whether the plan installs or replaces kubectl.
    pub installs_kubectl: bool,
}
