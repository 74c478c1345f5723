//! The `binary` and `bundle` methods: which release files the node lacks, the kubelet
//! systemd unit and kubeadm drop-in, and installing verified files into place.

use std::path::Path;

use crate::engine::{Change, Plan, StepError};
use crate::host::{Host, HostError, Mode};
use crate::profile::packages::{Method, Packages};
use crate::values::KubeVersion;

use super::Observed;
use super::artifacts::{self, Artifact, CNI_BIN_DIR, Payload};
use super::bundle::Bundle;
use super::download::file_sha256;
use super::error::PackagesError;
use super::install::{CNI_RECORD, CniRecord, install_changes_for};
use super::record;
use super::tools::{self, Probe};

/// The kubelet unit, as shipped (kubernetes/release templates).
pub const KUBELET_UNIT_TEMPLATE: &str = include_str!("../../systemd/kubelet.service");
/// The kubeadm drop-in for the kubelet, as shipped (kubernetes/release templates).
pub const KUBEADM_DROP_IN_TEMPLATE: &str = include_str!("../../systemd/10-kubeadm.conf");
/// Where the kubelet unit goes.
pub const KUBELET_UNIT: &str = "/etc/systemd/system/kubelet.service";
/// Where the kubeadm drop-in goes.
pub const KUBEADM_DROP_IN: &str = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf";
/// The link `systemctl enable kubelet` makes.
pub const KUBELET_WANTS: &str = "/etc/systemd/system/multi-user.target.wants/kubelet.service";
/// The shipped unit text with `/usr/bin` pointing at `install_dir`.
pub fn render_unit(template: &str, install_dir: &str) -> String {
    template.replace(
        "/usr/bin/",
        &format!("{}/", install_dir.trim_end_matches('/')),
    )
}

/// Every release file the profile asks for.
pub fn wanted(version: KubeVersion, packages: &Packages) -> Vec<Artifact> {
    let mut out = artifacts::kubernetes(version, &packages.install_dir);
    if packages.cri_tools {
        let cri = packages.cri_tools_version.map_or(
            KubeVersion {
                patch: 0,
                ..version
            },
            |v| v.0,
        );
        out.push(artifacts::crictl(cri, &packages.install_dir));
    }
    if let Some(cni) = packages.cni_plugins {
        out.push(artifacts::cni_plugins(cni.0));
    }
    out
}

fn cni_installed(host: &Host, version: KubeVersion) -> Result<bool, HostError> {
    let Some(text) = host.read(CNI_RECORD)? else {
        return Ok(false);
    };
    let Ok(record) = serde_json::from_str::<CniRecord>(&text) else {
        return Ok(false);
    };
    Ok(record.version == version.to_string()
        && !record.files.is_empty()
        && record.files.iter().all(|(name, sha)| {
            file_sha256(&host.path(&format!("{CNI_BIN_DIR}/{name}"))).as_ref() == Some(sha)
        }))
}

/// What is on the node for an artifact: the version its program reports (`None` for the
/// CNI tarball, which is judged by [`CNI_RECORD`]).
pub fn observe(host: &Host, artifact: &Artifact) -> Result<Option<Probe>, HostError> {
    match &artifact.payload {
        Payload::Program { tool, path } => record::probe(host, *tool, path).map(Some),
        Payload::Crictl { path } => record::probe(host, tools::CRICTL, path).map(Some),
        Payload::CniPlugins => Ok(None),
    }
}

fn is_current(host: &Host, artifact: &Artifact, probe: &Option<Probe>) -> Result<bool, HostError> {
    Ok(match probe {
        Some(p) => p.version() == Some(artifact.version),
        None => cni_installed(host, artifact.version)?,
    })
}

fn destination(artifact: &Artifact) -> String {
    match &artifact.payload {
        Payload::Program { path, .. } | Payload::Crictl { path } => path.clone(),
        Payload::CniPlugins => format!("{CNI_BIN_DIR}/"),
    }
}

/// Warns about plain http:// download sources.
fn warn_plain_http(packages: &Packages, plan: &mut Plan) {
    if packages.method == Method::Bundle {
        return;
    }
    let sources = [
        ("packages.release_url", &packages.release_url),
        ("packages.cri_tools_url", &packages.cri_tools_url),
        ("packages.cni_plugins_url", &packages.cni_plugins_url),
    ];
    sources
        .iter()
        .filter_map(|(key, url)| super::download::plain_http_warning(key, url.as_str()))
        .for_each(|w| plan.warn(w));
}

