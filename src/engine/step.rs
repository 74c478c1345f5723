//! The step contract: observe + plan, apply, verify.

use super::change::Plan;
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
    pub mode: super::Mode,
    /// What `main` read from the process environment (proxy, terminal).
    pub env: &'a super::Environment,
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

/// One piece of the node that the agent owns. Implementations live in `steps/`, one per file.
///
/// A step only observes: [`Step::plan`] returns the changes, and the engine
/// (`engine::run`) carries out exactly those, each through its [`super::Action`]. A step
/// cannot run work its plan did not show.
pub trait Step {
    /// Stable name, used by `--only`/`--skip`, output and JSON events.
    fn name(&self) -> &'static str;

    /// Observes the node (no writes) and returns the changes that would make it match the
    /// profile. A converged node yields an empty plan.
    fn plan(&self, ctx: &Context) -> Result<Plan, StepError>;

    /// Confirms the node now matches. The default observes again and requires an empty plan.
    fn verify(&self, ctx: &Context) -> Result<(), StepError> {
        expect_converged(self, ctx)
    }
}

/// Observes again and fails naming what still differs: the core of every verify.
pub fn expect_converged<S: Step + ?Sized>(step: &S, ctx: &Context) -> Result<(), StepError> {
    let again = step.plan(ctx)?;
    if again.changes.is_empty() {
        return Ok(());
    }
    let pending: Vec<&str> = again.changes.iter().map(|c| c.summary.as_str()).collect();
    Err(StepError::Verify(pending.join("; ")))
}
