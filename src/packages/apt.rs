//! The `apt` method: the pkgs.k8s.io repository for the profile's minor (one sources file
//! this agent owns, its signing key in /etc/apt/keyrings), legacy repositories disabled,
//! prerequisites installed, exact versions pinned and held.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::{Change, Context, Plan, StepError, Work};
use crate::formats::armor;
use crate::formats::{apt_sources, dpkg_query};
use crate::host::{Command, Host, HostError, Mode};
use crate::profile::packages::Packages;
use crate::values::{KubeVersion, split_userinfo};

use super::Observed;
use super::download::plain_http_warning;
use super::error::PackagesError;
use super::skew::{self, Move};
use super::work::downloader;

/// The sources file this agent owns.
pub const SOURCES: &str = "/etc/apt/sources.list.d/kubernetes.list";
/// The repository signing key (binary keyring; apt accepts it on every version).
pub const KEYRING: &str = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg";
/// Packages apt needs before it can use an https repository.
pub const PREREQUISITES: [&str; 1] = ["ca-certificates"];
/// Other apt sources, checked for legacy Kubernetes repositories.
const MAIN_SOURCES: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
/// How long an apt-get run may take.
const APT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A package this method installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Package name.
    pub name: &'static str,
    /// The upstream version it is pinned to (`1.31.4` → `kubeadm=1.31.4-*`), and held.
    pub pin: Option<KubeVersion>,
}

impl Wanted {
    fn arg(&self) -> String {
        match self.pin {
            Some(v) => format!("{}={v}-*", self.name),
            None => self.name.to_string(),
        }
    }
}

/// The repository for `version`'s minor (`…/core:/stable:/v1.31/deb`).
pub fn repository(packages: &Packages, version: KubeVersion) -> String {
    format!("{}/v{}/deb", packages.apt_url, version.minor_string())
}

/// The packages the profile asks for.
pub fn wanted(version: KubeVersion, packages: &Packages) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = super::tools::KUBERNETES
        .iter()
        .map(|t| Wanted {
            name: t.name,
            pin: Some(version),
        })
        .collect();
    if packages.cri_tools {
        out.push(Wanted {
            name: "cri-tools",
            pin: packages.cri_tools_version.map(|v| v.0),
        });
    }
    if let Some(cni) = packages.cni_plugins {
        out.push(Wanted {
            name: "kubernetes-cni",
            pin: Some(cni.0),
        });
    }
    out
}

/// apt-get, non-interactive, keeping changed configuration files, waiting up to `lock_wait`
/// for dpkg's lock.
pub(crate) fn apt_get(lock_wait: Duration, args: &[&str]) -> Command {
    Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args([
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ])
        .args(args.iter().copied())
        .timeout(APT_TIMEOUT)
        .waits_for_dpkg_lock(lock_wait)
}

