//! Step `containerd`: the container runtime installed (apt, when missing), configured for
//! kubeadm (runc `SystemdCgroup`, the pause image kubeadm expects, CRI enabled, CNI plugin
//! directory, optional registry mirrors), crictl pointed at it, and the service restarted only
//! when its configuration changed, enabled at boot, and verified answering with the
//! configuration we wrote. Touches the config file, `certs.d/*/hosts.toml`, /etc/crictl.yaml.

use std::time::Duration;

use super::error::StepsError;
use crate::engine::step::expect_converged;
use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::formats::containerd_config::{self, ConfigError, Desired, RuntimeFacts};
use crate::formats::{crictl, registry_hosts};
use crate::host::{Command, Host, HostError, Mode};
use crate::node::facts::containerd;
use crate::node::facts::kubeadm::{self, PauseAnswer};
use crate::profile::containerd::{CERTS_DIR, Install};
use crate::profile::kubernetes::{self, CgroupDriver};

/// The crictl configuration file.
pub const CRICTL_FILE: &str = "/etc/crictl.yaml";
/// How long to wait for the socket to answer after a restart.
const SOCKET_WAIT: Duration = Duration::from_secs(30);

/// The `containerd` step.
pub struct ContainerdStep;

/// The pause image kubeadm will expect: asked from kubeadm when it is installed, else the
/// documented default for the version. `None` without a `[kubernetes]` section, or for a
/// minor beyond bootstrap's table while kubeadm is not installed yet (plan on a fresh node;
/// apply installs kubeadm in the packages step first): then the sandbox image is left as
/// configured, with a warning, never guessed.
fn kubeadm_pause_image(ctx: &Context, plan: &mut Plan) -> Result<Option<String>, HostError> {
    let Some(k8s) = &ctx.profile.kubernetes else {
        return Ok(None);
    };
    let fallback = kubernetes::default_pause_image(k8s.version, &k8s.image_repository);
    let version = format!("v{}", k8s.version);
    let asked = match kubeadm::pause_image(ctx.host, &version, &k8s.image_repository)? {
        PauseAnswer::Listed(image) => image,
        PauseAnswer::Failed { command, detail } => {
            if let Some(fallback) = &fallback {
                plan.warn(format!(
                    "`{command}` failed ({detail}); using the documented pause image {fallback}"
                ));
            }
            None
        }
        PauseAnswer::NotInstalled => None,
    };
    match crate::kube::pause::compare(k8s.version, asked.as_deref(), fallback.as_deref()) {
        Some(crate::kube::pause::Finding::Mismatch(text)) => plan.warn(text),
        Some(crate::kube::pause::Finding::NoRow(text)) => plan.info(text),
        None => {}
    }
    let image = asked.or(fallback);
    if image.is_none() {
        plan.warn(format!(
            "the pause image of Kubernetes {} comes from `kubeadm config images list` (bootstrap's table stops before this minor) and kubeadm is not installed yet: the sandbox image is left as configured; set containerd.sandbox_image, or apply again once the packages step installed kubeadm",
            k8s.version
        ));
    }
    Ok(image)
}

/// What the profile wants in containerd's config.
fn desired(ctx: &Context, plan: &mut Plan) -> Result<Desired, HostError> {
    let cfg = &ctx.profile.containerd;
    let driver = ctx
        .profile
        .kubernetes
        .as_ref()
        .map(|k| k.cgroup_driver)
        .unwrap_or_default();
    let sandbox_image = match &cfg.sandbox_image {
        Some(image) => Some(image.clone()),
        None => kubeadm_pause_image(ctx, plan)?,
    };
    if sandbox_image.is_none() {
        plan.info("no [kubernetes] version and no containerd.sandbox_image: the sandbox image is left as configured");
    }
    Ok(Desired {
        systemd_cgroup: driver == CgroupDriver::Systemd,
        sandbox_image,
        cni_bin_dir: cfg.cni_bin_dir.clone(),
        registry_config_path: (!cfg.mirrors.is_empty()).then(|| CERTS_DIR.to_string()),
    })
}

fn config_error(path: &str, e: ConfigError) -> StepError {
    let location = match &e {
        ConfigError::Syntax { line, column, .. } => format!("{path}:{line}:{column}"),
        _ => path.to_string(),
    };
    StepsError::ContainerdConfig {
        location,
        source: e,
    }
    .into()
}

/// `containerd config default`, the base for a missing or CRI-disabling config.
fn default_config(host: &Host) -> Result<String, StepError> {
    let output = host.run(&Command::new("containerd").args(["config", "default"]))?;
    if !output.success() {
        return Err(StepError::Blocked(format!(
            "`containerd config default` failed: {}",
            output.tail(3)
        )));
    }
    Ok(output.stdout)
}

fn unit_state(host: &Host, query: &str) -> Result<String, HostError> {
    let out = host.run(&Command::new("systemctl").args([query, "containerd"]))?;
    Ok(out.stdout.trim().to_string())
}

