//! The step contract: observe and plan; the engine applies; verify.

use super::change::Plan;
pub use super::context::{Context, StepError};

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
