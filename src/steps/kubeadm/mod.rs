//! Step `kubeadm`: the node becomes a cluster member. The first control plane places the
//! bundle's CA, writes kube-vip's static pod (HA), runs `kubeadm init --config`; other nodes
//! run `kubeadm join --config`, retrying while the API server does not answer yet. After
//! init: a kubeconfig for a regular user, the CNI add-on, the join command (classic flow
//! without a bundle), and a bounded wait for Ready. A member node is left alone; a half-done
//! node is reported with evidence and the remedy, never re-initialised; a failed kubeadm run
//! is diagnosed (see `kube::diagnose`).
//!
//! Touches: /etc/kubernetes/pki/ca.{crt,key} (bundle CA, before init),
//! /etc/kubernetes/manifests/kube-vip.yaml, /var/lib/bootstrap/kubeadm/{init,join}.yaml and
//! join-command (0600), /var/lib/bootstrap/cni/NAME.yaml, ~USER/.kube/config (0600); runs
//! kubeadm, kubectl, curl (a CNI URL), chown.

use std::os::unix::fs::MetadataExt;

use sha2::{Digest, Sha256};

use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::formats::diff;
use crate::host::{Command, Host, HostError, Mode as FileMode};
use crate::kube::config::to_yaml;
use crate::kube::diagnose::{self, Evidence, Failure};
use crate::kube::kube_vip;
use crate::kube::render::{Inputs, JoinSecrets};
use crate::kube::retry::Backoff;
use crate::kube::state::{
    self, ADMIN_CONF, CA_CRT, CA_KEY, KUBE_VIP_MANIFEST, KUBELET_CONF, Membership, SUPER_ADMIN_CONF,
};
use crate::kube::yaml::redact_secrets;
use crate::profile::Role;
use crate::profile::kubeadm::{Cni, KubeVip, Kubeadm, Mode};
use crate::profile::kubernetes::Kubernetes;
use crate::profile::swap::SwapPolicy;
use crate::values::KubeVersion;
use crate::values::secret::hex;

mod access;
mod after;
mod diagnosis;
mod error;
mod init;
mod inputs;
mod join;
mod render;
mod work;

use after::{After, kubectl_with};
use diagnosis::evidence;
use inputs::missing_inputs;
pub use render::{Rendered, api_version, render};
use render::{at_least, vip_manifest, write_config, write_manifest};

/// The init configuration (0600: it holds the token and certificate key).
pub const INIT_CONFIG: &str = "/var/lib/bootstrap/kubeadm/init.yaml";
/// The join configuration (0600).
pub const JOIN_CONFIG: &str = "/var/lib/bootstrap/kubeadm/join.yaml";
/// The join command stored after a classic init (0600).
pub const JOIN_COMMAND_FILE: &str = "/var/lib/bootstrap/kubeadm/join-command";
/// Written when a kubeadm init or join started by bootstrap succeeded: kubeadm's files alone
/// cannot tell a finished init from one that failed waiting for the control plane.
pub const MEMBER_MARKER: &str = "/var/lib/bootstrap/kubeadm/member";
/// The stored copies of applied CNI manifests.
pub const CNI_DIR: &str = "/var/lib/bootstrap/cni";

/// The `kubeadm` step.
pub struct KubeadmStep;

/// Why the kubeadm and preflight steps do nothing for an offline root.
pub const OFFLINE_SKIP: &str = "an offline root (an image tree): kubeadm init or join runs at first boot, by the apply on the booted node";

/// A refusal with its message (never another error's text: those are typed).
fn blocked(message: impl Into<String>) -> StepError {
    StepError::Blocked(message.into())
}

fn sections<'a>(ctx: &Context<'a>) -> Result<Option<(&'a Kubeadm, &'a Kubernetes)>, StepError> {
    let Some(kubeadm) = &ctx.profile.kubeadm else {
        return Ok(None);
    };
    let kubernetes = ctx.profile.kubernetes.as_ref().ok_or_else(|| {
        blocked("[kubeadm] needs [kubernetes] version (the profile was not validated)")
    })?;
    Ok(Some((kubeadm, kubernetes)))
}

