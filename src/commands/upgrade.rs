//! `bootstrap upgrade plan|apply`, `bootstrap drain`, `bootstrap uncordon`: the node's kind
//! and versions shown, the policy checked before anything changes, then the phases run by
//! the engine (exit codes as `plan`/`apply`: 0 nothing to do or done, 2 pending, 1 error).

use crate::engine::report::Reporter;
use crate::engine::run::{Selection, run};
use crate::engine::{Context, Event, Mode, Step};
use crate::upgrade::phases::{drain_kubeconfig, phases};
use crate::upgrade::policy::{self, NodeKind, Versions};
use crate::upgrade::{UpgradeError, maintain, observe};
use crate::values::KubeVersion;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The upgrade's phases.
    Upgrade,
    /// Drain this node.
    Drain,
    /// Uncordon this node.
    Uncordon,
    /// Drain, then reboot with a one-shot unit that uncordons at boot (its `ExecStart=`).
    Reboot(String),
}

fn show(v: Option<KubeVersion>) -> String {
    v.map_or("not found".into(), |v| format!("v{v}"))
}

/// The header of an upgrade: node kind, versions, target (a JSON object with `json`).
fn header(kind: NodeKind, versions: &Versions, target: KubeVersion, json: bool) {
    if json {
        super::print_json(&serde_json::json!({
            "event": "upgrade",
            "kind": format!("{kind:?}"),
            "target": target.to_string(),
            "kubeadm": versions.kubeadm.map(|v| v.to_string()),
            "kubelet": versions.kubelet.map(|v| v.to_string()),
            "kubectl": versions.kubectl.map(|v| v.to_string()),
            "api_server": versions.api_server.map(|v| v.to_string()),
        }));
        return;
    }
    let text = format!(
        "upgrade to v{target} (kubernetes.version)\n  node kind:  {}\n  kubeadm {}, kubelet {}, kubectl {}; API server {}\n",
        kind.describe(),
        show(versions.kubeadm),
        show(versions.kubelet),
        show(versions.kubectl),
        show(versions.api_server)
    );
    super::write_stdout(text.as_bytes());
}

/// The upgrade's phases for this node after the policy allowed them.
fn upgrade_steps(ctx: &Context, json: bool) -> Result<Vec<Box<dyn Step>>, UpgradeError> {
    let target = ctx
        .profile
        .kubernetes
        .as_ref()
        .ok_or(UpgradeError::NoTarget)?
        .version;
    let kind = observe::node_kind(ctx)?;
    let versions = observe::versions(ctx, kind).map_err(|e| UpgradeError::Refused {
        target: target.to_string(),
        problems: vec![e.to_string()],
    })?;
    header(kind, &versions, target, json);
    let mut problems = policy::check(kind, &versions, target);
    if problems.is_empty()
        && !policy::done(&versions, target)
        && let Err(e) = drain_kubeconfig(ctx, kind)
    {
        problems.push(e.to_string());
    }
    if !problems.is_empty() {
        return Err(UpgradeError::Refused {
            target: target.to_string(),
            problems,
        });
    }
    Ok(phases(kind, target))
}

/// Runs `job` on this node in `mode`; returns the exit code.
pub fn run_job(
    ctx: &Context,
    job: Job,
    profile_file: &str,
    json: bool,
    reporter: &mut dyn Reporter,
) -> i32 {
    let steps: Vec<Box<dyn Step>> = match job {
        Job::Drain => vec![Box::new(maintain::DrainStep)],
        Job::Uncordon => vec![Box::new(maintain::UncordonStep)],
        Job::Reboot(exec) => vec![
            Box::new(maintain::DrainStep),
            Box::new(maintain::RebootStep { exec }),
        ],
        Job::Upgrade => match upgrade_steps(ctx, json) {
            Ok(steps) => steps,
            Err(e) => {
                let message = ctx.host.redact(&e.to_string());
                if json {
                    reporter.event(&Event::Error {
                        message: &message,
                        diagnostics: &[],
                    });
                } else {
                    eprintln!("error: {message}");
                }
                return 1;
            }
        },
    };
    let mode = if ctx.mode == Mode::Apply {
        Mode::Apply
    } else {
        Mode::Plan
    };
    run(
        &steps,
        ctx,
        mode,
        &Selection::default(),
        profile_file,
        reporter,
    )
    .exit_code
}