/// The release files the node lacks, each with what it replaces (`, replacing 1.30.0`);
/// what is installed goes into `observed`. With a bundle, each must be in its manifest.
fn missing_artifacts(
    host: &Host,
    version: KubeVersion,
    packages: &Packages,
    plan: &mut Plan,
    observed: &mut Observed,
) -> Result<Vec<(Artifact, String)>, StepError> {
    // The bundle is read only when something is missing: a converged node needs none.
    let mut bundle: Option<Bundle> = None;
    let mut missing = Vec::new();
    for artifact in wanted(version, packages) {
        let probe = observe(host, &artifact)?;
        if let (Some(Probe::Version(v)), Payload::Program { tool, .. }) =
            (&probe, &artifact.payload)
        {
            observed.installed.push((tool.name, *v));
        }
        if let Some(Probe::Broken(why)) = &probe {
            plan.warn(format!("{} is replaced: {why}", destination(&artifact)));
        }
        if is_current(host, &artifact, &probe)? {
            continue;
        }
        if let (Method::Bundle, Some(path)) = (packages.method, &packages.bundle) {
            if bundle.is_none() {
                bundle = Some(Bundle::open(host, path).map_err(PackagesError::Bundle)?);
            }
            if let Some(bundle) = &bundle {
                bundle.digest(&artifact).map_err(PackagesError::Bundle)?;
            }
        }
        observed.installs_kubectl |=
            matches!(&artifact.payload, Payload::Program { tool, .. } if *tool == tools::KUBECTL);
        let was = match probe {
            Some(Probe::Version(v)) => format!(", replacing {v}"),
            Some(Probe::Broken(_)) => ", replacing a broken copy".to_string(),
            _ => String::new(),
        };
        missing.push((artifact, was));
    }
    Ok(missing)
}

/// Warns about (and counts, for the skew check) a packaged copy in /usr/bin beside the
/// programs this profile manages elsewhere.
fn warn_packaged_copies(
    host: &Host,
    packages: &Packages,
    plan: &mut Plan,
    observed: &mut Observed,
) -> Result<(), StepError> {
    if packages.install_dir.trim_end_matches('/') == "/usr/bin" {
        return Ok(());
    }
    for tool in tools::KUBERNETES {
        let path = format!("/usr/bin/{}", tool.name);
        if let Probe::Version(v) = record::probe(host, tool, &path)? {
            observed.installed.push((tool.name, v));
            plan.warn(format!(
                "{path} {v} is also installed (a distribution package?); this profile manages {}: remove the package so the wrong version cannot run",
                artifacts::program_path(&packages.install_dir, tool.name)
            ));
        }
    }
    Ok(())
}

/// Plans the kubelet unit and drop-in, the enable link, and a daemon reload when any
/// changed (or an earlier run owes one).
fn plan_units(host: &Host, packages: &Packages, plan: &mut Plan) -> Result<(), StepError> {
    let before = plan.changes.len();
    for (path, template) in [
        (KUBELET_UNIT, KUBELET_UNIT_TEMPLATE),
        (KUBEADM_DROP_IN, KUBEADM_DROP_IN_TEMPLATE),
    ] {
        let want = render_unit(template, &packages.install_dir);
        let old = host.read(path)?;
        plan.update_file(path, old.as_deref(), want, Mode::KeepOr(0o644));
    }
    if host.read_link(KUBELET_WANTS).as_deref() != Some(Path::new(KUBELET_UNIT)) {
        plan.push(Change::symlink(
            "enable kubelet.service (start at boot)",
            KUBELET_WANTS,
            KUBELET_UNIT,
        ));
    }
    let owed = host.is_pending(&crate::host::daemon_reload());
    let live = crate::node::facts::systemd::is_init(host) && !host.is_offline();
    if (plan.changes.len() > before || owed) && live {
        plan.push(Change::run(
            "reload systemd units",
            crate::host::daemon_reload(),
        ));
    }
    Ok(())
}

/// Plans the binary or bundle install: release files the node lacks (staged and verified
/// as one batch, then installed one by one, before anything else), then the kubelet unit
/// and drop-in, the enable link and a daemon reload. The installed versions are those the
/// programs report.
pub fn plan(
    host: &Host,
    version: KubeVersion,
    packages: &Packages,
    plan: &mut Plan,
) -> Result<Observed, StepError> {
    let mut observed = Observed::default();
    warn_plain_http(packages, plan);
    let missing = missing_artifacts(host, version, packages, plan, &mut observed)?;
    for change in install_changes_for(packages, missing, host.is_offline()) {
        plan.push(change);
    }
    warn_packaged_copies(host, packages, plan, &mut observed)?;
    plan_units(host, packages, plan)?;
    Ok(observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_point_at_the_install_dir() {
        let unit = render_unit(KUBELET_UNIT_TEMPLATE, "/usr/local/bin/");
        assert!(
            unit.contains("ExecStart=/usr/local/bin/kubelet\n"),
            "{unit}"
        );
        let drop_in = render_unit(KUBEADM_DROP_IN_TEMPLATE, "/opt/k8s");
        assert!(drop_in.contains("ExecStart=/opt/k8s/kubelet $KUBELET_KUBECONFIG_ARGS"));
        assert!(drop_in.contains("EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env"));
        assert!(!drop_in.contains("/usr/bin"));
    }

    #[test]
    fn wanted_files_follow_the_profile() {
        let v: KubeVersion = "1.31.4".parse().unwrap();
        let mut packages = Packages::default();
        let names: Vec<String> = wanted(v, &packages).into_iter().map(|a| a.file).collect();
        assert_eq!(names.len(), 4);
        assert!(names[3].starts_with("crictl-v1.31.0-linux-"), "{names:?}");
        packages.cri_tools = false;
        packages.cni_plugins = Some(crate::profile::packages::ToolVersion(
            "1.6.2".parse().unwrap(),
        ));
        let names: Vec<String> = wanted(v, &packages).into_iter().map(|a| a.file).collect();
        assert!(names[3].starts_with("cni-plugins-linux-"), "{names:?}");
    }
}
