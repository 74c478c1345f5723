//! `bootstrap drain` and `bootstrap uncordon` for this node, as engine steps, with the
//! same credentials and drain settings as the upgrade (`[upgrade.drain]`).

use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::host::{Command, Mode};

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

/// The one-shot unit that uncordons the node at the next boot, once it is Ready.
pub const UNIT: &str = "/etc/systemd/system/bootstrap-uncordon.service";
/// Present while an uncordon after boot is due; the unit runs only then
/// (`ConditionPathExists=`, systemd.unit(5)) and removes it.
pub const MARKER: &str = "/var/lib/bootstrap/maintain/uncordon-after-boot";

/// `bootstrap maintain --reboot` after the drain: the one-shot unit, its marker, and the
/// reboot.
pub struct RebootStep {
    /// The unit's `ExecStart=`: this binary and the profile, absolute paths.
    pub exec: String,
}

/// The unit text (systemd.service(5): `Type=oneshot`; systemd.unit(5): ordering after the
/// kubelet and the network).
pub fn unit_text(exec: &str) -> String {
    format!(
        "# Written by bootstrap maintain --reboot: uncordons this node once it is Ready again.\n[Unit]\nDescription=bootstrap: uncordon this node after maintenance\nWants=network-online.target\nAfter=network-online.target kubelet.service\nConditionPathExists={MARKER}\n\n[Service]\nType=oneshot\nExecStart={exec}\nExecStartPost=/bin/rm -f {MARKER}\n\n[Install]\nWantedBy=multi-user.target\n"
    )
}

impl Step for RebootStep {
    fn name(&self) -> &'static str {
        "reboot"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let host = ctx.host;
        let mut plan = Plan::default();
        let old = host.read(UNIT)?;
        plan.update_file(
            UNIT,
            old.as_deref(),
            unit_text(&self.exec),
            Mode::KeepOr(0o644),
        );
        plan.push(Change::run(
            "systemctl daemon-reload",
            Command::new("systemctl").arg("daemon-reload"),
        ));
        plan.push(Change::run(
            "enable bootstrap-uncordon.service (runs at boot)",
            Command::new("systemctl").args(["enable", "bootstrap-uncordon.service"]),
        ));
        plan.push(Change::file(
            MARKER,
            None,
            "due\n".into(),
            Mode::KeepOr(0o644),
        ));
        plan.push(Change::run(
            "reboot the node (`systemctl reboot`); at boot the unit waits for Ready and uncordons",
            Command::new("systemctl").arg("reboot"),
        ));
        Ok(plan)
    }

    /// The reboot was asked for: the unit and its marker are in place.
    fn verify(&self, ctx: &Context) -> Result<(), StepError> {
        match ctx.host.exists(UNIT) && ctx.host.exists(MARKER) {
            true => Ok(()),
            false => Err(StepError::Verify(format!("{UNIT} or {MARKER} is missing"))),
        }
    }
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
        let kind = observe::node_kind(ctx)?;
        let node = observe::node(ctx.host, own_kubeconfig(kind), &ctx.profile.node.name)?;
        if node.unschedulable {
            if !node.ready {
                let timeout = ctx.profile.upgrade.ready_timeout.0;
                plan.push(work::wait_ready(
                    own_kubeconfig(kind),
                    &ctx.profile.node.name,
                    timeout,
                ));
            }
            plan.push(Change::run(
                format!("uncordon node {}", ctx.profile.node.name),
                observe::kubectl(&kubeconfig, &["uncordon", &ctx.profile.node.name]),
            ));
        }
        Ok(plan)
    }
}