fn dpkg_status(
    host: &Host,
    names: &[&str],
) -> Result<BTreeMap<String, dpkg_query::Package>, StepError> {
    let command = Command::new("dpkg-query")
        .args(["-W", "-f", dpkg_query::FORMAT])
        .args(names.iter().copied());
    match host.run(&command) {
        Ok(output) => Ok(dpkg_query::parse(&output.stdout)),
        Err(HostError::Run(source @ crate::host::RunError::NotFound { .. })) => {
            Err(PackagesError::NoDpkg { source }.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Legacy repository lines in apt sources other than ours: a change per file, with a warning.
fn disable_legacy(host: &Host, plan: &mut Plan) -> Result<(), StepError> {
    let mut files = vec![MAIN_SOURCES.to_string()];
    files.extend(
        host.list_dir(SOURCES_DIR)?
            .into_iter()
            .filter(|n| n.ends_with(".list") || n.ends_with(".sources"))
            .map(|n| format!("{SOURCES_DIR}/{n}"))
            .filter(|p| p != SOURCES),
    );
    for file in files {
        let Some(text) = host.read(&file)? else {
            continue;
        };
        let lines = apt_sources::legacy_lines(&text, file.ends_with(".sources"));
        if lines.is_empty() {
            continue;
        }
        let at: Vec<String> = lines.iter().map(usize::to_string).collect();
        plan.warn(format!(
            "{file} uses the legacy Kubernetes repository (apt.kubernetes.io / packages.cloud.google.com), removed on 2024-03-04; its line(s) {} are commented out and packages come from pkgs.k8s.io instead",
            at.join(", ")
        ));
        let mut change = Change::file(
            &file,
            Some(&text),
            apt_sources::disable_lines(&text, &lines),
            Mode::KeepOr(0o644),
        );
        change.summary = format!(
            "disable the legacy Kubernetes repository in {file} (line {})",
            at.join(", ")
        );
        plan.push(change);
    }
    Ok(())
}

/// Where credentials of a repository URL go: apt reads `auth.conf.d` (apt_auth.conf(5),
/// apt >= 1.5), so the sources file, readable by every user, holds none.
pub const AUTH: &str = "/etc/apt/auth.conf.d/bootstrap-kubernetes.conf";

/// The repository URL as written in the sources file and shown: without user information.
/// Credentials in it go to [`AUTH`] (0600, contents never shown); a plain http:// repository
/// is warned about.
fn credentials(host: &Host, repo: &str, plan: &mut Plan) -> Result<String, StepError> {
    if let Some(warning) = plain_http_warning("packages.apt_url", repo) {
        plan.warn(warning);
    }
    let (clean, creds) = split_userinfo(repo);
    if let Some((user, password)) = creds {
        let want = format!(
            "# Credentials for {clean}/, managed by bootstrap (packages step).\nmachine {clean}/ login {user} password {password}\n"
        );
        let old = host.read(AUTH)?;
        if old.as_deref() != Some(want.as_str()) {
            plan.push(Change::secret_file(AUTH, old.is_some(), want.into_bytes()));
        }
    }
    Ok(clean)
}

type Status = BTreeMap<String, dpkg_query::Package>;

/// The installed package of `name`, when dpkg says it is installed.
fn current<'a>(status: &'a Status, name: &str) -> Option<&'a dpkg_query::Package> {
    status.get(name).filter(|p| p.installed)
}

/// The Kubernetes releases installed (for the skew check), and whether one of the wanted
/// names is another vendor's package (replaced, with a warning).
fn observe_installed(
    status: &Status,
    wanted: &[Wanted],
    version: KubeVersion,
    plan: &mut Plan,
) -> (Vec<(&'static str, KubeVersion)>, bool) {
    let mut installed = Vec::new();
    let mut foreign = false;
    for w in wanted.iter().take(super::tools::KUBERNETES.len()) {
        let Some(package) = current(status, w.name) else {
            continue;
        };
        match package.upstream().parse::<KubeVersion>() {
            // Kubernetes releases are 1.x; another vendor's package of the same name (the
            // google-cloud-cli `kubectl`, versioned like 1:528.0.0-0) is not one, so the
            // skew policy does not apply to it: it is replaced.
            Ok(v) if v.major == 1 => installed.push((w.name, v)),
            _ => {
                foreign = true;
                plan.warn(format!(
                    "the installed `{}` package ({}) is not a Kubernetes release (another vendor's package of the same name, such as google-cloud-cli's kubectl); it is replaced by {} {version} from pkgs.k8s.io",
                    w.name, package.version, w.name
                ));
            }
        }
    }
    (installed, foreign)
}

/// Plans the prerequisites apt needs for an https repository, when missing.
fn plan_prerequisites(status: &Status, lock_wait: Duration, plan: &mut Plan) {
    let missing: Vec<&str> = PREREQUISITES
        .into_iter()
        .filter(|p| current(status, p).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    plan.push(Change::run(
        "refresh package lists (for the prerequisites)",
        apt_get(lock_wait, &["update"]),
    ));
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&missing);
    plan.push(Change::run(
        format!("install prerequisites: {}", missing.join(" ")),
        apt_get(lock_wait, &args),
    ));
}

/// Plans the repository: its credentials, signing key and sources file.
pub(crate) fn plan_repository(
    host: &Host,
    version: KubeVersion,
    packages: &Packages,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let full_repo = repository(packages, version);
    let repo = credentials(host, &full_repo, plan)?;
    let want = apt_sources::render_list(
        &format!(
            "Kubernetes {} packages; managed by bootstrap (packages step): edits are replaced.",
            version.minor_string()
        ),
        KEYRING,
        &repo,
    );
    let old = host.read(SOURCES)?;
    let repoint = old.as_deref() != Some(want.as_str());
    if !host.exists(KEYRING) || repoint {
        plan.push(Change::work(
            format!("fetch the repository signing key {repo}/Release.key into {KEYRING}"),
            FetchKey {
                url: format!("{full_repo}/Release.key"),
            },
        ));
    }
    if !repoint {
        return Ok(());
    }
    let mut change = Change::file(SOURCES, old.as_deref(), want, Mode::KeepOr(0o644));
    change.summary = match &old {
        Some(text) if !apt_sources::legacy_lines(text, false).is_empty() => {
            plan.warn(format!(
                "{SOURCES} pointed at the legacy Kubernetes repository (removed on 2024-03-04); it now points at {repo}/"
            ));
            format!("replace the legacy repository in {SOURCES} with {repo}/")
        }
        Some(_) => format!("point {SOURCES} at {repo}/"),
        None => format!(
            "add the Kubernetes {} repository {repo}/",
            version.minor_string()
        ),
    };
    plan.push(change);
    Ok(())
}

/// What the install of the wanted packages starts from.
struct Installing<'a> {
    wanted: &'a [Wanted],
    installed: &'a [(&'static str, KubeVersion)],
    foreign: bool,
    version: KubeVersion,
}

