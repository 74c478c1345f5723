//! The phases of a node's upgrade, each a [`Step`] (so each is planned, shown by `bootstrap
//! upgrade plan`, carried out change by change, verified by planning again, and reported
//! with its duration). Each phase observes the node first and plans nothing once its work
//! is visible (installed versions, the API server's version, the Node object) or journaled.
//!
//! Order (the kubeadm upgrade guide,
//! <https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/>): kubeadm
//! first, the control plane's backup, `kubeadm upgrade apply` (first control plane) or
//! `kubeadm upgrade node`, drain, kubelet and kubectl, restart and wait Ready, uncordon.

use crate::engine::{Context, Plan, Step, StepError};
use crate::kube::state::ADMIN_CONF;
use crate::packages::tools;
use crate::values::KubeVersion;

use super::error::UpgradeError;
use super::journal;
use super::observe::{self, NodeStatus, own_kubeconfig};
use super::policy::NodeKind;
use super::work;

/// Phase names, in order.
pub const NAMES: [&str; 7] = [
    KUBEADM_PACKAGE,
    BACKUP,
    KUBEADM_UPGRADE,
    DRAIN,
    KUBELET_PACKAGE,
    KUBELET_RESTART,
    UNCORDON,
];
const KUBEADM_PACKAGE: &str = "upgrade-kubeadm";
const BACKUP: &str = "upgrade-backup";
const KUBEADM_UPGRADE: &str = "upgrade-control-plane";
const DRAIN: &str = "upgrade-drain";
const KUBELET_PACKAGE: &str = "upgrade-kubelet";
const KUBELET_RESTART: &str = "upgrade-restart";
const UNCORDON: &str = "upgrade-uncordon";

/// One phase of this node's upgrade to `target`.
pub struct Phase {
    name: &'static str,
    kind: NodeKind,
    target: KubeVersion,
}

/// The phases for a node of `kind`, in order.
pub fn phases(kind: NodeKind, target: KubeVersion) -> Vec<Box<dyn Step>> {
    NAMES
        .iter()
        .map(|&name| Box::new(Phase { name, kind, target }) as Box<dyn Step>)
        .collect()
}

/// The kubeconfig that may cordon and evict: the profile's, else admin.conf on a control
/// plane; `None` when the profile says to skip the drain. A worker without one is refused.
pub fn drain_kubeconfig(ctx: &Context, kind: NodeKind) -> Result<Option<String>, UpgradeError> {
    let drain = &ctx.profile.upgrade.drain;
    if drain.skip {
        return Ok(None);
    }
    let path = match (&drain.kubeconfig, kind.control_plane()) {
        (Some(path), _) => path.clone(),
        (None, true) => ADMIN_CONF.to_string(),
        (None, false) => {
            return Err(UpgradeError::NoEvictionCredentials {
                own: own_kubeconfig(kind),
            });
        }
    };
    if !ctx.host.exists(&path) {
        return Err(UpgradeError::KubeconfigMissing { path });
    }
    Ok(Some(path))
}

impl Phase {
    fn node(&self, ctx: &Context) -> Result<NodeStatus, StepError> {
        observe::node(ctx.host, own_kubeconfig(self.kind), &ctx.profile.node.name)
    }

    fn done(&self, ctx: &Context, phase: &str) -> Result<bool, StepError> {
        journal::is_done(ctx.host, self.target, phase)
    }

    /// Whether the kubelet still has to move (installed or running).
    fn kubelet_pending(&self, ctx: &Context, node: &NodeStatus) -> Result<bool, StepError> {
        Ok(
            observe::installed(ctx, tools::KUBELET)? != Some(self.target)
                || observe::installed(ctx, tools::KUBECTL)? != Some(self.target)
                || node.kubelet != Some(self.target),
        )
    }

    /// Whether this node's kubeadm upgrade is done: the API server at the target (first
    /// control plane; `kubeadm upgrade apply` is never run again then), or journaled.
    fn control_plane_done(&self, ctx: &Context) -> Result<bool, StepError> {
        if self.kind == NodeKind::FirstControlPlane {
            let api = observe::api_server(ctx.host, ADMIN_CONF)?;
            return Ok(api.is_some_and(|a| a >= self.target));
        }
        self.done(ctx, KUBEADM_UPGRADE)
    }

    fn plan_kubeadm_upgrade(&self, ctx: &Context, plan: &mut Plan) -> Result<(), StepError> {
        if self.control_plane_done(ctx)? {
            return Ok(());
        }
        let v = format!("v{}", self.target);
        if self.kind == NodeKind::FirstControlPlane {
            plan.info(format!("first control plane: `kubeadm upgrade apply {v}` upgrades the cluster's control plane (API server, controller-manager, scheduler, etcd, CoreDNS and kube-proxy once every API server runs {v})"));
            plan.push(work::check_listed(self.target));
            plan.push(work::kubeadm(
                &["upgrade", "apply", &v, "--yes"],
                self.target,
                KUBEADM_UPGRADE,
            ));
        } else {
            plan.info("`kubeadm upgrade node` upgrades this node's static pods (control plane) and kubelet configuration to the cluster's version");
            plan.push(work::kubeadm(
                &["upgrade", "node"],
                self.target,
                KUBEADM_UPGRADE,
            ));
        }
        Ok(())
    }