fn plan_install(ctx: &Context) -> Result<Plan, StepError> {
    let cfg = &ctx.profile.containerd;
    if cfg.install == Install::None {
        return Err(StepError::Blocked(
            "containerd is not installed (no `containerd` on PATH) and containerd.install = \"none\"; install it in the image, or set containerd.install = \"package\"".into(),
        ));
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args.iter().copied())
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(Duration::from_secs(900))
            .waits_for_dpkg_lock(ctx.profile.packages.dpkg_lock_timeout.0)
    };
    let mut plan = Plan::default();
    plan.push(Change::run("refresh apt package lists", apt(&["update"])));
    plan.push(Change::run(
        format!("install containerd (apt package {})", cfg.package),
        apt(&["install", "-y", "--no-install-recommends", &cfg.package]),
    ));
    plan.push(Change::replan(format!(
        "configure containerd in {} (diff shown once installed: generated from `containerd config default`)",
        cfg.config_path
    )));
    Ok(plan)
}

/// Where containerd's packages and release tarballs put the daemon.
const CONTAINERD_PROGRAMS: [&str; 3] = [
    "/usr/bin/containerd",
    "/usr/local/bin/containerd",
    "/usr/sbin/containerd",
];

/// The plan for an offline root (an image tree): no program runs, so containerd must be in
/// the image already (found as a file); its files are written, the service is enabled as
/// links in the root, and starting it is left to the first boot. A missing or CRI-disabling
/// config is generated by `containerd config default` at first boot, on the booted node.
fn plan_offline(ctx: &Context) -> Result<Plan, StepError> {
    let host = ctx.host;
    let cfg = &ctx.profile.containerd;
    if !CONTAINERD_PROGRAMS.iter().any(|p| host.exists(p)) {
        return Err(StepError::Blocked(format!(
            "containerd is not in this offline root (none of {}), and bootstrap runs no package manager for an image tree: install containerd into the image with its own tooling (e.g. `chroot ROOT apt-get install {}`), then run again",
            CONTAINERD_PROGRAMS.join(", "),
            cfg.package
        )));
    }
    let mut plan = Plan::default();
    let usable = host
        .read(&cfg.config_path)?
        .is_some_and(|text| !containerd_config::is_cri_disabled_stub(&text));
    if usable {
        plan_files(ctx, false, &mut plan)?;
    } else {
        plan.at_first_boot(format!(
            "configure containerd in {} (generated from `containerd config default`, which bootstrap does not run here, by the apply on the booted node)",
            cfg.config_path
        ));
        plan_crictl(host, &cfg.socket, &mut plan)?;
    }
    super::unit_files::plan_enable(host, "containerd.service", &mut plan)?;
    plan.at_first_boot("containerd starts with the configuration written (enabled at boot)");
    Ok(plan)
}

/// `systemctl VERB containerd`.
fn systemctl(verb: &str) -> Command {
    Command::new("systemctl").args([verb, "containerd"])
}

/// The config file as it should be: the existing one (or `containerd config default` for
/// a missing file or a CRI-disabling stub), edited.
fn plan_config_file(ctx: &Context, plan: &mut Plan) -> Result<bool, StepError> {
    let host = ctx.host;
    let cfg = &ctx.profile.containerd;
    let want = desired(ctx, plan)?;
    let old = host.read(&cfg.config_path)?;
    let base = match &old {
        Some(text) if !containerd_config::is_cri_disabled_stub(text) => text.clone(),
        Some(_) => {
            plan.info(format!(
                "{} only disables the CRI plugin (a Docker-style stub): it is replaced by `containerd config default`, edited",
                cfg.config_path
            ));
            default_config(host)?
        }
        None => default_config(host)?,
    };
    let new =
        containerd_config::edit(&base, &want).map_err(|e| config_error(&cfg.config_path, e))?;
    let change = plan.update_file(&cfg.config_path, old.as_deref(), new, Mode::KeepOr(0o644));
    let Some(change) = change else {
        return Ok(false);
    };
    change.summary = format!("{} (kubelet and kubeadm settings)", change.summary);
    Ok(true)
}

/// Plans the config file, the registry mirrors' hosts.toml files and crictl's config;
/// returns whether containerd must restart to read them.
fn plan_files(ctx: &Context, systemd: bool, plan: &mut Plan) -> Result<bool, StepError> {
    let host = ctx.host;
    let cfg = &ctx.profile.containerd;
    if systemd {
        // Recorded before each write, cleared once the restart succeeds: a run stopped
        // in between leaves it owed, and the next run restarts.
        host.effective_after(&cfg.config_path, &systemctl("restart"));
    }
    let mut restart = plan_config_file(ctx, plan)?;
    for (registry, mirrors) in &cfg.mirrors {
        let path = format!("{CERTS_DIR}/{registry}/hosts.toml");
        if systemd {
            host.effective_after(&path, &systemctl("restart"));
        }
        let old = host.read(&path)?;
        let new = registry_hosts::render(registry, mirrors);
        restart |= plan
            .update_file(&path, old.as_deref(), new, Mode::KeepOr(0o644))
            .is_some();
    }
    plan_crictl(host, &cfg.socket, plan)?;
    Ok(restart)
}

