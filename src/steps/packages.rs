//! Step `packages`: kubeadm, kubelet and kubectl (and cri-tools, and the CNI plugins when
//! asked) at exactly `[kubernetes] version`, by `[packages] method`: the pkgs.k8s.io apt
//! repository (pinned and held), checksummed downloads from dl.k8s.io with the kubelet unit
//! and kubeadm drop-in, or a local bundle. Refuses downgrades and minor skips unless forced.
//! kubectl's bash completion is kept in /etc/bash_completion.d/kubectl. The host tools
//! kubeadm's preflight looks for (conntrack, socat, …) are installed with apt-get for every
//! method (see `packages::tools::plan_host_tools`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::engine::{Action, Change, Context, Plan, Step, StepError};
use crate::formats::armor;
use crate::host::{Command, Mode};
use crate::packages::artifacts::{Artifact, program_path};
use crate::packages::bundle::Bundle;
use crate::packages::download::{self, Checksum, Downloader, Job};
use crate::packages::{COMPLETION, STAGING_DIR, Work, apt, binary, skew, tools};
use crate::profile::packages::Method;
use crate::values::KubeVersion;

/// The `packages` step.
pub struct PackagesStep;

fn blocked(e: impl std::fmt::Display) -> StepError {
    StepError::Blocked(e.to_string())
}

/// A downloader honouring the profile's proxy, or the environment's when the profile has none.
fn downloader(ctx: &Context) -> Result<Downloader, StepError> {
    let packages = &ctx.profile.packages;
    Downloader::new(download::Options {
        proxy: packages
            .proxy
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| ctx.env.https_proxy.clone()),
        no_proxy: packages
            .no_proxy
            .as_ref()
            .map(|list| list.join(","))
            .or_else(|| ctx.env.no_proxy.clone()),
        progress: ctx.env.progress,
        ..download::Options::default()
    })
    .map_err(blocked)
}

fn work(change: &Change) -> Option<&Work> {
    match &change.action {
        Action::Custom(any) => any.downcast_ref::<Work>(),
        _ => None,
    }
}

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
        match tools::probe(ctx.host, tool, &ctx.host.path(&path))? {
            tools::Probe::Version(found) if found == version => {
                plan.info(format!("{path} reports {found}"));
            }
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
    for note in skew::check(&pairs, wanted, force).map_err(StepError::Blocked)? {
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
    if installing {
        plan.push(Change::custom(
            summary,
            Work::Completion {
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

fn completion_command(ctx: &Context, kubectl: &str) -> Command {
    Command::new(ctx.host.path(kubectl).display().to_string()).args(["completion", "bash"])
}

impl PackagesStep {
    /// Fetches or unpacks, verifies, checks the versions of, and installs a batch of
    /// release files. Nothing is installed unless every file of the batch is verified.
    fn install(&self, ctx: &Context, batch: &[&Artifact]) -> Result<(), StepError> {
        let host = ctx.host;
        let packages = &ctx.profile.packages;
        let staged: Vec<(PathBuf, String)> = match (packages.method, &packages.bundle) {
            (Method::Bundle, Some(path)) => {
                let owned: Vec<Artifact> = batch.iter().map(|a| (*a).clone()).collect();
                Bundle::open(host, path)
                    .and_then(|b| b.stage(host, &owned))
                    .map_err(StepError::Blocked)?
                    .into_iter()
                    .map(|s| (s.path, s.sha256))
                    .collect()
            }
            _ => {
                let jobs: Vec<Job> = batch
                    .iter()
                    .map(|a| Job {
                        file: a.file.clone(),
                        url: a.url(packages),
                        checksum: Checksum::Url(a.checksum_url(packages)),
                        dest: host.path(&a.staging_path()),
                    })
                    .collect();
                downloader(ctx)?
                    .fetch_all(&jobs, download::PARALLEL)
                    .map_err(blocked)?
                    .into_iter()
                    .zip(jobs)
                    .map(|(fetched, job)| (job.dest, fetched.sha256))
                    .collect()
            }
        };
        for (artifact, (path, _)) in batch.iter().zip(&staged) {
            binary::check_staged(host, artifact, path)?;
        }
        for (artifact, (path, sha256)) in batch.iter().zip(&staged) {
            binary::install(host, self.name(), artifact, path, sha256)?;
        }
        let staging = host.path(STAGING_DIR);
        for (path, _) in &staged {
            if path.starts_with(&staging) {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    fn fetch_key(&self, ctx: &Context, url: &str) -> Result<(), StepError> {
        let body = downloader(ctx)?
            .fetch_small("Release.key", url)
            .map_err(blocked)?;
        let key = armor::dearmor(&body).map_err(|why| {
            StepError::Blocked(format!(
                "the repository signing key from {url} is not usable: {why}"
            ))
        })?;
        ctx.host
            .write_file(self.name(), apt::KEYRING, &key, Mode::KeepOr(0o644))?;
        Ok(())
    }

    fn write_completion(&self, ctx: &Context, kubectl: &str) -> Result<(), StepError> {
        let command = completion_command(ctx, kubectl);
        let output = ctx.host.run(&command)?;
        if !output.success() {
            return Err(StepError::Blocked(format!(
                "`{}` failed after kubectl was installed: {}",
                command.display(),
                output.tail(3)
            )));
        }
        ctx.host.write_file(
            self.name(),
            COMPLETION,
            output.stdout.as_bytes(),
            Mode::KeepOr(0o644),
        )?;
        Ok(())
    }
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
        tools::plan_host_tools(ctx.host, version, packages, kubeadm_runs, apply, &mut plan)?;
        plan_completion(ctx, &kubectl, observed.installs_kubectl, &mut plan)?;
        Ok(plan)
    }

    fn apply(&self, ctx: &Context, plan: &Plan) -> Result<Vec<Change>, StepError> {
        let changes = &plan.changes;
        let mut i = 0;
        while i < changes.len() {
            match work(&changes[i]) {
                None => {
                    changes[i].apply(ctx.host, self.name())?;
                    i += 1;
                }
                Some(Work::Install(_)) => {
                    let batch: Vec<&Artifact> = changes[i..]
                        .iter()
                        .map_while(|c| match work(c) {
                            Some(Work::Install(a)) => Some(a),
                            _ => None,
                        })
                        .collect();
                    i += batch.len();
                    self.install(ctx, &batch)?;
                }
                Some(Work::AptKey { url }) => {
                    self.fetch_key(ctx, url)?;
                    i += 1;
                }
                Some(Work::Completion { kubectl }) => {
                    self.write_completion(ctx, kubectl)?;
                    i += 1;
                }
            }
        }
        Ok(Vec::new())
    }
}