/// Plans `apt-get install` of the wanted packages not installed at their pins; returns them.
fn plan_install<'a>(
    status: &Status,
    from: &Installing<'a>,
    packages: &Packages,
    plan: &mut Plan,
) -> Vec<&'a Wanted> {
    let stale: Vec<&Wanted> = from
        .wanted
        .iter()
        .filter(|w| match (current(status, w.name), w.pin) {
            (None, _) => true,
            (Some(p), Some(pin)) => p.upstream() != pin.to_string(),
            (Some(_), None) => false,
        })
        .collect();
    if stale.is_empty() {
        return stale;
    }
    let lock_wait = packages.dpkg_lock_timeout.0;
    plan.push(Change::run(
        "refresh package lists",
        apt_get(lock_wait, &["update"]),
    ));
    let mut args = vec![
        "install".to_string(),
        "-y".into(),
        "--allow-change-held-packages".into(),
    ];
    let downgrade = from
        .installed
        .iter()
        .any(|(_, v)| skew::classify(*v, from.version) == Move::Downgrade);
    if (downgrade && packages.force) || from.foreign {
        args.push("--allow-downgrades".into());
    }
    args.extend(
        from.wanted
            .iter()
            .filter(|w| w.pin.is_some() || stale.contains(w))
            .map(Wanted::arg),
    );
    let shown: Vec<String> = stale.iter().map(|w| w.arg()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    plan.push(Change::run(
        format!("install {}", shown.join(" ")),
        apt_get(lock_wait, &args),
    ));
    stale
}

/// Plans `apt-mark hold` of the pinned packages when one is not held (or is reinstalled).
fn plan_hold(
    status: &Status,
    wanted: &[Wanted],
    stale: &[&Wanted],
    lock_wait: Duration,
    plan: &mut Plan,
) {
    let pinned: Vec<&Wanted> = wanted.iter().filter(|w| w.pin.is_some()).collect();
    let unheld = pinned
        .iter()
        .any(|w| stale.contains(w) || !status.get(w.name).is_some_and(|p| p.held));
    if !unheld {
        return;
    }
    let names: Vec<&str> = pinned.iter().map(|w| w.name).collect();
    plan.push(Change::run(
        format!("hold {} at their pinned versions", names.join(" ")),
        Command::new("apt-mark")
            .arg("hold")
            .args(names.iter().copied())
            .waits_for_dpkg_lock(lock_wait),
    ));
}

/// Plans the apt install; the installed versions are the ones dpkg reports.
pub fn plan(
    host: &Host,
    version: KubeVersion,
    packages: &Packages,
    plan: &mut Plan,
) -> Result<Observed, StepError> {
    let lock_wait = packages.dpkg_lock_timeout.0;
    let wanted = wanted(version, packages);
    let mut names: Vec<&str> = wanted.iter().map(|w| w.name).collect();
    names.extend(PREREQUISITES);
    let status = dpkg_status(host, &names)?;
    let (installed, foreign) = observe_installed(&status, &wanted, version, plan);
    disable_legacy(host, plan)?;
    plan_prerequisites(&status, lock_wait, plan);
    plan_repository(host, version, packages, plan)?;
    let from = Installing {
        wanted: &wanted,
        installed: &installed,
        foreign,
        version,
    };
    let stale = plan_install(&status, &from, packages, plan);
    plan_hold(&status, &wanted, &stale, lock_wait, plan);
    Ok(Observed {
        installs_kubectl: stale.iter().any(|w| w.name == super::tools::KUBECTL.name),
        installed,
    })
}

/// Fetches the apt repository's signing key from `url` into [`KEYRING`] (dearmored).
#[derive(Debug)]
pub struct FetchKey {
    /// The key's URL.
    pub url: String,
}

impl Work for FetchKey {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let url = &self.url;
        let body = downloader(ctx)?
            .fetch_small("Release.key", url)
            .map_err(PackagesError::from)?;
        let key = armor::dearmor(&body).map_err(|why| PackagesError::Key {
            url: url.clone(),
            why,
        })?;
        ctx.host
            .write_file(step, KEYRING, &key, Mode::KeepOr(0o644))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_packages_and_pins() {
        let v: KubeVersion = "1.31.4".parse().unwrap();
        let packages = Packages::default();
        let args: Vec<String> = wanted(v, &packages).iter().map(Wanted::arg).collect();
        assert_eq!(
            args,
            [
                "kubeadm=1.31.4-*",
                "kubelet=1.31.4-*",
                "kubectl=1.31.4-*",
                "cri-tools"
            ]
        );
        assert_eq!(
            repository(&packages, v),
            "https://pkgs.k8s.io/core:/stable:/v1.31/deb"
        );
    }
}
