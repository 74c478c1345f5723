//! Step `cgroup`: check and explain the cgroup setup the kubelet will meet, and fix what is
//! ours to fix. Detects cgroup v1 / v2 / hybrid and whether systemd is init; compares the
//! kubelet's cgroup driver (profile, /var/lib/kubelet/config.yaml, a stale `--cgroup-driver`
//! in /etc/default/kubelet) with containerd's runc `SystemdCgroup`. The only file it may
//! change is /etc/default/kubelet (removing that stale flag).

use procfs_core::FromRead;
use procfs_core::process::MountInfos;

use crate::engine::{Change, Context, Mode as RunMode, Plan, Step, StepError};
use crate::formats::kubelet_env;
use crate::host::{Host, HostError, Mode};
use crate::profile::kubernetes::CgroupDriver;

/// The kubelet's environment file on Debian and Ubuntu (KUBELET_EXTRA_ARGS).
pub const KUBELET_DEFAULTS: &str = "/etc/default/kubelet";
/// The kubelet configuration kubeadm writes on init and join.
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
/// Where the kubeadm drop-in for the kubelet unit may live.
const KUBEADM_DROPINS: [&str; 3] = [
    "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
];

/// How cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v2 only (`/sys/fs/cgroup/cgroup.controllers` exists).
    Unified,
    /// v1 controllers with v2 at /sys/fs/cgroup/unified.
    Hybrid,
    /// cgroup v1 only.
    Legacy,
    /// No cgroup file system found.
    Unknown,
}

impl CgroupMode {
    fn describe(self) -> &'static str {
        match self {
            CgroupMode::Unified => "cgroup v2 (unified)",
            CgroupMode::Hybrid => "cgroup v1 with v2 at /sys/fs/cgroup/unified (hybrid)",
            CgroupMode::Legacy => "cgroup v1 (legacy)",
            CgroupMode::Unknown => "no cgroup file system found",
        }
    }
}

/// Detects the cgroup mode from /sys/fs/cgroup and /proc/self/mountinfo under the root.
pub fn cgroup_mode(host: &Host) -> Result<CgroupMode, HostError> {
    if host.exists("/sys/fs/cgroup/cgroup.controllers") {
        return Ok(CgroupMode::Unified);
    }
    let Some(bytes) = host.read_bytes("/proc/self/mountinfo")? else {
        return Ok(CgroupMode::Unknown);
    };
    let mounts = MountInfos::from_read(bytes.as_slice()).map_err(|e| HostError::Io {
        op: "cannot parse",
        path: host.path("/proc/self/mountinfo").display().to_string(),
        source: std::io::Error::other(e),
    })?;
    let has = |fs: &str, at: &str| {
        mounts
            .0
            .iter()
            .any(|m| m.fs_type == fs && m.mount_point.starts_with(at))
    };
    Ok(if has("cgroup2", "/sys/fs/cgroup/unified") {
        CgroupMode::Hybrid
    } else if has("cgroup", "/sys/fs/cgroup") {
        CgroupMode::Legacy
    } else if has("cgroup2", "/sys/fs/cgroup") {
        CgroupMode::Unified
    } else {
        CgroupMode::Unknown
    })
}

pub use crate::node::facts::kubelet_config_driver;

/// The `cgroup` step.
pub struct CgroupStep;

fn runtime_mismatch(ctx: &Context, want: CgroupDriver, plan: &mut Plan) -> Result<(), StepError> {
    let path = &ctx.profile.containerd.config_path;
    let Some(facts) = crate::node::facts::containerd(ctx.host, path)? else {
        plan.info(format!(
            "{path} does not exist yet: containerd's side cannot be compared"
        ));
        return Ok(());
    };
    let Ok(facts) = facts else {
        plan.warn(format!(
            "{path} cannot be parsed: containerd's side cannot be compared"
        ));
        return Ok(());
    };
    let systemd = facts.systemd_cgroup.unwrap_or(false);
    if systemd == (want == CgroupDriver::Systemd) {
        return Ok(());
    }
    let (runtime, fix) = if systemd {
        ("systemd", "false")
    } else {
        ("cgroupfs", "true")
    };
    let message = format!(
        "cgroup driver mismatch: the kubelet uses {} (kubernetes.cgroup_driver) but containerd uses {runtime} (runc SystemdCgroup = {systemd} in {path}, config schema {}). Static pods then fail to start (RunPodSandbox: \"expected cgroupsPath to be of format slice:prefix:name\") and kubeadm init times out. Fix: let the containerd step set SystemdCgroup = {fix} (do not --skip containerd), or set it by hand and `systemctl restart containerd`",
        want.as_str(),
        facts.schema.number()
    );
    if ctx.mode == RunMode::Apply {
        return Err(StepError::Blocked(message));
    }
    plan.warn(message);
    Ok(())
}

