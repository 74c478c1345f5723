//! `bootstrap certs renew`: `kubeadm certs renew all`, then the control-plane static pods
//! restarted as kubeadm's documentation says
//! (<https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/#manual-certificate-renewal>:
//! "After running the command you should restart the control plane Pods … temporarily
//! remove its manifest file from /etc/kubernetes/manifests/ and wait for 20 seconds (see the
//! fileCheckFrequency value in KubeletConfiguration struct)"). The manifests come back byte
//! for byte; if anything fails in between they are put back at once.

use std::time::Duration;

use crate::host::{Command, Host, HostError};
use crate::kube::static_pods::{self, MANIFESTS};

/// The journal's step name for this work.
pub const STEP: &str = "certs";
/// The control-plane static pods kubeadm writes, in the order they are put back.
pub const CONTROL_PLANE: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// Why a renewal could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// Not a control plane.
    #[error(
        "{MANIFESTS}/kube-apiserver.yaml does not exist: run this on a control plane (kubeadm renews the control-plane certificates there)"
    )]
    NotControlPlane,
    /// kubeadm failed, or the manifests could not be moved.
    #[error(transparent)]
    Host(#[from] HostError),
}

/// What a renewal will do.
#[derive(Debug, Clone)]
pub struct RenewPlan {
    /// The manifests present (node path, text).
    pub manifests: Vec<(String, String)>,
    /// How long the pods stay stopped (the kubelet's file check frequency).
    pub wait: Duration,
}

/// Finds the control-plane manifests; changes nothing.
pub fn plan(host: &Host, wait: Option<Duration>) -> Result<RenewPlan, RenewError> {
    let mut manifests = Vec::new();
    for pod in CONTROL_PLANE {
        let path = format!("{MANIFESTS}/{pod}.yaml");
        if let Some(text) = host.read(&path)? {
            manifests.push((path, text));
        }
    }
    if !manifests
        .iter()
        .any(|(p, _)| p.ends_with("/kube-apiserver.yaml"))
    {
        return Err(RenewError::NotControlPlane);
    }
    Ok(RenewPlan {
        manifests,
        wait: wait.unwrap_or_else(|| static_pods::file_check_frequency(host)),
    })
}

impl RenewPlan {
    /// The plan as lines for people.
    pub fn lines(&self) -> Vec<String> {
        let names: Vec<&str> = self.manifests.iter().map(|(p, _)| p.as_str()).collect();
        vec![
            "kubeadm certs renew all (every certificate kubeadm manages and the kubeconfigs' client certificates; not the CAs)".into(),
            format!(
                "move {} to {}/, wait {} (the kubelet's fileCheckFrequency) so the kubelet stops the pods, and put them back unchanged",
                names.join(", "),
                static_pods::STOPPED_DIR,
                humantime::format_duration(self.wait)
            ),
        ]
    }
}

/// Runs kubeadm, then restarts the pods; returns what kubeadm printed.
pub fn renew(host: &Host, plan: &RenewPlan) -> Result<String, RenewError> {
    let command = Command::new("kubeadm")
        .args(["certs", "renew", "all", "--cert-dir"])
        .arg(host.path("/etc/kubernetes/pki").display().to_string())
        .timeout(Duration::from_secs(120));
    let out = host.run_change(STEP, &command)?;
    let stopped = plan
        .manifests
        .iter()
        .try_for_each(|(path, text)| static_pods::stop(host, STEP, path, text));
    if stopped.is_ok() {
        let mut waiting = host.progress().start("--restart-wait", plan.wait);
        waiting.sleep(plan.wait, "the kubelet to stop the control-plane pods");
    }
    for (path, text) in &plan.manifests {
        if !host.exists(path) {
            static_pods::start(host, STEP, path, text)?;
        }
    }
    stopped?;
    Ok(out.stdout)
}
