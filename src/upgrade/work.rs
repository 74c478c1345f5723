//! The work an upgrade phase carries out beyond package commands: kubeadm's upgrade
//! commands, the backup, the drain, the kubelet restart with its wait, the uncordon. Each
//! is a [`Work`] whose change's summary, made here beside it, says exactly what it does,
//! and each records its phase in the journal once it succeeded.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Change, Context, StepError, Work};
use crate::host::{Command, Mode};
use crate::kube::retry::{Attempt, Backoff};
use crate::values::KubeVersion;

use super::error::UpgradeError;
use super::journal;
use super::observe::{self, kubectl};

/// kubeadm may take long (image pulls, static pod restarts): `upgrade apply` waits up to
/// 5 minutes per component by default (`UpgradeConfiguration.timeouts.upgradeManifests`).
const KUBEADM_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// `kubeadm upgrade plan vX`: the target must be offered as `kubeadm upgrade apply vX`
/// (`cmd/kubeadm/app/cmd/upgrade/plan.go` prints that command for every available upgrade).
#[derive(Debug)]
struct CheckListed {
    target: KubeVersion,
}

/// The change running `kubeadm upgrade plan` and requiring the target in it.
pub fn check_listed(target: KubeVersion) -> Change {
    Change::work(
        format!(
            "run `kubeadm upgrade plan v{target}` and require `kubeadm upgrade apply v{target}` among the upgrades it offers"
        ),
        CheckListed { target },
    )
}

impl Work for CheckListed {
    fn run(&self, ctx: &Context, _step: &str) -> Result<(), StepError> {
        let command = Command::new("kubeadm")
            .args(["upgrade", "plan", &format!("v{}", self.target)])
            .timeout(KUBEADM_TIMEOUT);
        let out = ctx.host.run(&command)?;
        let want = format!("kubeadm upgrade apply v{}", self.target);
        if out.success() && out.stdout.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        Err(UpgradeError::NotListed {
            target: format!("v{}", self.target),
            tail: out.tail(4),
        }
        .into())
    }
}

/// A kubeadm upgrade command, then the phase journaled.
#[derive(Debug)]
struct Kubeadm {
    command: Command,
    target: KubeVersion,
    phase: &'static str,
}

/// `kubeadm upgrade apply vX --yes` (first control plane) or `kubeadm upgrade node`.
pub fn kubeadm(args: &[&str], target: KubeVersion, phase: &'static str) -> Change {
    let command = Command::new("kubeadm")
        .args(args.iter().copied())
        .timeout(KUBEADM_TIMEOUT);
    Change::work(
        format!(
            "run `{}`, then record it in {}",
            command.display(),
            journal::JOURNAL
        ),
        Kubeadm {
            command,
            target,
            phase,
        },
    )
}

impl Work for Kubeadm {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        ctx.host.run_change(step, &self.command)?;
        journal::record(ctx.host, step, self.target, self.phase)
    }
}

/// An etcd snapshot of the local member (the `etcd snapshot save` of `bootstrap etcd`),
/// checked before it is kept.
#[derive(Debug)]
struct EtcdSnapshot(crate::etcd::snapshot::SavePlan);

/// The change taking `plan`'s snapshot.
pub fn etcd_snapshot(plan: crate::etcd::snapshot::SavePlan) -> Change {
    Change::work(plan.lines().join("; "), EtcdSnapshot(plan))
}

impl Work for EtcdSnapshot {
    fn run(&self, ctx: &Context, _step: &str) -> Result<(), StepError> {
        crate::etcd::snapshot::save(ctx.host, &self.0)
            .map_err(|e| StepError::Cause(Box::new(e)))?;
        Ok(())
    }
}

/// A copy of /etc/kubernetes (every file 0600: it holds keys) under /var/lib/bootstrap.
#[derive(Debug)]
struct Backup {
    into: String,
    target: KubeVersion,
    phase: &'static str,
}

