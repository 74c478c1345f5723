//! Planning the host tools kubeadm's preflight looks for ([`super::tools::host_tools`]):
//! installed with apt-get where the node has it, else refused or warned about.

use crate::engine::{Change, Plan, StepError};
use crate::host::Host;
use crate::profile::packages::{Method, Packages};
use crate::values::KubeVersion;

use super::apt::apt_get;
use super::tools::{HostTool, Need, find_executable, missing_host_tools, packages_for};

/// Plans the host tools kubeadm needs or warns about for `version`, when kubeadm will run
/// on this node (`kubeadm_runs`: the profile has `[kubeadm]`; otherwise its preflight never
/// happens and nothing is installed for it): missing ones are installed with `apt-get`
/// (their Debian packages, after the Kubernetes programs, so the apt method's own
/// dependencies come first and make this a no-op when they bring them). With
/// `method = "none"` (the image brings everything) or without apt-get on the node (the
/// binary and bundle methods on an image without apt), a missing required tool is refused
/// with the list (a warning in plan and check), a missing optional one is a warning.
pub fn plan_host_tools(
    host: &Host,
    version: KubeVersion,
    packages: &Packages,
    kubeadm_runs: bool,
    apply: bool,
    plan: &mut Plan,
) -> Result<(), StepError> {
    if !kubeadm_runs {
        return Ok(());
    }
    let missing = missing_host_tools(host, version, &[packages.install_dir.as_str()]);
    let missing: Vec<HostTool> = missing
        .into_iter()
        .filter(|t| t.package.is_some())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing
        .iter()
        .map(|t| format!("{} ({})", t.name, t.package.unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ");
    if host.is_offline() {
        // An offline root runs no apt-get: the apply on the booted node installs them.
        plan.at_first_boot(format!(
            "install the host tools kubeadm looks for: {list} (apt-get, by the apply on the booted node)"
        ));
        return Ok(());
    }
    let apt = packages.method == Method::Apt
        || (packages.method != Method::None && find_executable(host, "apt-get", &[]).is_some());
    if apt {
        let names = packages_for(&missing);
        let lock_wait = packages.dpkg_lock_timeout.0;
        if packages.method != Method::Apt {
            // The apt method has refreshed the lists already; a minimal image may have none.
            plan.push(Change::run(
                "refresh the apt package lists (for the host tools)",
                apt_get(lock_wait, &["update"]),
            ));
        }
        plan.push(Change::run(
            format!("install the host tools kubeadm looks for: {list}"),
            apt_get(lock_wait, &["install", "-y", "--no-install-recommends"]).args(names),
        ));
        return Ok(());
    }
    let message = format!(
        "kubeadm's preflight looks for host tools this node lacks: {list}; packages.method = \"{}\" installs nothing with apt-get (\"none\" brings nothing, and a node that does not have apt-get cannot): install those packages in the image (or by hand), then apply again",
        packages.method.as_str()
    );
    if apply && missing.iter().any(|t| t.need == Need::Required) {
        return Err(StepError::Blocked(message));
    }
    plan.warn(message);
    Ok(())
}