    fn plan_drain(&self, ctx: &Context, plan: &mut Plan) -> Result<(), StepError> {
        let node = self.node(ctx)?;
        if !self.kubelet_pending(ctx, &node)? || (node.unschedulable && self.done(ctx, DRAIN)?) {
            return Ok(());
        }
        let Some(kubeconfig) = drain_kubeconfig(ctx, self.kind)? else {
            *plan = Plan::skip(
                "upgrade.drain.skip = true: the node is not drained (its pods stop when the kubelet restarts)",
            );
            return Ok(());
        };
        let command = work::drain_command(ctx, &kubeconfig, &ctx.profile.node.name);
        plan.push(work::drain(command, Some(self.target), DRAIN));
        Ok(())
    }

    fn plan_after_drain(&self, ctx: &Context, plan: &mut Plan) -> Result<(), StepError> {
        let node = self.node(ctx)?;
        let from = node
            .kubelet
            .map_or("the previous version".into(), |v| v.to_string());
        let mut inner = Plan::default();
        if self.name == KUBELET_PACKAGE {
            if observe::installed(ctx, tools::KUBELET)? != Some(self.target)
                || observe::installed(ctx, tools::KUBECTL)? != Some(self.target)
            {
                super::packages::plan(
                    ctx,
                    &[tools::KUBELET, tools::KUBECTL],
                    self.target,
                    &mut inner,
                )?;
            }
        } else if !(node.ready && node.kubelet == Some(self.target)) {
            let timeout = ctx.profile.upgrade.ready_timeout.0;
            let kubeconfig = own_kubeconfig(self.kind);
            inner.push(work::restart(
                kubeconfig,
                &ctx.profile.node.name,
                self.target,
                timeout,
            ));
        }
        let cordoned = node.unschedulable;
        for change in inner.changes {
            plan.push(if cordoned {
                work::guarded(change, &ctx.profile.node.name, &from)
            } else {
                change
            });
        }
        plan.notes.extend(inner.notes);
        Ok(())
    }

    fn plan_uncordon(&self, ctx: &Context, plan: &mut Plan) -> Result<(), StepError> {
        let node = self.node(ctx)?;
        if !node.unschedulable || !self.done(ctx, DRAIN)? || self.kubelet_pending(ctx, &node)? {
            return Ok(());
        }
        if let Some(kubeconfig) = drain_kubeconfig(ctx, self.kind)? {
            plan.push(work::uncordon(&kubeconfig, &ctx.profile.node.name));
        }
        Ok(())
    }
}

/// The etcd snapshot before the control plane's upgrade, with `bootstrap etcd snapshot
/// save`'s checks (docs/etcd.md), into its default directory. A node without a stacked etcd
/// member this agent can read (external etcd) gets a warning instead; any other problem
/// (a certificate missing, etcdctl failing) stops the upgrade before kubeadm runs.
fn plan_etcd_snapshot(ctx: &Context, plan: &mut Plan) -> Result<(), StepError> {
    use crate::etcd::{EtcdError, snapshot};
    match snapshot::plan(ctx.host, None, snapshot::DEFAULT_DIR, None) {
        Ok(save) => plan.push(work::etcd_snapshot(save)),
        Err(e @ (EtcdError::NotControlPlane { .. } | EtcdError::Manifest { .. })) => plan.warn(format!(
            "no etcd snapshot is taken before the upgrade ({e}); with an external etcd, snapshot it yourself first (kubeadm backs up a local etcd's data under /etc/kubernetes/tmp)"
        )),
        Err(e) => return Err(StepError::Cause(Box::new(e))),
    }
    Ok(())
}

impl Step for Phase {
    fn name(&self) -> &'static str {
        self.name
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let mut plan = Plan::default();
        match self.name {
            KUBEADM_PACKAGE => {
                if observe::installed(ctx, tools::KUBEADM)? != Some(self.target) {
                    plan.info(format!(
                        "kubeadm goes to {} first: the new kubeadm does this node's upgrade",
                        self.target
                    ));
                    super::packages::plan(ctx, &[tools::KUBEADM], self.target, &mut plan)?;
                }
            }
            BACKUP if !self.kind.control_plane() => {
                return Ok(Plan::skip("a worker has no control plane to back up"));
            }
            BACKUP => {
                if !self.done(ctx, BACKUP)? && !self.control_plane_done(ctx)? {
                    plan_etcd_snapshot(ctx, &mut plan)?;
                    let into = format!(
                        "/var/lib/bootstrap/upgrade/backup-before-v{}/etc-kubernetes",
                        self.target
                    );
                    plan.push(work::backup(into, self.target, BACKUP));
                }
            }
            KUBEADM_UPGRADE => self.plan_kubeadm_upgrade(ctx, &mut plan)?,
            DRAIN => self.plan_drain(ctx, &mut plan)?,
            KUBELET_PACKAGE | KUBELET_RESTART => self.plan_after_drain(ctx, &mut plan)?,
            _ => self.plan_uncordon(ctx, &mut plan)?,
        }
        Ok(plan)
    }
}
