//! What a step sees (the node, the profile) and why a step fails: shared by the step
//! contract and the changes it plans.

use crate::host::{Host, HostError};
use crate::profile::Profile;

/// What a step sees: the node and the profile.
pub struct Context<'a> {
    /// The node.
    pub host: &'a Host,
    /// The validated profile.
    pub profile: &'a Profile,
    /// This node's address, resolved once from the profile's address source.
    pub address: std::net::IpAddr,
    /// What the run does: steps may judge a finding a warning in plan and check, and an
    /// error in apply (when nothing later can fix it).
    pub mode: super::event::Mode,
    /// What `main` read from the process environment (proxy, terminal).
    pub env: &'a super::environment::Environment,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The node could not be read or changed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The node is in a state the step cannot handle safely; says what to do.
    #[error("{0}")]
    Blocked(String),
    /// A kernel parameter to set has no file under /proc/sys.
    #[error(
        "cannot set {path}: it does not exist. The kernel has no such parameter, or the module that provides it is not loaded (net.bridge.* needs br_netfilter: keep it in modules.load and do not skip the modules step)"
    )]
    NoKernelParam {
        /// The missing /proc/sys path.
        path: String,
    },
    /// Planning again after the changes before a re-plan point still could not plan it.
    #[error("cannot plan `{summary}` even after the earlier changes were made")]
    Replan {
        /// The change that was to be planned.
        summary: String,
    },
    /// A module's own typed error (packages, kubeadm), its cause chain kept.
    #[error(transparent)]
    Cause(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// After apply, the node still differs from the profile.
    #[error("verify failed: after apply the node still differs: {0}")]
    Verify(String),
}