/// Plans crictl's config pointing at containerd's `socket`.
fn plan_crictl(host: &Host, socket: &str, plan: &mut Plan) -> Result<(), StepError> {
    let old = host.read(CRICTL_FILE)?;
    let new = crictl::edit(old.as_deref(), &format!("unix://{socket}"));
    plan.update_file(CRICTL_FILE, old.as_deref(), new, Mode::KeepOr(0o644));
    Ok(())
}

/// Plans the restart (or start) and the enable of the service.
fn plan_service(host: &Host, restart: bool, plan: &mut Plan) -> Result<(), StepError> {
    let owed = !restart && host.is_pending(&systemctl("restart"));
    if owed {
        plan.info(
            "an earlier run changed containerd's configuration and stopped before restarting it",
        );
    }
    if restart || owed {
        plan.push(Change::run(
            "restart containerd (its configuration changed)",
            systemctl("restart"),
        ));
    } else if unit_state(host, "is-active")? != "active" {
        plan.push(Change::run("start containerd", systemctl("start")));
    }
    if unit_state(host, "is-enabled")? != "enabled" {
        plan.push(Change::run(
            "enable containerd at boot",
            systemctl("enable"),
        ));
    }
    Ok(())
}

impl Step for ContainerdStep {
    fn name(&self) -> &'static str {
        "containerd"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let host = ctx.host;
        if host.is_offline() {
            return plan_offline(ctx);
        }
        let Some(version) = containerd::version(host)? else {
            return plan_install(ctx);
        };
        let mut plan = Plan::default();
        if let Some(k8s) = &ctx.profile.kubernetes
            && let Some(warning) = kubernetes::containerd_support(k8s.version, &version)
        {
            plan.warn(warning);
        }
        let systemd = crate::node::facts::systemd::is_init(host);
        let restart = plan_files(ctx, systemd, &mut plan)?;
        if !systemd {
            plan.warn("systemd is not running here: containerd is configured but not restarted or enabled by bootstrap");
            return Ok(plan);
        }
        plan_service(host, restart, &mut plan)?;
        Ok(plan)
    }

    fn verify(&self, ctx: &Context) -> Result<(), StepError> {
        expect_converged(self, ctx)?;
        let host = ctx.host;
        if host.is_offline() {
            return Ok(());
        }
        let cfg = &ctx.profile.containerd;
        if crate::node::facts::systemd::is_init(host) {
            let mut last = String::new();
            let subject = format!("containerd to answer on {}", cfg.socket);
            let limit = "containerd's 30 s start limit";
            let up = host.wait_until(
                &subject,
                limit,
                SOCKET_WAIT,
                Duration::from_millis(500),
                || {
                    containerd::answers(host, &cfg.socket)
                        .map_err(|why| last = why)
                        .is_ok()
                },
            );
            if !up {
                return Err(StepError::Verify(format!(
                    "containerd does not answer on {} ({last}); see `journalctl -u containerd`",
                    cfg.socket
                )));
            }
        }
        let dump = host.run(&Command::new("containerd").args([
            "--config",
            &cfg.config_path,
            "config",
            "dump",
        ]))?;
        if !dump.success() {
            return Err(StepError::Verify(format!(
                "`containerd config dump` failed: {}",
                dump.tail(3)
            )));
        }
        let facts = containerd_config::facts(&dump.stdout)
            .map_err(|e| StepError::Verify(format!("cannot read `containerd config dump`: {e}")))?;
        let mut plan = Plan::default();
        let want = desired(ctx, &mut plan)?;
        check_effective(&facts, &want).map_err(StepError::Verify)
    }
}

/// Compares the runtime's effective configuration with what was written.
pub fn check_effective(facts: &RuntimeFacts, want: &Desired) -> Result<(), String> {
    let mut problems = Vec::new();
    if facts.systemd_cgroup.unwrap_or(false) != want.systemd_cgroup {
        problems.push(format!(
            "runc SystemdCgroup is {:?}, expected {}",
            facts.systemd_cgroup, want.systemd_cgroup
        ));
    }
    if let Some(image) = &want.sandbox_image
        && facts.sandbox_image.as_ref() != Some(image)
    {
        problems.push(format!(
            "sandbox image is {:?}, expected {image}",
            facts.sandbox_image
        ));
    }
    if !facts.cri_disabled.is_empty() {
        problems.push(format!("CRI is disabled by {:?}", facts.cri_disabled));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "containerd's effective configuration (`containerd config dump`) differs from what was written: {}; a drop-in under `imports` may override it",
        problems.join("; ")
    ))
}