fn kubelet_side(ctx: &Context, want: CgroupDriver, plan: &mut Plan) -> Result<(), StepError> {
    let host = ctx.host;
    if let Some(text) = host.read(KUBELET_CONFIG)?
        && let Some(driver) = kubelet_config_driver(&text)
        && driver != want.as_str()
    {
        plan.warn(format!(
            "{KUBELET_CONFIG} (written by kubeadm from the cluster's kubelet-config) says cgroupDriver: {driver}, the profile says {}. Changing the driver of a joined node is unsafe: reset and re-join the node (`kubeadm reset -f`), or set kubernetes.cgroup_driver = \"{driver}\"",
            want.as_str()
        ));
    }
    if let Some(text) = host.read(KUBELET_DEFAULTS)?
        && let Some((line, driver)) = kubelet_env::cgroup_driver_flag(&text)
        && driver != want.as_str()
    {
        let mut change = Change::file(
            KUBELET_DEFAULTS,
            Some(&text),
            kubelet_env::drop_cgroup_driver_flag(&text),
            Mode::KeepOr(0o644),
        );
        change.summary = format!(
            "remove the stale --cgroup-driver={driver} from KUBELET_EXTRA_ARGS ({KUBELET_DEFAULTS} line {line}): kubeadm sets cgroupDriver: {} in the kubelet config, and the deprecated flag would override it",
            want.as_str()
        );
        plan.push(change);
    }
    for dropin in KUBEADM_DROPINS {
        if host
            .read(dropin)?
            .is_some_and(|t| t.contains("--cgroup-driver"))
        {
            plan.warn(format!(
                "{dropin} passes --cgroup-driver to the kubelet; that is the old way (before kubeadm 1.22 wrote cgroupDriver into /var/lib/kubelet/config.yaml). Remove it from the drop-in and `systemctl daemon-reload`"
            ));
        }
    }
    Ok(())
}

impl Step for CgroupStep {
    fn name(&self) -> &'static str {
        "cgroup"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let host = ctx.host;
        let want = ctx
            .profile
            .kubernetes
            .as_ref()
            .map(|k| k.cgroup_driver)
            .unwrap_or_default();
        let mut plan = Plan::default();
        let mode = cgroup_mode(host)?;
        let systemd_init = host.is_dir("/run/systemd/system");
        plan.info(format!(
            "{}; {}; kubelet cgroup driver {}",
            mode.describe(),
            if systemd_init {
                "systemd is init"
            } else {
                "systemd is not init"
            },
            want.as_str()
        ));
        if want == CgroupDriver::Systemd && !systemd_init {
            let message = "kubernetes.cgroup_driver is systemd but systemd is not the init system here (/run/systemd/system is missing); the kubelet would fail. Boot the node with systemd, or set kubernetes.cgroup_driver = \"cgroupfs\" (and containerd follows)";
            if ctx.mode == RunMode::Apply {
                return Err(StepError::Blocked(message.into()));
            }
            plan.warn(message);
        }
        if let Some(k8s) = &ctx.profile.kubernetes {
            if matches!(mode, CgroupMode::Legacy | CgroupMode::Hybrid) && k8s.version.minor >= 35 {
                plan.warn(format!(
                    "{} found, and the kubelet of Kubernetes {} refuses cgroup v1 by default (failCgroupV1: true since 1.35). Boot with cgroup v2 (kernel argument systemd.unified_cgroup_hierarchy=1), or set failCgroupV1: false in the kubelet configuration and ignore kubeadm's SystemVerification check",
                    mode.describe(),
                    k8s.version
                ));
            }
            if k8s.version.minor >= 34 {
                plan.info("kubelet ≥ 1.34 asks containerd ≥ 2.0 for the cgroup driver (KubeletCgroupDriverFromCRI): containerd's SystemdCgroup is what counts there");
            }
        }
        kubelet_side(ctx, want, &mut plan)?;
        runtime_mismatch(ctx, want, &mut plan)?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_kubelet_config_driver() {
        let text = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n";
        assert_eq!(
            super::kubelet_config_driver(text).as_deref(),
            Some("cgroupfs")
        );
        assert_eq!(
            super::kubelet_config_driver("cgroupDriver: \"systemd\"\n").as_deref(),
            Some("systemd")
        );
        assert_eq!(super::kubelet_config_driver("kind: X\n"), None);
    }
}
