//! The package changes of an upgrade: some of kubeadm, kubelet and kubectl to the target,
//! by the profile's install method. apt follows the kubeadm upgrade guide
//! (<https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/>): the
//! pkgs.k8s.io repository repointed to the target's minor (each minor has its own
//! repository), unhold, install the exact version, hold again. The binary and bundle
//! methods install the checksummed release files, as the `packages` step does.

use crate::engine::{Change, Context, Plan, StepError};
use crate::host::Command;
use crate::packages::apt::{self, apt_get};
use crate::packages::tools::Tool;
use crate::packages::{artifacts, install};
use crate::profile::packages::Method;
use crate::values::KubeVersion;

/// Plans `tools` to `target` into `plan`.
pub fn plan(
    ctx: &Context,
    tools: &[Tool],
    target: KubeVersion,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let packages = &ctx.profile.packages;
    let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
    match packages.method {
        Method::Apt => {
            apt::plan_repository(ctx.host, target, packages, plan)?;
            let wait = packages.dpkg_lock_timeout.0;
            plan.push(Change::run(
                format!("unhold {}", names.join(" ")),
                Command::new("apt-mark")
                    .arg("unhold")
                    .args(names.iter().copied())
                    .waits_for_dpkg_lock(wait),
            ));
            plan.push(Change::run(
                "refresh package lists",
                apt_get(wait, &["update"]),
            ));
            let pins: Vec<String> = names.iter().map(|n| format!("{n}={target}-*")).collect();
            let mut args = vec!["install", "-y", "--allow-change-held-packages"];
            args.extend(pins.iter().map(String::as_str));
            plan.push(Change::run(
                format!("install {}", pins.join(" ")),
                apt_get(wait, &args),
            ));
            plan.push(Change::run(
                format!("hold {} at {target}", names.join(" ")),
                Command::new("apt-mark")
                    .arg("hold")
                    .args(names.iter().copied())
                    .waits_for_dpkg_lock(wait),
            ));
        }
        Method::Binary | Method::Bundle => {
            let chosen: Vec<(artifacts::Artifact, String)> =
                artifacts::kubernetes(target, &packages.install_dir)
                    .into_iter()
                    .filter(|a| names.contains(&a.file.as_str()))
                    .map(|a| (a, "an older release".to_string()))
                    .collect();
            for change in install::install_changes(packages, chosen) {
                plan.push(change);
            }
        }
        Method::None => {
            return Err(StepError::Blocked(format!(
                "packages.method = \"none\": bootstrap does not install Kubernetes here, so install {} {target} yourself, then run `bootstrap upgrade apply` again",
                names.join(", ")
            )));
        }
    }
    Ok(())
}
