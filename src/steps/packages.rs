//! Step `packages`: kubeadm, kubelet and kubectl (and cri-tools, and the CNI plugins when
//! asked) at exactly `[kubernetes] version`, by `[packages] method`: the pkgs.k8s.io apt
//! repository (pinned and held), checksummed downloads from dl.k8s.io with the kubelet unit
//! and kubeadm drop-in, or a local bundle. Refuses downgrades and minor skips unless forced.
//! kubectl's bash completion is kept in /etc/bash_completion.d/kubectl. The host tools
//! kubeadm's preflight looks for (conntrack, socat, …) are installed with apt-get for every
//! method (see `packages::host_tools::plan_host_tools`).

use std::collections::BTreeMap;

use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::host::Mode;
use crate::packages::artifacts::program_path;
use crate::packages::error::PackagesError;
use crate::packages::work::{Completion, completion_command};
use crate::packages::{COMPLETION, apt, binary, host_tools, record, skew, tools};
use crate::profile::packages::Method;
use crate::values::KubeVersion;

/// The `packages` step.
pub struct PackagesStep;

/// `packages.method = "none"`: nothing is installed, but the step still observes that
/// kubeadm, kubelet and kubectl are there (first of /usr/bin, /usr/local/bin, /bin under the
/// root) and report `kubernetes.version`; otherwise it fails naming what is missing or
/// which version was found.
fn observe_preinstalled(ctx: &Context, version: KubeVersion) -> Result<Plan, StepError> {
    const DIRS: [&str; 3] = ["/usr/bin", "/usr/local/bin", "/bin"];
    let mut problems = Vec::new();
    let mut plan = Plan::default();
    for tool in tools::KUBERNETES {
        let Some(path) = DIRS
            .iter()
            .map(|d| format!("{d}/{}", tool.name))
            .find(|p| ctx.host.exists(p))
        else {
            problems.push(format!(
                "{} is not installed (looked in {})",
                tool.name,
                DIRS.join(", ")
            ));
            continue;
        };
        match record::probe(ctx.host, tool, &path)? {
            tools::Probe::Version(found) if found == version => {
                plan.info(format!("{path} reports {found}"));
            }
            tools::Probe::Broken(_) if ctx.host.is_offline() => plan.info(format!(
                "{path} is there; its version is not asked in an offline root (no program runs), the apply on the booted node checks it"
            )),
            other => problems.push(format!("{path}: {}", other.describe())),
        }
    }
    if problems.is_empty() {
        return Ok(plan);
    }
    Err(StepError::Blocked(format!(
        "packages.method = \"none\" expects kubeadm, kubelet and kubectl {version} preinstalled, but {}. Install them at {version}, or let bootstrap install them (packages.method = \"apt\", \"binary\" or \"bundle\")",
        problems.join("; ")
    )))
}