impl KubeadmStep {
    fn plan_node(&self, ctx: &Context) -> Result<Plan, StepError> {
        let Some((kubeadm, kubernetes)) = sections(ctx)? else {
            return Ok(Plan::skip(
                "no [kubeadm] section: the node is prepared but joins no cluster",
            ));
        };
        let missing = missing_inputs(ctx, kubeadm)?;
        if !missing.is_empty() {
            return Err(blocked(format!(
                "this node cannot take its part in the cluster: it lacks\n  - {}\nnothing was run; put them in place (the bundle from `bootstrap secrets generate`, the CNI manifest), then apply again",
                missing.join("\n  - ")
            )));
        }
        let Some(rendered) = render(ctx)? else {
            return Ok(Plan::default());
        };
        let host = ctx.host;
        let role = ctx.profile.node.role;
        let mut plan = Plan::default();
        plan.notes.extend(rendered.notes.iter().cloned());
        let after = After {
            ctx,
            kubeadm,
            mode: rendered.mode,
            classic: rendered.secrets.token.is_none(),
        };
        match (
            self.membership(host, &rendered, &mut plan)?,
            rendered.mode,
            role,
        ) {
            (Membership::Partial { present, missing }, mode, _) => {
                let mut evidence = evidence(ctx, kubernetes, mode, rendered.path)?;
                evidence.present = present;
                evidence.missing = missing;
                return Err(blocked(diagnose::report(
                    &evidence,
                    &diagnose::analyse(&evidence),
                )));
            }
            (Membership::Fresh, Mode::Init, _) => {
                self.plan_init(ctx, kubeadm, kubernetes, &rendered, &mut plan)?;
                after.plan(true, &mut plan)?;
            }
            (Membership::Fresh, Mode::Join, _) => {
                self.plan_join(ctx, kubeadm, &rendered, &mut plan)?;
                after.plan(true, &mut plan)?;
            }
            (Membership::ControlPlane, _, Role::ControlPlane) => {
                self.check_ca(host, &rendered)?;
                if let Some(vip) = &kubeadm.kube_vip {
                    let want = vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF)?;
                    write_manifest(host, want, &mut plan)?;
                }
                after.plan(false, &mut plan)?;
                note_config_drift(host, &rendered, &mut plan)?;
            }
            (Membership::Worker, _, Role::Worker) => note_config_drift(host, &rendered, &mut plan)?,
            (Membership::ControlPlane, _, Role::Worker) => {
                return Err(blocked(
                    "the profile says this node is a worker, but it is a control plane (/etc/kubernetes/manifests/kube-apiserver.yaml and admin.conf exist); to change its role, drain it, run `kubeadm reset -f`, then apply again",
                ));
            }
            (Membership::Worker, _, Role::ControlPlane) => {
                return Err(blocked(
                    "the profile says this node is a control plane, but it has joined as a worker (/etc/kubernetes/kubelet.conf exists, no control-plane manifests); to change its role, drain it, run `kubeadm reset -f`, then apply again",
                ));
            }
        }
        Ok(plan)
    }

    /// kubeadm's files, checked against bootstrap's own record and the node itself. A
    /// complete set of files next to a config bootstrap wrote but without the record that
    /// kubeadm finished is either a run killed after kubeadm succeeded (the API server
    /// answers through the node's own kubeconfig: a member, and the record is written now)
    /// or a run that failed late, waiting for the control plane (it does not answer).
    fn membership(
        &self,
        host: &Host,
        rendered: &Rendered,
        plan: &mut Plan,
    ) -> Result<Membership, StepError> {
        let observed = state::observe(host)?;
        let (kind, kubeconfig) = match observed {
            Membership::ControlPlane => ("control plane", ADMIN_CONF),
            Membership::Worker => ("worker", KUBELET_CONF),
            _ => return Ok(observed),
        };
        if host.exists(MEMBER_MARKER) || !host.exists(rendered.path) {
            return Ok(observed);
        }
        let readyz = kubectl_with(kubeconfig, &["get", "--raw", "/readyz"]);
        let answer = host.run(&readyz)?;
        if answer.success() {
            let mut change = Change::file(
                MEMBER_MARKER,
                None,
                format!(
                    "{}\n",
                    if rendered.mode == Mode::Init {
                        "init"
                    } else {
                        "join"
                    }
                ),
                FileMode::KeepOr(0o644),
            );
            change.summary = format!(
                "record that kubeadm finished: the files of a {kind} are complete and the API server answers `{}`",
                readyz.display()
            );
            plan.push(change);
            return Ok(observed);
        }
        Ok(Membership::Partial {
            present: vec![format!("the files of a {kind}"), rendered.path.to_string()],
            missing: vec![
                format!("{MEMBER_MARKER} (written when kubeadm finishes)"),
                format!(
                    "an answer from the API server to `{}` ({})",
                    readyz.display(),
                    answer.tail(1)
                ),
            ],
        })
    }

    fn check_ca(&self, host: &Host, rendered: &Rendered) -> Result<(), StepError> {
        if let Some(bundle_ca) = &rendered.secrets.ca_cert
            && let Some(node_ca) = host.read(CA_CRT)?
            && node_ca.trim() != bundle_ca.trim()
        {
            return Err(blocked(format!(
                "{CA_CRT} is not the CA of the secrets bundle: this node belongs to another cluster (or holds a CA left by an earlier kubeadm run); remove it or run `kubeadm reset -f`, then apply again"
            )));
        }
        Ok(())
    }
}

fn note_config_drift(host: &Host, rendered: &Rendered, plan: &mut Plan) -> Result<(), StepError> {
    if let Some(stored) = host.read(rendered.path)?
        && stored != rendered.yaml
    {
        plan.warn(format!(
            "the kubeadm configuration rendered from the profile differs from {}, which this node was set up with; kubeadm does not change a running cluster from it (use `kubeadm upgrade` or `kubeadm certs` for that)",
            rendered.path
        ));
    }
    Ok(())
}

impl Step for KubeadmStep {
    fn name(&self) -> &'static str {
        "kubeadm"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        if ctx.host.is_offline() && ctx.profile.kubeadm.is_some() {
            return Ok(Plan::skip(OFFLINE_SKIP));
        }
        self.plan_node(ctx)
    }
}
