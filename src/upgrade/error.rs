//! Why an upgrade, a drain or an uncordon stops, each saying what to do.

use crate::engine::StepError;
use crate::host::HostError;

/// An upgrade error.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The profile has no `[kubeadm]` section.
    #[error(
        "the profile has no [kubeadm] section: this node is not a cluster member, so there is nothing to upgrade or drain"
    )]
    NoKubeadm,
    /// The profile has no `[kubernetes]` section.
    #[error("the profile has no [kubernetes] section: kubernetes.version is the upgrade's target")]
    NoTarget,
    /// The node's files do not show the member the profile describes.
    #[error(
        "the profile describes a {kind}, but this node has {found}: kubeadm upgrade runs only on an initialised or joined node (set it up with `bootstrap apply` first)"
    )]
    NotMember {
        /// What the profile says.
        kind: &'static str,
        /// What the node has.
        found: &'static str,
    },
    /// The node could not be read.
    #[error(transparent)]
    Host(HostError),
    /// The policy refuses the upgrade; nothing was changed.
    #[error("the upgrade to {target} is refused; nothing was changed:\n  - {}", .problems.join("\n  - "))]
    Refused {
        /// The target.
        target: String,
        /// Every rule broken.
        problems: Vec<String>,
    },
    /// The Node object could not be read.
    #[error("cannot read node {node} from the API server: {tail}")]
    NodeUnreadable {
        /// The node name.
        node: String,
        /// What kubectl said.
        tail: String,
    },
    /// No credentials that may evict pods.
    #[error(
        "this worker has only the kubelet's credentials ({own}), which may read its own Node but not cordon it or evict pods; copy an admin kubeconfig to this node and set upgrade.drain.kubeconfig to its path, or set upgrade.drain.skip = true to go ahead without draining (pods are then stopped by the kubelet restart without eviction)"
    )]
    NoEvictionCredentials {
        /// The node's own kubeconfig.
        own: &'static str,
    },
    /// The drain kubeconfig is not on the node.
    #[error(
        "upgrade.drain.kubeconfig {path} does not exist on this node; copy the admin kubeconfig there"
    )]
    KubeconfigMissing {
        /// The path.
        path: String,
    },
    /// `kubeadm upgrade plan` does not offer the target.
    #[error(
        "`kubeadm upgrade plan {target}` does not list `kubeadm upgrade apply {target}` as available, so the upgrade stops before changing the control plane; its last lines: {tail}"
    )]
    NotListed {
        /// The target.
        target: String,
        /// The plan's last lines.
        tail: String,
    },
    /// The node did not come back Ready at the target.
    #[error("node {node} was not Ready at kubelet {target} after {checks} checks (last: {last})")]
    NotReady {
        /// The node name.
        node: String,
        /// The target.
        target: String,
        /// How many checks.
        checks: u32,
        /// What the last check saw.
        last: String,
    },
    /// A phase after the drain failed: the node stays cordoned.
    #[error(
        "{source}\nnode {node} is left cordoned (drained for this upgrade). To continue: fix the cause, then run `bootstrap upgrade apply` again (finished phases are not repeated). To roll back the kubelet instead: reinstall kubelet and kubectl {from}, `systemctl daemon-reload && systemctl restart kubelet`, then `bootstrap uncordon` (kubeadm keeps its own backup of the control-plane manifests under /etc/kubernetes/tmp; bootstrap's copy of /etc/kubernetes is under /var/lib/bootstrap/upgrade)"
    )]
    Cordoned {
        /// The node name.
        node: String,
        /// The version before the upgrade.
        from: String,
        /// What failed.
        source: Box<StepError>,
    },
}

impl From<UpgradeError> for StepError {
    fn from(e: UpgradeError) -> Self {
        StepError::Cause(Box::new(e))
    }
}