/// The source of the backup.
const ETC_KUBERNETES: &str = "/etc/kubernetes";

/// The change copying /etc/kubernetes into `into`.
pub fn backup(into: String, target: KubeVersion, phase: &'static str) -> Change {
    Change::work(
        format!(
            "copy {ETC_KUBERNETES} to {into} (every file 0600; kubeadm also keeps its own manifest and etcd backups under /etc/kubernetes/tmp)"
        ),
        Backup {
            into,
            target,
            phase,
        },
    )
}

impl Work for Backup {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        let mut pending = vec![ETC_KUBERNETES.to_string()];
        while let Some(dir) = pending.pop() {
            for name in host.list_dir(&dir)? {
                let path = format!("{dir}/{name}");
                if host.is_dir(&path) {
                    pending.push(path);
                } else if let Some(bytes) = host.read_bytes(&path)? {
                    let rel = path.trim_start_matches(ETC_KUBERNETES);
                    host.write_file(
                        step,
                        &format!("{}{rel}", self.into),
                        &bytes,
                        Mode::Exact(0o600),
                    )?;
                }
            }
        }
        journal::record(host, step, self.target, self.phase)
    }
}

/// `kubectl drain` as operators run it, then the phase journaled (so the uncordon knows
/// this upgrade cordoned the node).
#[derive(Debug)]
struct Drain {
    command: Command,
    target: Option<KubeVersion>,
    phase: &'static str,
}

/// The `kubectl drain` command for `node` with the profile's settings: cordon, evict
/// (PodDisruptionBudgets respected, kubectl retrying a blocked eviction until `--timeout`),
/// DaemonSet pods left in place; emptyDir data and unmanaged pods only when the profile
/// says so (kubectl refuses both otherwise, naming the pods).
pub fn drain_command(ctx: &Context, kubeconfig: &str, node: &str) -> Command {
    let drain = &ctx.profile.upgrade.drain;
    let timeout = format!("--timeout={}s", drain.timeout.0.as_secs().max(1));
    let mut args = vec!["drain", node, "--ignore-daemonsets", timeout.as_str()];
    if drain.delete_emptydir_data {
        args.push("--delete-emptydir-data");
    }
    if drain.force {
        args.push("--force");
    }
    kubectl(kubeconfig, &args).timeout(drain.timeout.0 + Duration::from_secs(60))
}

/// The change draining the node (`target`: the upgrade journaled, `None` for `bootstrap
/// drain`).
pub fn drain(command: Command, target: Option<KubeVersion>, phase: &'static str) -> Change {
    Change::work(
        format!("drain: `{}`", command.display()),
        Drain {
            command,
            target,
            phase,
        },
    )
}

impl Work for Drain {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        ctx.host.run_change(step, &self.command)?;
        match self.target {
            Some(target) => journal::record(ctx.host, step, target, self.phase),
            None => Ok(()),
        }
    }
}

/// daemon-reload, restart the kubelet, and wait until the node is Ready with its kubelet
/// at the target.
#[derive(Debug)]
struct Restart {
    kubeconfig: String,
    node: String,
    target: KubeVersion,
    backoff: Backoff,
}

/// The change restarting the kubelet on `node` and waiting for it at `target`.
pub fn restart(kubeconfig: &str, node: &str, target: KubeVersion, timeout: Duration) -> Change {
    Change::work(
        format!(
            "`systemctl daemon-reload`, `systemctl restart kubelet`, then wait up to {} for node {node} to be Ready with kubelet v{target}",
            humantime::format_duration(timeout)
        ),
        Restart {
            kubeconfig: kubeconfig.to_string(),
            node: node.to_string(),
            target,
            backoff: Backoff::polling(timeout),
        },
    )
}

