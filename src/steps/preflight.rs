//! Step `preflight`: kubeadm's preflight satisfied before kubeadm runs. Runs with a
//! `[kubeadm]` section only (without it kubeadm never runs), after `packages`,
//! `containerd` and `cgroup` and before `kubeadm`, and only while the node is not yet a
//! member (init or join is still to come). The checks are kubeadm's own (see
//! `crate::preflight::rules` and docs/preflight.md); findings bootstrap does not own (a
//! port taken by another process, too little memory) are errors in `apply` and warnings in
//! `plan` and `check`; `kubeadm.ignore_preflight_errors` silences findings of the same
//! name, as it does in kubeadm.
//!
//! Fixes what is ours: the IPVS modules when `kube_proxy_mode = "ipvs"` (loaded now and
//! listed in /etc/modules-load.d/bootstrap-ipvs.conf for systemd-modules-load, like the
//! `modules` step), the kubelet unit enabled, and on a control plane (where kubeadm itself
//! pulls them, in init and in a control-plane join) the images pulled with
//! `kubeadm config images pull --config /var/lib/bootstrap/preflight/images.yaml` (the
//! profile's kubeadm configuration without secrets, so its image repository applies),
//! recorded in /var/lib/bootstrap/preflight/images-pulled.

use crate::engine::{Change, Context, Mode as RunMode, Plan, Progress, Step, StepError, Work};
use crate::host::{Command, HostError, Mode};
use crate::kube::config::{Document, to_yaml};
use crate::kube::render::{Inputs, JoinSecrets};
use crate::kube::state::{self, Membership};
use crate::preflight::facts;
use crate::preflight::rules::{self, Finding, IPVS_MODULES, Severity};
use crate::profile::kubeadm::Kubeadm;
use crate::profile::kubernetes::Kubernetes;

use super::error::StepsError;
use super::modules::plan_load;

/// The modules-load.d file listing the IPVS modules.
pub const IPVS_FILE: &str = "/etc/modules-load.d/bootstrap-ipvs.conf";
/// The kubeadm configuration images are pulled with (no secrets in it).
pub const IMAGES_CONFIG: &str = "/var/lib/bootstrap/preflight/images.yaml";
/// A copy of [`IMAGES_CONFIG`] as it was when its images were pulled.
pub const IMAGES_PULLED: &str = "/var/lib/bootstrap/preflight/images-pulled";
/// How long pulling the images may take.
const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

const IPVS_HEADER: &str = "Kernel modules for kube-proxy in IPVS mode (kubeadm.kube_proxy_mode = \"ipvs\"),\nloaded at boot by systemd-modules-load. Managed by bootstrap: changes here are overwritten.";

/// The `preflight` step.
pub struct PreflightStep;

/// `kubeadm config images pull --config` [`IMAGES_CONFIG`], then the configuration recorded
/// in [`IMAGES_PULLED`].
#[derive(Debug, Clone)]
struct PullImages {
    config: String,
    repository: String,
    version: String,
}

/// A refusal with its message (never another error's text: those are typed).
fn blocked(message: impl Into<String>) -> StepError {
    StepError::Blocked(message.into())
}

