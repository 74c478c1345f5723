//! Step `cgroup`: check and explain the cgroup setup the kubelet will meet, and fix what is
//! ours to fix. Detects cgroup v1 / v2 / hybrid and whether systemd is init; compares the
//! kubelet's cgroup driver (profile, /var/lib/kubelet/config.yaml, a stale `--cgroup-driver`
//! in /etc/default/kubelet) with containerd's runc `SystemdCgroup`. The only file it may
//! change is /etc/default/kubelet (removing that stale flag).

use crate::engine::{Change, Context, Mode as RunMode, Plan, Step, StepError};
use crate::formats::kubelet_env;
use crate::host::Mode;
use crate::node::facts::cgroup;
use crate::node::facts::containerd;
use crate::node::facts::kubelet::{self, KUBELET_CONFIG};
use crate::profile::kubernetes::CgroupDriver;

/// The kubelet's environment file on Debian and Ubuntu (KUBELET_EXTRA_ARGS).
pub const KUBELET_DEFAULTS: &str = "/etc/default/kubelet";
/// Where the kubeadm drop-in for the kubelet unit may live.
const KUBEADM_DROPINS: [&str; 3] = [
    "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
];

/// The `cgroup` step.
pub struct CgroupStep;

fn runtime_mismatch(ctx: &Context, want: CgroupDriver, plan: &mut Plan) -> Result<(), StepError> {
    let path = &ctx.profile.containerd.config_path;
    let Some(facts) = containerd::config(ctx.host, path)? else {
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
    if let Some(driver) = kubelet::driver(host)?
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
        if host.is_offline() {
            plan.info("an offline root: the cgroup hierarchy and the init system are the booted node's, judged by the apply there; only the files are compared here");
        } else {
            judge_live(ctx, want, &mut plan)?;
        }
        kubelet_side(ctx, want, &mut plan)?;
        runtime_mismatch(ctx, want, &mut plan)?;
        Ok(plan)
    }
}

/// The cgroup hierarchy and init system of the running node, against the profile.
fn judge_live(ctx: &Context, want: CgroupDriver, plan: &mut Plan) -> Result<(), StepError> {
    let host = ctx.host;
    let mode = cgroup::mode(host)?;
    let systemd_init = crate::node::facts::systemd::is_init(host);
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
        if mode.is_v1() && k8s.version.minor >= 35 {
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
    Ok(())
}