impl Work for Restart {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        host.run_change(step, &Command::new("systemctl").arg("daemon-reload"))?;
        host.run_change(
            step,
            &Command::new("systemctl").args(["restart", "kubelet"]),
        )?;
        let mut waiting = host
            .progress()
            .start("upgrade.ready_timeout", self.backoff.total_wait())
            .after_grace();
        let last = std::cell::RefCell::new(String::new());
        let subject = || {
            format!(
                "node {} Ready at v{} (last: {})",
                self.node,
                self.target,
                last.borrow()
            )
        };
        let check = |_| {
            let seen = match observe::node(host, &self.kubeconfig, &self.node) {
                Ok(n) if n.ready && n.kubelet == Some(self.target) => return Attempt::Done(()),
                Ok(n) => format!(
                    "Ready={}, kubelet {}",
                    n.ready,
                    n.kubelet.map_or("unknown".into(), |v| v.to_string())
                ),
                Err(e) => e.to_string(),
            };
            last.replace(seen.clone());
            Attempt::Retry(seen)
        };
        self.backoff
            .run(&mut |d| waiting.sleep(d, &subject()), check)
            .map_err(|gave_up| UpgradeError::NotReady {
                node: self.node.clone(),
                target: self.target.to_string(),
                checks: gave_up.attempts,
                last: gave_up.error,
            })?;
        Ok(())
    }
}

/// Waits until the node is Ready (after a reboot, before the uncordon).
#[derive(Debug)]
struct WaitReady {
    kubeconfig: String,
    node: String,
    backoff: Backoff,
}

/// The change waiting up to `timeout` for `node` to be Ready.
pub fn wait_ready(kubeconfig: &str, node: &str, timeout: Duration) -> Change {
    Change::work(
        format!(
            "wait up to {} for node {node} to be Ready",
            humantime::format_duration(timeout)
        ),
        WaitReady {
            kubeconfig: kubeconfig.to_string(),
            node: node.to_string(),
            backoff: Backoff::polling(timeout),
        },
    )
}

impl Work for WaitReady {
    fn run(&self, ctx: &Context, _step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        let mut waiting = host
            .progress()
            .start("upgrade.ready_timeout", self.backoff.total_wait())
            .after_grace();
        let subject = format!("node {} to be Ready", self.node);
        let check = |_| match observe::node(host, &self.kubeconfig, &self.node) {
            Ok(n) if n.ready => Attempt::Done(()),
            Ok(_) => Attempt::Retry("Ready is not True".to_string()),
            Err(e) => Attempt::Retry(e.to_string()),
        };
        self.backoff
            .run(&mut |d| waiting.sleep(d, &subject), check)
            .map_err(|gave_up| UpgradeError::NotReady {
                node: self.node.clone(),
                target: "its version".into(),
                checks: gave_up.attempts,
                last: gave_up.error,
            })?;
        Ok(())
    }
}

/// `kubectl uncordon NODE`.
pub fn uncordon(kubeconfig: &str, node: &str) -> Change {
    Change::run(
        format!("uncordon node {node} (it is Ready at its new version)"),
        kubectl(kubeconfig, &["uncordon", node]),
    )
}

/// A change after the drain: its failure leaves the node cordoned, and says how to
/// continue or roll back.
#[derive(Debug)]
struct Guarded {
    inner: Change,
    node: String,
    from: String,
}

/// Wraps `inner` so that its failure names the cordoned node and what to do.
pub fn guarded(inner: Change, node: &str, from: &str) -> Change {
    Change {
        summary: inner.summary.clone(),
        diff: inner.diff.clone(),
        action: crate::engine::Action::Work(Arc::new(Guarded {
            inner,
            node: node.to_string(),
            from: from.to_string(),
        })),
    }
}

impl Work for Guarded {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        self.inner.apply(ctx, step).map_err(|e| {
            UpgradeError::Cordoned {
                node: self.node.clone(),
                from: self.from.clone(),
                source: Box::new(e),
            }
            .into()
        })
    }
}
