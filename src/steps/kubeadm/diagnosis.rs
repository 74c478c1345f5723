//! Diagnosing a failed kubeadm run from the node's evidence (see `kube::diagnose`).

use super::error::KubeadmError;
#[allow(unused_imports)]
use super::*;

/// The diagnosis of a failed kubeadm run: the node's evidence analysed into a report, or
/// the failure itself when the evidence cannot be read.
pub(super) fn diagnosed(ctx: &Context, mode: Mode, config: &str, error: HostError) -> StepError {
    let Ok(Some((_, kubernetes))) = sections(ctx) else {
        return StepError::Host(error);
    };
    let failure = match &error {
        HostError::Failed {
            command,
            code,
            tail,
        } => Failure {
            command: command.clone(),
            code: code.parse().ok(),
            tail: tail.clone(),
        },
        other => Failure {
            command: format!(
                "kubeadm {}",
                if mode == Mode::Init { "init" } else { "join" }
            ),
            code: None,
            tail: other.to_string(),
        },
    };
    match evidence(ctx, kubernetes, mode, config) {
        Ok(mut e) => {
            e.failure = Some(failure);
            KubeadmError::Diagnosed {
                report: diagnose::report(&e, &diagnose::analyse(&e)),
                source: error,
            }
            .into()
        }
        Err(_) => StepError::Host(error),
    }
}

pub(super) fn evidence(
    ctx: &Context,
    kubernetes: &Kubernetes,
    mode: Mode,
    config: &str,
) -> Result<Evidence, StepError> {
    Ok(diagnose::collect(
        ctx.host,
        diagnose::Subject {
            mode,
            config_path: config,
            containerd_config: &ctx.profile.containerd.config_path,
            profile_driver: Some(kubernetes.cgroup_driver),
            fail_swap_on: ctx.profile.swap.policy != SwapPolicy::Keep,
            kube_version: Some(&format!("v{}", kubernetes.version)),
            image_repository: Some(&kubernetes.image_repository),
        },
    )?)
}
