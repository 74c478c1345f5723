//! `bootstrap drain` and `bootstrap uncordon` for this node, as engine steps, with the
//! same credentials and drain settings as the upgrade (`[upgrade.drain]`).

use crate::engine::{Context, Plan, Step, StepError};

use super::observe::{self, own_kubeconfig};
use super::phases::drain_kubeconfig;
use super::work;

/// Drains this node (`kubectl drain`; draining a drained node again evicts whatever was
/// scheduled before the cordon, so it is always planned).
pub struct DrainStep;

/// Uncordons this node when it is cordoned.
pub struct UncordonStep;

fn credentials(ctx: &Context) -> Result<String, StepError> {
    let kind = observe::node_kind(ctx)?;
    if ctx.profile.upgrade.drain.skip {
        return Err(StepError::Blocked(
            "upgrade.drain.skip = true says this node is never drained; remove it to drain or uncordon with bootstrap".into(),
        ));
    }
    Ok(drain_kubeconfig(ctx, kind)?.unwrap_or_default())
}

fn unschedulable(ctx: &Context) -> Result<bool, StepError> {
    let kind = observe::node_kind(ctx)?;
    let node = observe::node(ctx.host, own_kubeconfig(kind), &ctx.profile.node.name)?;
    Ok(node.unschedulable)
}

impl Step for DrainStep {
    fn name(&self) -> &'static str {
        "drain"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let kubeconfig = credentials(ctx)?;
        let mut plan = Plan::default();
        let command = work::drain_command(ctx, &kubeconfig, &ctx.profile.node.name);
        plan.push(work::drain(command, None, "drain"));
        Ok(plan)
    }

    /// The node is cordoned (kubectl drain fails while a pod it must evict remains).
    fn verify(&self, ctx: &Context) -> Result<(), StepError> {
        match unschedulable(ctx)? {
            true => Ok(()),
            false => Err(StepError::Verify(format!(
                "node {} is not cordoned",
                ctx.profile.node.name
            ))),
        }
    }
}

impl Step for UncordonStep {
    fn name(&self) -> &'static str {
        "uncordon"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let kubeconfig = credentials(ctx)?;
        let mut plan = Plan::default();
        if unschedulable(ctx)? {
            plan.push(crate::engine::Change::run(
                format!("uncordon node {}", ctx.profile.node.name),
                observe::kubectl(&kubeconfig, &["uncordon", &ctx.profile.node.name]),
            ));
        }
        Ok(plan)
    }
}
