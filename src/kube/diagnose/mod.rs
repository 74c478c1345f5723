//! When kubeadm fails, or a node is found half set up: collect the evidence (kubeadm's exit
//! and last lines, the kubelet journal, the containers, swap, the cgroup driver on both
//! sides, the sandbox image, the kubelet config file) and name the likely cause and its fix.
//! Collect, analyse purely, report: [`collect`] reads only, through the node-fact readers
//! ([`crate::node::facts`]) the steps use too; [`analyse`] runs the [`rules`]; [`report`]
//! writes what people read. The join-failure patterns live in [`join`], shared with the
//! join retry.

pub mod join;
mod report;
pub mod rules;
#[cfg(test)]
mod tests;

pub use report::report;
pub use rules::analyse;

use crate::formats::containerd_config::RuntimeFacts;
use crate::host::{Command, Host, HostError};
use crate::node::facts;
use crate::profile::kubeadm::Mode;
use crate::profile::kubernetes::CgroupDriver;

pub use crate::node::facts::kubelet::KUBELET_CONFIG;

/// How a kubeadm command failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// The command line (secrets redacted).
    pub command: String,
    /// Its exit code (`None`: killed or could not run).
    pub code: Option<i32>,
    /// Its last lines (secrets redacted).
    pub tail: String,
}

/// What containerd's config says about the CRI plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerdView {
    /// `SystemdCgroup` of the runc runtime, when set; `None` means containerd's default, false.
    pub systemd_cgroup: Option<bool>,
    /// Where `SystemdCgroup` was read (the table path), for messages.
    pub table: String,
    /// The sandbox (pause) image, when set.
    pub sandbox_image: Option<String>,
    /// The CRI plugin is in `disabled_plugins`.
    pub cri_disabled: bool,
}

/// The CRI settings of containerd's config (schema versions 1, 2 and 3/4) as the runtime
/// step reads them ([`crate::node::facts::containerd::config`]).
pub fn containerd_view(facts: RuntimeFacts) -> ContainerdView {
    ContainerdView {
        systemd_cgroup: facts.systemd_cgroup,
        table: facts.schema.runc_options_table(),
        sandbox_image: facts.sandbox_image,
        cri_disabled: !facts.cri_disabled.is_empty(),
    }
}

/// Everything collected about a failure.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// `kubeadm init` or `kubeadm join`.
    pub mode: Option<Mode>,
    /// The config file bootstrap wrote for kubeadm.
    pub config_path: String,
    /// The failed command, when a command failed (not for a half-done node found on plan).
    pub failure: Option<Failure>,
    /// kubeadm files present (for a half-done node).
    pub present: Vec<String>,
    /// kubeadm files missing (for a half-done node).
    pub missing: Vec<String>,
    /// `journalctl -u kubelet` tail.
    pub kubelet_journal: String,
    /// `crictl ps -a`.
    pub containers: String,
    /// Active swap areas from /proc/swaps.
    pub swap_areas: Vec<String>,
    /// The kubelet refuses swap (failSwapOn not turned off by the profile).
    pub fail_swap_on: bool,
    /// The profile's kubelet cgroup driver.
    pub profile_driver: Option<CgroupDriver>,
    /// `cgroupDriver` in /var/lib/kubelet/config.yaml (`None`: file or field absent).
    pub node_driver: Option<String>,
    /// /var/lib/kubelet/config.yaml exists.
    pub kubelet_config_present: bool,
    /// containerd's config file (containerd.config_path).
    pub containerd_config: String,
    /// containerd's view (`None`: no config file).
    pub containerd: Option<ContainerdView>,
    /// The pause image kubeadm expects (`kubeadm config images list`).
    pub expected_pause: Option<String>,
}

/// A likely cause and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// One line.
    pub title: String,
    /// Why we think so.
    pub detail: String,
    /// The fix.
    pub fix: String,
}

/// What the diagnosis is about: the kubeadm run and the profile's view of the node.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `kubeadm init` or `kubeadm join`.
    pub mode: Mode,
    /// The config file bootstrap wrote for kubeadm.
    pub config_path: &'a str,
    /// containerd's config file (containerd.config_path).
    pub containerd_config: &'a str,
    /// The profile's kubelet cgroup driver.
    pub profile_driver: Option<CgroupDriver>,
    /// The kubelet refuses swap (failSwapOn not turned off by the profile).
    pub fail_swap_on: bool,
    /// `vMAJOR.MINOR.PATCH`, to ask kubeadm for its pause image.
    pub kube_version: Option<&'a str>,
    /// Where the control-plane images come from.
    pub image_repository: Option<&'a str>,
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A read-only command's last 20 lines, or a note saying why there are none.
fn run_text(host: &Host, command: Command) -> String {
    match host.run(&command) {
        Ok(out) if out.success() => tail_lines(&out.stdout, 20),
        Ok(out) => format!(
            "(`{}` exited {}: {})",
            command.display(),
            out.code.map_or("by signal".into(), |c| c.to_string()),
            out.tail(2)
        ),
        Err(e) => format!("({e})"),
    }
}

/// Collects the evidence on `host` (read-only commands and files).
pub fn collect(host: &Host, subject: Subject) -> Result<Evidence, HostError> {
    let journal = Command::new("journalctl").args(["-u", "kubelet", "--no-pager", "-n", "20"]);
    let kubelet_journal = run_text(host, journal);
    let containers = run_text(host, Command::new("crictl").args(["ps", "-a"]));
    let swap_areas = facts::swap::active(host)?
        .iter()
        .map(|a| format!("{} ({})", a.path, a.kind))
        .collect();
    let containerd = facts::containerd::config(host, subject.containerd_config)?
        .and_then(Result::ok)
        .map(containerd_view);
    let expected_pause = match (subject.kube_version, subject.image_repository) {
        (Some(version), Some(repo)) => facts::kubeadm::pause_image(host, version, repo)
            .ok()
            .and_then(facts::kubeadm::PauseAnswer::image),
        _ => None,
    };
    Ok(Evidence {
        mode: Some(subject.mode),
        config_path: subject.config_path.to_string(),
        kubelet_journal,
        containers,
        swap_areas,
        fail_swap_on: subject.fail_swap_on,
        profile_driver: subject.profile_driver,
        node_driver: facts::kubelet::driver(host)?,
        kubelet_config_present: host.exists(KUBELET_CONFIG),
        containerd_config: subject.containerd_config.to_string(),
        containerd,
        expected_pause,
        ..Evidence::default()
    })
}
