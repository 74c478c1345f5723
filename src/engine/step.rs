//! The step contract: observe + plan, apply, verify.

use super::change::{Action, Change, Plan};
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
    /// After apply, the node still differs from the profile.
    #[error("verify failed: after apply the node still differs: {0}")]
    Verify(String),
}

/// One piece of the node that the agent owns. Implementations live in `steps/`, one per file.
pub trait Step {
    /// Stable name, used by `--only`/`--skip`, output and JSON events.
    fn name(&self) -> &'static str;

    /// Observes the node (no writes) and returns the changes that would make it match the
    /// profile. A converged node yields an empty plan.
    fn plan(&self, ctx: &Context) -> Result<Plan, StepError>;

    /// Carries out a plan made by [`Step::plan`]. The default applies each change in order;
    /// at an [`Action::Replan`] it plans again and carries out that plan too. Returns the
    /// changes made beyond the given plan (found by re-planning), so they are reported.
    fn apply(&self, ctx: &Context, plan: &Plan) -> Result<Vec<Change>, StepError> {
        for change in &plan.changes {
            if matches!(change.action, Action::Replan) {
                let next = self.plan(ctx)?;
                if next
                    .changes
                    .iter()
                    .any(|c| matches!(c.action, Action::Replan))
                {
                    return Err(StepError::Blocked(format!(
                        "cannot plan `{}` even after the earlier changes were made",
                        change.summary
                    )));
                }
                self.apply(ctx, &next)?;
                return Ok(next.changes);
            }
            change.apply(ctx.host, self.name())?;
        }
        Ok(Vec::new())
    }

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
