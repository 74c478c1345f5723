//! When kubeadm fails, or a node is found half set up: collect the evidence (kubeadm's exit
//! and last lines, the kubelet journal, the containers, swap, the cgroup driver on both
//! sides, the sandbox image, the kubelet config file) and name the likely cause and its fix.
//! Collection reads only; [`analyse`] is pure.

use std::fmt::Write as _;

use crate::host::{Command, Host, HostError};
use crate::node::facts;
use crate::profile::kubeadm::Mode;
use crate::profile::kubernetes::CgroupDriver;

use super::state::KUBELET_CONFIG;

/// containerd's configuration file.
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";

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
pub fn containerd_view(facts: crate::formats::containerd_config::RuntimeFacts) -> ContainerdView {
    {
        ContainerdView {
            systemd_cgroup: facts.systemd_cgroup,
            table: facts.schema.runc_options_table(),
            sandbox_image: facts.sandbox_image,
            cri_disabled: !facts.cri_disabled.is_empty(),
        }
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

fn cause(title: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Cause {
    Cause {
        title: title.into(),
        detail: detail.into(),
        fix: fix.into(),
    }
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
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

/// Collects the evidence on `host` (read-only commands and files).
pub fn collect(host: &Host, subject: Subject) -> Result<Evidence, HostError> {
    let Subject {
        mode,
        config_path,
        containerd_config,
        profile_driver,
        fail_swap_on,
        kube_version,
        image_repository,
    } = subject;
    let run_text = |command: Command| match host.run(&command) {
        Ok(out) if out.success() => tail_lines(&out.stdout, 20),
        Ok(out) => format!(
            "(`{}` exited {}: {})",
            command.display(),
            out.code.map_or("by signal".into(), |c| c.to_string()),
            out.tail(2)
        ),
        Err(e) => format!("({e})"),
    };
    let kubelet_journal =
        run_text(Command::new("journalctl").args(["-u", "kubelet", "--no-pager", "-n", "20"]));
    let containers = run_text(Command::new("crictl").args(["ps", "-a"]));
    let swap_areas = facts::swap::active(host)?
        .iter()
        .map(|a| format!("{} ({})", a.path, a.kind))
        .collect();
    let kubelet_config_present = host.exists(KUBELET_CONFIG);
    let node_driver = facts::kubelet::driver(host)?;
    let containerd = facts::containerd::config(host, containerd_config)?
        .and_then(Result::ok)
        .map(containerd_view);
    let expected_pause = match (kube_version, image_repository) {
        (Some(version), Some(repo)) => facts::kubeadm::pause_image(host, version, repo)
            .ok()
            .and_then(facts::kubeadm::PauseAnswer::image),
        _ => None,
    };
    Ok(Evidence {
        mode: Some(mode),
        config_path: config_path.to_string(),
        kubelet_journal,
        containers,
        swap_areas,
        fail_swap_on,
        profile_driver,
        node_driver,
        kubelet_config_present,
        containerd_config: containerd_config.to_string(),
        containerd,
        expected_pause,
        ..Evidence::default()
    })
}

fn mentions(haystacks: &[&str], needles: &[&str]) -> bool {
    haystacks
        .iter()
        .any(|h| needles.iter().any(|n| h.contains(n)))
}

/// The likely causes, most likely first.
pub fn analyse(e: &Evidence) -> Vec<Cause> {
    let containerd_config = &e.containerd_config;
    let mut out = Vec::new();
    let tail = e.failure.as_ref().map_or("", |f| f.tail.as_str());
    let texts = [tail, e.kubelet_journal.as_str()];
    let reset_and_rerun = "then `kubeadm reset -f` and run `bootstrap apply` again";
    let phase = match e.mode {
        Some(Mode::Join) => "join",
        _ => "init",
    };

    let swap_in_journal = mentions(&texts, &["swap on is not supported", "swap is enabled"]);
    if e.fail_swap_on && (!e.swap_areas.is_empty() || swap_in_journal) {
        let areas = if e.swap_areas.is_empty() {
            "the kubelet journal says swap was on".to_string()
        } else {
            format!("/proc/swaps lists {}", e.swap_areas.join(", "))
        };
        out.push(cause(
            "swap is on, and the kubelet refuses to run with swap on",
            format!("{areas}; failSwapOn is true unless the profile sets swap.policy = \"keep\""),
            format!("turn swap off now and at boot with `bootstrap apply --only swap` (swap.policy = \"off\"), {reset_and_rerun}"),
        ));
    }

    if let Some(view) = &e.containerd {
        let runtime = if view.systemd_cgroup == Some(true) {
            "systemd"
        } else {
            "cgroupfs"
        };
        let kubelet = e
            .node_driver
            .clone()
            .or_else(|| e.profile_driver.map(|d| d.as_str().to_string()));
        if let Some(kubelet) = kubelet.filter(|k| k != runtime) {
            let setting = match view.systemd_cgroup {
                Some(v) => format!("SystemdCgroup = {v}"),
                None => "no SystemdCgroup (containerd's default is false)".to_string(),
            };
            let source = if e.node_driver.is_some() {
                KUBELET_CONFIG
            } else {
                "the profile (kubernetes.cgroup_driver)"
            };
            let want = kubelet == "systemd";
            out.push(cause(
                format!("cgroup driver mismatch: the kubelet uses {kubelet}, containerd uses {runtime}"),
                format!(
                    "kubelet: cgroupDriver {kubelet} in {source}; containerd: {setting} in [{}] of {containerd_config}; control-plane pods crash-loop when the two differ",
                    view.table
                ),
                format!(
                    "set SystemdCgroup = {want} in [{}] of {containerd_config} and `systemctl restart containerd` (or change kubernetes.cgroup_driver to {runtime}), {reset_and_rerun}",
                    view.table
                ),
            ));
        }
        if view.cri_disabled || mentions(&texts, &["unknown service runtime.v1.RuntimeService"]) {
            out.push(cause(
                "containerd's CRI plugin is disabled",
                format!("{containerd_config} lists cri in disabled_plugins (the stock file of Docker's containerd.io package does)"),
                format!("remove \"cri\" from disabled_plugins (or regenerate with `containerd config default`), `systemctl restart containerd`, {reset_and_rerun}"),
            ));
        }
    }
    if e.profile_driver
        .zip(e.node_driver.as_deref())
        .is_some_and(|(p, n)| p.as_str() != n)
    {
        out.push(cause(
            "the node's kubelet config and the profile disagree on the cgroup driver",
            format!(
                "{KUBELET_CONFIG} has cgroupDriver {}, the profile wants {}",
                e.node_driver.as_deref().unwrap_or_default(),
                e.profile_driver.map_or("", |d| d.as_str())
            ),
            "make kubernetes.cgroup_driver match the cluster's kubelet-config ConfigMap; changing the driver of a joined node means re-provisioning it",
        ));
    }

    let config_in_journal = mentions(
        &texts,
        &[
            "failed to load kubelet config file",
            "config.yaml: no such file",
        ],
    );
    let partial = !e.present.is_empty();
    if !e.kubelet_config_present && (config_in_journal || partial) {
        out.push(cause(
            format!("the kubelet config {KUBELET_CONFIG} is missing"),
            "kubeadm writes it in its kubelet-start phase; without it the kubelet cannot start",
            format!("`kubeadm {phase} phase kubelet-start --config {}` writes it and restarts the kubelet", e.config_path),
        ));
    }

    if let (Some(want), Some(have)) = (
        &e.expected_pause,
        e.containerd.as_ref().and_then(|v| v.sandbox_image.as_ref()),
    ) && want != have
    {
        out.push(cause(
            format!("sandbox image mismatch: containerd uses {have}, kubeadm expects {want}"),
            "kubeadm warns about it; pods may fail to start where the old image cannot be pulled",
            format!("set the sandbox image to {want} in {containerd_config} and `systemctl restart containerd`"),
        ));
    }

    if mentions(&[tail], &["none of the public keys", "pinned"]) {
        out.push(cause(
            "the CA hash does not match the cluster's CA",
            "discovery found the API server, but its CA is not the one pinned by ca_cert_hash",
            "use the ca-cert-hash of the bundle the first control plane was initialised with",
        ));
    } else if mentions(
        &[tail],
        &[
            "JWS signature",
            "token id",
            "invalid bootstrap token",
            "has expired",
        ],
    ) {
        out.push(cause(
            "the bootstrap token is unknown to the cluster or expired",
            "the API server answered, but no valid token with this ID exists",
            "use the token of the cluster's bundle; a new one: `kubeadm token create` on a control plane (tokens live 24h by default)",
        ));
    } else if mentions(
        &[tail],
        &[
            "couldn't validate the identity of the API Server",
            "connection refused",
            "no route to host",
            "i/o timeout",
        ],
    ) {
        out.push(cause(
            "the API server endpoint did not answer",
            "discovery could not reach the control plane",
            "check that the first control plane is up, that control_plane_endpoint is right, and that TCP 6443 is open between the nodes; then apply again",
        ));
    }
    if mentions(
        &[tail],
        &[
            "error downloading certs",
            "decoding certificate key",
            "kubeadm-certs",
        ],
    ) {
        out.push(cause(
            "the control-plane certificates could not be downloaded",
            "the certificate key does not match, or the uploaded certificates expired (they live 2h)",
            "on the first control plane run `kubeadm init phase upload-certs --upload-certs --config /var/lib/bootstrap/kubeadm/init.yaml`, then apply again",
        ));
    }
    for line in tail.lines().filter(|l| l.contains("[ERROR ")) {
        out.push(cause(
            format!("preflight check failed: {}", line.trim()),
            "kubeadm stopped before changing the node",
            "fix what the check names (or, if you are sure, list the check in kubeadm.ignore_preflight_errors), then apply again",
        ));
    }
    out
}

/// The report people read: what failed, the likely causes with fixes, then the evidence.
pub fn report(e: &Evidence, causes: &[Cause]) -> String {
    let containerd_config = &e.containerd_config;
    let mut s = String::new();
    match &e.failure {
        Some(f) => {
            let code = f
                .code
                .map_or("no exit code".into(), |c| format!("exit code {c}"));
            let _ = writeln!(s, "`{}` failed ({code}); last lines:", f.command);
            for line in f.tail.lines() {
                let _ = writeln!(s, "    {line}");
            }
        }
        None => {
            let _ = writeln!(
                s,
                "kubeadm's files on this node are incomplete (an earlier kubeadm run failed, or files were removed):\n  present: {}\n  missing: {}",
                e.present.join(", "),
                e.missing.join(", ")
            );
        }
    }
    if causes.is_empty() {
        let _ = writeln!(
            s,
            "likely cause: none of the known ones matched; read the evidence below"
        );
    }
    for c in causes {
        let _ = writeln!(
            s,
            "likely cause: {}\n  why: {}\n  fix: {}",
            c.title, c.detail, c.fix
        );
    }
    if e.failure.is_none() {
        let _ = writeln!(
            s,
            "  bootstrap will not re-run kubeadm over a half-done node: after the fix, or to start over, run `kubeadm reset -f` and apply again"
        );
    }
    let _ = writeln!(s, "evidence:");
    let swap = if e.swap_areas.is_empty() {
        "off".to_string()
    } else {
        format!("on: {}", e.swap_areas.join(", "))
    };
    let _ = writeln!(s, "  swap: {swap}");
    let _ = writeln!(
        s,
        "  kubelet cgroup driver: profile {}, {KUBELET_CONFIG} {}",
        e.profile_driver.map_or("(not set)", |d| d.as_str()),
        e.node_driver
            .as_deref()
            .unwrap_or(if e.kubelet_config_present {
                "(no cgroupDriver)"
            } else {
                "(file missing)"
            })
    );
    match &e.containerd {
        Some(v) => {
            let _ = writeln!(
                s,
                "  containerd: SystemdCgroup = {} in [{}]; sandbox image {}{}",
                v.systemd_cgroup
                    .map_or("(unset: false)".into(), |b| b.to_string()),
                v.table,
                v.sandbox_image
                    .as_deref()
                    .unwrap_or("(containerd's default)"),
                if v.cri_disabled {
                    "; CRI plugin disabled"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(s, "  containerd: no {containerd_config}");
        }
    }
    if let Some(p) = &e.expected_pause {
        let _ = writeln!(s, "  kubeadm's pause image: {p}");
    }
    let _ = writeln!(s, "  kubelet journal (journalctl -u kubelet):");
    for line in e.kubelet_journal.lines() {
        let _ = writeln!(s, "    {line}");
    }
    let _ = writeln!(s, "  containers (crictl ps -a):");
    for line in e.containers.lines() {
        let _ = writeln!(s, "    {line}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
"#;
    const V3: &str = r#"version = 3
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = 'registry.k8s.io/pause:3.10.1'
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
"#;

    #[test]
    fn reads_both_containerd_schemas() {
        let v2 = containerd_view(crate::formats::containerd_config::facts(V2).unwrap());
        assert_eq!(v2.systemd_cgroup, Some(false));
        assert_eq!(
            v2.sandbox_image.as_deref(),
            Some("registry.k8s.io/pause:3.6")
        );
        assert!(v2.table.contains("\"io.containerd.grpc.v1.cri\""));
        let v3 = containerd_view(crate::formats::containerd_config::facts(V3).unwrap());
        assert_eq!(v3.systemd_cgroup, Some(true));
        assert_eq!(
            v3.sandbox_image.as_deref(),
            Some("registry.k8s.io/pause:3.10.1")
        );
        assert!(v3.table.contains("\"io.containerd.cri.v1.runtime\""));
        let docker = containerd_view(
            crate::formats::containerd_config::facts("disabled_plugins = [\"cri\"]\n").unwrap(),
        );
        assert!(docker.cri_disabled);
        assert_eq!(docker.systemd_cgroup, None);
        assert!(crate::formats::containerd_config::facts("not [toml").is_err());
    }

    fn base() -> Evidence {
        Evidence {
            mode: Some(Mode::Init),
            config_path: "/var/lib/bootstrap/kubeadm/init.yaml".into(),
            failure: Some(Failure {
                command: "kubeadm init".into(),
                code: Some(1),
                tail: "[wait-control-plane] timed out waiting for the condition".into(),
            }),
            fail_swap_on: true,
            profile_driver: Some(CgroupDriver::Systemd),
            node_driver: Some("systemd".into()),
            kubelet_config_present: true,
            containerd_config: CONTAINERD_CONFIG.to_string(),
            containerd: Some(containerd_view(
                crate::formats::containerd_config::facts(V3).unwrap(),
            )),
            ..Evidence::default()
        }
    }

    #[test]
    fn a_healthy_looking_node_names_no_cause() {
        assert!(analyse(&base()).is_empty());
    }

    #[test]
    fn swap_on() {
        let e = Evidence {
            swap_areas: vec!["/swapfile (file)".into()],
            ..base()
        };
        let causes = analyse(&e);
        assert!(causes[0].title.starts_with("swap is on"), "{causes:?}");
        assert!(causes[0].fix.contains("kubeadm reset -f"));
        let kept = Evidence {
            fail_swap_on: false,
            ..e
        };
        assert!(analyse(&kept).is_empty(), "swap allowed by the profile");
    }

    #[test]
    fn cgroup_mismatch_names_both_sides() {
        let e = Evidence {
            containerd: Some(containerd_view(
                crate::formats::containerd_config::facts(V2).unwrap(),
            )),
            expected_pause: Some("registry.k8s.io/pause:3.6".into()),
            ..base()
        };
        let causes = analyse(&e);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(
            causes[0]
                .title
                .contains("kubelet uses systemd, containerd uses cgroupfs")
        );
        assert!(causes[0].detail.contains("SystemdCgroup = false"));
        assert!(causes[0].fix.contains("SystemdCgroup = true"));
    }

    #[test]
    fn kubelet_config_missing_points_at_the_phase() {
        let e = Evidence {
            kubelet_config_present: false,
            node_driver: None,
            kubelet_journal:
                "failed to load kubelet config file, path: /var/lib/kubelet/config.yaml".into(),
            ..base()
        };
        let causes = analyse(&e);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(causes[0].fix.contains(
            "kubeadm init phase kubelet-start --config /var/lib/bootstrap/kubeadm/init.yaml"
        ));
        let text = report(&e, &causes);
        assert!(text.contains("(file missing)"), "{text}");
    }

    #[test]
    fn join_failures_are_told_apart() {
        let with_tail = |tail: &str| Evidence {
            mode: Some(Mode::Join),
            failure: Some(Failure {
                command: "kubeadm join".into(),
                code: Some(1),
                tail: tail.into(),
            }),
            ..base()
        };
        let title = |tail: &str| analyse(&with_tail(tail))[0].title.clone();
        assert!(title("cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"sha256:ab\" are pinned").contains("CA hash"));
        assert!(title("could not find a JWS signature in the cluster-info ConfigMap for token ID \"abcdef\"").contains("token"));
        assert!(
            title("couldn't validate the identity of the API Server: connection refused")
                .contains("did not answer")
        );
        assert!(
            title("[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: exists")
                .contains("preflight")
        );
    }

    #[test]
    fn sandbox_image_mismatch() {
        let e = Evidence {
            expected_pause: Some("registry.k8s.io/pause:3.10".into()),
            ..base()
        };
        let causes = analyse(&e);
        assert!(
            causes[0].title.contains("sandbox image mismatch"),
            "{causes:?}"
        );
    }
}