/// Turns findings into notes, or into one error listing every blocking finding (apply).
fn report(
    ctx: &Context,
    findings: &[Finding],
    ignored: &std::collections::BTreeSet<String>,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let apply = ctx.mode == RunMode::Apply;
    let mut errors = Vec::new();
    for f in findings {
        let text = format!(
            "kubeadm's preflight would say {}; {}",
            f.kubeadm_line(),
            f.remedy
        );
        if rules::is_ignored(ignored, &f.check) {
            plan.info(format!(
                "{text} (ignored: kubeadm.ignore_preflight_errors names {})",
                f.check
            ));
        } else if f.severity == Severity::Error && apply {
            errors.push(format!("{}: {}", f.kubeadm_line(), f.remedy));
        } else if f.ours && !apply {
            plan.info(text);
        } else {
            plan.warn(text);
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(StepError::Blocked(format!(
        "kubeadm's preflight would stop on this node, so kubeadm was not run:\n  {}\n(to go on anyway, name the check in kubeadm.ignore_preflight_errors)",
        errors.join("\n  ")
    )))
}

fn plan_ipvs(ctx: &Context, plan: &mut Plan) -> Result<(), StepError> {
    let wanted: Vec<String> = IPVS_MODULES.iter().map(|m| m.to_string()).collect();
    plan_load(ctx.host, IPVS_FILE, IPVS_HEADER, &wanted, plan)
}

/// The configuration images are pulled with: the profile's InitConfiguration (for the CRI
/// socket) and ClusterConfiguration (version, image repository), rendered without secrets.
fn images_config(
    ctx: &Context,
    kubeadm: &Kubeadm,
    kubernetes: &Kubernetes,
) -> Result<String, StepError> {
    let secrets = JoinSecrets::default();
    let inputs = Inputs {
        profile: ctx.profile,
        kubernetes,
        kubeadm,
        address: ctx.address,
        secrets: &secrets,
        // The kubeadm step reports what choosing the API found.
        api: super::kubeadm::api_version(ctx, kubernetes, &mut Vec::new())?,
    };
    let documents: Vec<Document> = inputs
        .init_documents()
        .into_iter()
        .filter(|d| matches!(d, Document::Init(_) | Document::Cluster(_)))
        .collect();
    Ok(to_yaml(&documents).map_err(StepsError::from)?)
}

fn plan_images(
    ctx: &Context,
    kubeadm: &Kubeadm,
    kubernetes: &Kubernetes,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let want = images_config(ctx, kubeadm, kubernetes)?;
    let old = ctx.host.read(IMAGES_CONFIG)?;
    plan.update_file(
        IMAGES_CONFIG,
        old.as_deref(),
        want.clone(),
        Mode::KeepOr(0o644),
    );
    if ctx.host.read(IMAGES_PULLED)?.as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    let pull = PullImages {
        config: want,
        repository: kubernetes.image_repository.clone(),
        version: format!("v{}", kubernetes.version),
    };
    plan.push(Change::work(
        format!(
            "pull the images of Kubernetes {} from {} (kubeadm config images pull --config {IMAGES_CONFIG}), then record that configuration in {IMAGES_PULLED}",
            pull.version, pull.repository
        ),
        pull,
    ));
    Ok(())
}

impl Work for PullImages {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let pull = self;
        let loud = ctx.env.progress != Progress::Quiet;
        if loud {
            eprintln!(
                "preflight: pulling the images of Kubernetes {} from {} ...",
                pull.version, pull.repository
            );
        }
        let command = Command::new("kubeadm")
            .args(["config", "images", "pull", "--config", IMAGES_CONFIG])
            .timeout(PULL_TIMEOUT);
        let output = ctx.host.run_change(step, &command).map_err(|e| match e {
            HostError::Failed { .. } => StepError::from(StepsError::Pull {
                version: pull.version.clone(),
                repository: pull.repository.clone(),
                source: e,
            }),
            other => other.into(),
        })?;
        if loud {
            for line in output.stdout.lines().filter(|l| l.contains("Pulled")) {
                eprintln!("preflight: {}", line.trim());
            }
        }
        ctx.host.write_file(
            step,
            IMAGES_PULLED,
            pull.config.as_bytes(),
            Mode::KeepOr(0o644),
        )?;
        Ok(())
    }
}

impl Step for PreflightStep {
    fn name(&self) -> &'static str {
        "preflight"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let Some(kubeadm) = &ctx.profile.kubeadm else {
            return Ok(Plan::skip(
                "no [kubeadm] section: kubeadm does not run, so there is no preflight to satisfy",
            ));
        };
        if ctx.host.is_offline() {
            return Ok(Plan::skip(super::kubeadm::OFFLINE_SKIP));
        }
        let Some(kubernetes) = &ctx.profile.kubernetes else {
            return Err(blocked(
                "[kubeadm] needs [kubernetes] version (the profile was not validated)",
            ));
        };
        match state::observe(ctx.host)? {
            Membership::Fresh => {}
            Membership::Partial { .. } => {
                return Ok(Plan::skip(
                    "kubeadm's files are half there: the kubeadm step reports it",
                ));
            }
            _ => {
                return Ok(Plan::skip(
                    "already a cluster member: kubeadm runs neither init nor join",
                ));
            }
        }
        let secrets =
            JoinSecrets::resolve(ctx.host, kubeadm, ctx.profile.node.role).unwrap_or_default();
        let ca_cert = secrets
            .ca
            .as_ref()
            .map(|c| c.cert_pem.clone())
            .or(secrets.ca_cert);
        let facts = facts::collect(ctx, kubeadm, ca_cert.as_deref())?;
        let mut plan = Plan::default();
        report(ctx, &rules::analyse(&facts), &facts.ignored, &mut plan)?;
        if facts.ipvs {
            plan_ipvs(ctx, &mut plan)?;
        }
        if facts.kubelet_unit && !facts.kubelet_enabled {
            plan.push(Change::run(
                "enable kubelet.service (kubeadm warns when it is not)",
                Command::new("systemctl").args(["enable", "kubelet.service"]),
            ));
        }
        if facts.control_plane {
            plan_images(ctx, kubeadm, kubernetes, &mut plan)?;
        }
        Ok(plan)
    }
}
