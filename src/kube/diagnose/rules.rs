//! The diagnosis rules: each a small pure function from the [`Evidence`] to the one likely
//! [`Cause`] it knows, or nothing. [`analyse`] runs them in [`RULES`] order (most likely
//! first), then names each of kubeadm's failed preflight checks.

use super::join::{self, JoinFailure};
use super::{Cause, Evidence, KUBELET_CONFIG};
use crate::profile::kubeadm::Mode;

/// What follows every fix that needs kubeadm to run again from scratch.
const RESET_AND_RERUN: &str = "then `kubeadm reset -f` and run `bootstrap apply` again";

/// A rule: the cause it recognises in the evidence, if any.
pub type Rule = fn(&Evidence) -> Option<Cause>;

/// The rules, most likely cause first.
pub const RULES: [Rule; 8] = [
    swap_on,
    cgroup_driver_mismatch,
    cri_disabled,
    node_and_profile_drivers_differ,
    kubelet_config_missing,
    sandbox_image_mismatch,
    discovery_failed,
    certs_not_downloaded,
];

fn cause(title: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Cause {
    Cause {
        title: title.into(),
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// kubeadm's last lines (empty for a half-done node found on plan).
fn tail(e: &Evidence) -> &str {
    e.failure.as_ref().map_or("", |f| f.tail.as_str())
}

/// Whether kubeadm's last lines or the kubelet journal mention one of `needles`.
fn mentioned(e: &Evidence, needles: &[&str]) -> bool {
    [tail(e), e.kubelet_journal.as_str()]
        .iter()
        .any(|h| needles.iter().any(|n| h.contains(n)))
}

/// Swap is on while the kubelet refuses it.
pub fn swap_on(e: &Evidence) -> Option<Cause> {
    let in_journal = mentioned(e, &["swap on is not supported", "swap is enabled"]);
    if !e.fail_swap_on || (e.swap_areas.is_empty() && !in_journal) {
        return None;
    }
    let areas = if e.swap_areas.is_empty() {
        "the kubelet journal says swap was on".to_string()
    } else {
        format!("/proc/swaps lists {}", e.swap_areas.join(", "))
    };
    Some(cause(
        "swap is on, and the kubelet refuses to run with swap on",
        format!("{areas}; failSwapOn is true unless the profile sets swap.policy = \"keep\""),
        format!(
            "turn swap off now and at boot with `bootstrap apply --only swap` (swap.policy = \"off\"), {RESET_AND_RERUN}"
        ),
    ))
}

/// The kubelet's driver (the node's kubelet config, else the profile) is not containerd's.
pub fn cgroup_driver_mismatch(e: &Evidence) -> Option<Cause> {
    let view = e.containerd.as_ref()?;
    let runtime = if view.systemd_cgroup == Some(true) {
        "systemd"
    } else {
        "cgroupfs"
    };
    let kubelet = e
        .node_driver
        .clone()
        .or_else(|| e.profile_driver.map(|d| d.as_str().to_string()))
        .filter(|k| k != runtime)?;
    let setting = match view.systemd_cgroup {
        Some(v) => format!("SystemdCgroup = {v}"),
        None => "no SystemdCgroup (containerd's default is false)".to_string(),
    };
    let source = if e.node_driver.is_some() {
        KUBELET_CONFIG
    } else {
        "the profile (kubernetes.cgroup_driver)"
    };
    let (config, table) = (&e.containerd_config, &view.table);
    let want = kubelet == "systemd";
    Some(cause(
        format!("cgroup driver mismatch: the kubelet uses {kubelet}, containerd uses {runtime}"),
        format!(
            "kubelet: cgroupDriver {kubelet} in {source}; containerd: {setting} in [{table}] of {config}; control-plane pods crash-loop when the two differ"
        ),
        format!(
            "set SystemdCgroup = {want} in [{table}] of {config} and `systemctl restart containerd` (or change kubernetes.cgroup_driver to {runtime}), {RESET_AND_RERUN}"
        ),
    ))
}

/// containerd's CRI plugin is disabled (by its config, or the kubelet cannot reach it).
pub fn cri_disabled(e: &Evidence) -> Option<Cause> {
    let view = e.containerd.as_ref()?;
    if !view.cri_disabled && !mentioned(e, &["unknown service runtime.v1.RuntimeService"]) {
        return None;
    }
    let config = &e.containerd_config;
    Some(cause(
        "containerd's CRI plugin is disabled",
        format!(
            "{config} lists cri in disabled_plugins (the stock file of Docker's containerd.io package does)"
        ),
        format!(
            "remove \"cri\" from disabled_plugins (or regenerate with `containerd config default`), `systemctl restart containerd`, {RESET_AND_RERUN}"
        ),
    ))
}

/// The node's kubelet config (from the cluster) and the profile name different drivers.
pub fn node_and_profile_drivers_differ(e: &Evidence) -> Option<Cause> {
    let (profile, node) = e.profile_driver.zip(e.node_driver.as_deref())?;
    (profile.as_str() != node).then(|| {
        cause(
            "the node's kubelet config and the profile disagree on the cgroup driver",
            format!(
                "{KUBELET_CONFIG} has cgroupDriver {node}, the profile wants {}",
                profile.as_str()
            ),
            "make kubernetes.cgroup_driver match the cluster's kubelet-config ConfigMap; changing the driver of a joined node means re-provisioning it",
        )
    })
}

/// The kubelet config kubeadm writes is missing while the kubelet needs it.
pub fn kubelet_config_missing(e: &Evidence) -> Option<Cause> {
    let in_journal = mentioned(
        e,
        &[
            "failed to load kubelet config file",
            "config.yaml: no such file",
        ],
    );
    let half_done = !e.present.is_empty();
    if e.kubelet_config_present || !(in_journal || half_done) {
        return None;
    }
    let phase = match e.mode {
        Some(Mode::Join) => "join",
        _ => "init",
    };
    Some(cause(
        format!("the kubelet config {KUBELET_CONFIG} is missing"),
        "kubeadm writes it in its kubelet-start phase; without it the kubelet cannot start",
        format!(
            "`kubeadm {phase} phase kubelet-start --config {}` writes it and restarts the kubelet",
            e.config_path
        ),
    ))
}

/// containerd's sandbox image is not the pause image kubeadm expects.
pub fn sandbox_image_mismatch(e: &Evidence) -> Option<Cause> {
    let want = e.expected_pause.as_ref()?;
    let have = e.containerd.as_ref()?.sandbox_image.as_ref()?;
    (want != have).then(|| {
        cause(
            format!("sandbox image mismatch: containerd uses {have}, kubeadm expects {want}"),
            "kubeadm warns about it; pods may fail to start where the old image cannot be pulled",
            format!(
                "set the sandbox image to {want} in {} and `systemctl restart containerd`",
                e.containerd_config
            ),
        )
    })
}

/// Discovery failed: a wrong CA hash, an unknown token, or no answer
/// ([`join::classify`], the list the join retry uses too).
pub fn discovery_failed(e: &Evidence) -> Option<Cause> {
    Some(match join::classify(tail(e))? {
        JoinFailure::CaHashMismatch => cause(
            "the CA hash does not match the cluster's CA",
            "discovery found the API server, but its CA is not the one pinned by ca_cert_hash",
            "use the ca-cert-hash of the bundle the first control plane was initialised with",
        ),
        JoinFailure::TokenRejected => cause(
            "the bootstrap token is unknown to the cluster or expired",
            "the API server answered, but no valid token with this ID exists",
            "use the token of the cluster's bundle; a new one: `kubeadm token create` on a control plane (tokens live 24h by default)",
        ),
        JoinFailure::Unreachable => cause(
            "the API server endpoint did not answer",
            "discovery could not reach the control plane",
            "check that the first control plane is up, that control_plane_endpoint is right, and that TCP 6443 is open between the nodes; then apply again",
        ),
    })
}

/// A joining control plane could not download the certificates `init` uploaded.
pub fn certs_not_downloaded(e: &Evidence) -> Option<Cause> {
    join::certs_download_failed(tail(e)).then(|| {
        cause(
            "the control-plane certificates could not be downloaded",
            "the certificate key does not match, or the uploaded certificates expired (they live 2h)",
            "on the first control plane run `kubeadm init phase upload-certs --upload-certs --config /var/lib/bootstrap/kubeadm/init.yaml`, then apply again",
        )
    })
}

/// One cause per `[ERROR ...]` line of kubeadm's preflight in its last lines.
pub fn failed_preflight_checks(e: &Evidence) -> Vec<Cause> {
    tail(e)
        .lines()
        .filter(|l| l.contains("[ERROR "))
        .map(|line| {
            cause(
                format!("preflight check failed: {}", line.trim()),
                "kubeadm stopped before changing the node",
                "fix what the check names (or, if you are sure, list the check in kubeadm.ignore_preflight_errors), then apply again",
            )
        })
        .collect()
}

/// The likely causes, most likely first.
pub fn analyse(e: &Evidence) -> Vec<Cause> {
    RULES
        .iter()
        .filter_map(|rule| rule(e))
        .chain(failed_preflight_checks(e))
        .collect()
}