/// On a node that is already part of a cluster (kubeadm's files are there), installing
/// another Kubernetes version would put its kubelet out of step with the control plane: that
/// is a cluster upgrade (kubeadm upgrade, one node at a time, kubelet last), not a package
/// change, so it is refused with the commands; a fresh node installs as usual.
fn refuse_member_version_change(
    ctx: &Context,
    installed: &[(&'static str, KubeVersion)],
    wanted: KubeVersion,
) -> Result<(), StepError> {
    let changing: Vec<String> = installed
        .iter()
        .filter(|(_, v)| *v != wanted)
        .map(|(name, v)| format!("{name} {v}"))
        .collect();
    if changing.is_empty() {
        return Ok(());
    }
    let kind = match crate::kube::state::observe(ctx.host)? {
        crate::kube::state::Membership::Fresh => return Ok(()),
        crate::kube::state::Membership::ControlPlane => "an initialised control plane",
        crate::kube::state::Membership::Worker => "a joined worker",
        crate::kube::state::Membership::Partial { .. } => "a node with kubeadm's files on it",
    };
    Err(StepError::Blocked(format!(
        "this node is {kind} with {} installed, and the profile asks for {wanted}: changing the Kubernetes version of a cluster member is an upgrade, not a package install, and is not done here. Upgrade with kubeadm (first control plane: `kubeadm upgrade plan`, then `kubeadm upgrade apply v{wanted}`; other nodes: `kubeadm upgrade node`; each node drained, its kubelet upgraded last), or keep kubernetes.version at the installed release",
        changing.join(", ")
    )))
}

/// The skew check, one note per installed version (not per program).
fn check_skew(
    installed: &[(&'static str, KubeVersion)],
    wanted: KubeVersion,
    force: bool,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let mut by_version: BTreeMap<KubeVersion, Vec<&str>> = BTreeMap::new();
    for (name, v) in installed {
        by_version.entry(*v).or_default().push(name);
    }
    let grouped: Vec<(String, KubeVersion)> = by_version
        .into_iter()
        .map(|(v, names)| (names.join(", "), v))
        .collect();
    let pairs: Vec<(&str, KubeVersion)> = grouped.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    for note in skew::check(&pairs, wanted, force).map_err(PackagesError::from)? {
        plan.warn(note);
    }
    Ok(())
}

/// Plans the completion file: written after kubectl is installed (`installing`), else
/// compared with what the installed kubectl prints.
fn plan_completion(
    ctx: &Context,
    kubectl: &str,
    installing: bool,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let summary = format!("write kubectl bash completion to {COMPLETION}");
    if ctx.host.is_offline() {
        plan.at_first_boot(format!(
            "{summary}: it is what `{kubectl} completion bash` prints, and no program runs for an offline root (the apply on the booted node writes it)"
        ));
        return Ok(());
    }
    if installing {
        plan.push(Change::work(
            summary,
            Completion {
                kubectl: kubectl.to_string(),
            },
        ));
        return Ok(());
    }
    if !ctx.host.exists(kubectl) {
        return Ok(());
    }
    let output = ctx.host.run(&completion_command(ctx, kubectl))?;
    if !output.success() {
        plan.warn(format!(
            "`{kubectl} completion bash` failed, so its completion is not installed: {}",
            output.tail(2)
        ));
        return Ok(());
    }
    let old = ctx.host.read(COMPLETION)?;
    if old.as_deref() != Some(output.stdout.as_str()) {
        let mut change = Change::file(
            COMPLETION,
            old.as_deref(),
            output.stdout.clone(),
            Mode::KeepOr(0o644),
        );
        change.diff = None;
        change.summary = format!("{summary} ({} lines)", output.stdout.lines().count());
        plan.push(change);
    }
    Ok(())
}

/// Why the apt method is refused for an offline root.
fn apt_offline() -> StepError {
    StepError::Blocked(
        "packages.method = \"apt\" is not run for an offline root: bootstrap would run this machine's apt-get against this machine's package database, not the image's. Use packages.method = \"binary\" or \"bundle\" (checksummed files placed into the root), or install the packages into the image with its own tooling (e.g. `chroot ROOT apt-get install kubeadm=… kubelet=… kubectl=…`) with packages.method = \"none\"".into(),
    )
}

impl Step for PackagesStep {
    fn name(&self) -> &'static str {
        "packages"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let Some(kubernetes) = &ctx.profile.kubernetes else {
            return Ok(Plan::skip(
                "no [kubernetes] section in the profile: no Kubernetes version to install",
            ));
        };
        let packages = &ctx.profile.packages;
        let version = kubernetes.version;
        let mut plan = Plan::default();
        let (kubectl, observed) = match packages.method {
            Method::None => return observe_preinstalled(ctx, version),
            Method::Apt if ctx.host.is_offline() => return Err(apt_offline()),
            Method::Apt => {
                let observed = apt::plan(ctx.host, version, packages, &mut plan)?;
                ("/usr/bin/kubectl".to_string(), observed)
            }
            Method::Binary | Method::Bundle => {
                let observed = binary::plan(ctx.host, version, packages, &mut plan)?;
                let kubectl = program_path(&packages.install_dir, tools::KUBECTL.name);
                (kubectl, observed)
            }
        };
        refuse_member_version_change(ctx, &observed.installed, version)?;
        check_skew(&observed.installed, version, packages.force, &mut plan)?;
        let apply = ctx.mode == crate::engine::Mode::Apply;
        let kubeadm_runs = ctx.profile.kubeadm.is_some();
        host_tools::plan_host_tools(ctx.host, version, packages, kubeadm_runs, apply, &mut plan)?;
        plan_completion(ctx, &kubectl, observed.installs_kubectl, &mut plan)?;
        Ok(plan)
    }
}
