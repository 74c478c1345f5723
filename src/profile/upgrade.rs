//! `[upgrade]`: how `bootstrap upgrade` takes this node to `kubernetes.version`, and
//! `[upgrade.drain]`: how the node is drained first (also for `bootstrap drain` and
//! `bootstrap maintain`). The drain flags are kubectl drain's own
//! (<https://kubernetes.io/docs/reference/kubectl/generated/kubectl_drain/>).

use serde::{Deserialize, Serialize};

use super::kubeadm::Span;

/// `[upgrade]` section; every key has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upgrade {
    /// How long to wait for the node to be Ready at the new version after the kubelet
    /// restarts.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: Span,
    /// `[upgrade.drain]`.
    #[serde(default)]
    pub drain: Drain,
}

/// `[upgrade.drain]`: `kubectl drain` as operators run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drain {
    /// How long the eviction may take (PodDisruptionBudgets may hold it): kubectl drain's
    /// `--timeout`.
    #[serde(default = "default_drain_timeout")]
    pub timeout: Span,
    /// Delete pods that use emptyDir volumes (their data is lost): `--delete-emptydir-data`.
    #[serde(default)]
    pub delete_emptydir_data: bool,
    /// Delete pods that no controller manages (they are lost for good): `--force`.
    #[serde(default)]
    pub force: bool,
    /// A kubeconfig that may evict pods, for a node whose own credentials cannot (a worker
    /// has only the kubelet's). Default: /etc/kubernetes/admin.conf on a control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// Do not drain (nor cordon) at all: only when said explicitly.
    #[serde(default)]
    pub skip: bool,
}

impl Default for Upgrade {
    fn default() -> Self {
        Upgrade {
            ready_timeout: default_ready_timeout(),
            drain: Drain::default(),
        }
    }
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            timeout: default_drain_timeout(),
            delete_emptydir_data: false,
            force: false,
            kubeconfig: None,
            skip: false,
        }
    }
}

fn default_ready_timeout() -> Span {
    Span(std::time::Duration::from_secs(300))
}

fn default_drain_timeout() -> Span {
    Span(std::time::Duration::from_secs(300))
}
