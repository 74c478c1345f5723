//! The pause (sandbox) image the installed kubeadm expects for a Kubernetes version, from
//! `kubeadm config images list` (the list kubeadm's `images` phase pulls, see
//! <https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-config/>). Its
//! preflight warns when containerd's sandbox image differs from it.

use crate::host::{Command, Host, HostError, RunError};

/// What kubeadm answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseAnswer {
    /// kubeadm listed its images; the pause image among them, when there was one.
    Listed(Option<String>),
    /// kubeadm ran and failed.
    Failed {
        /// The command line.
        command: String,
        /// Its last line.
        detail: String,
    },
    /// kubeadm is not installed.
    NotInstalled,
}

impl PauseAnswer {
    /// The pause image, when kubeadm named one.
    pub fn image(self) -> Option<String> {
        match self {
            PauseAnswer::Listed(image) => image,
            _ => None,
        }
    }
}

/// The pause image in `kubeadm config images list` output (`registry.k8s.io/pause:3.10`).
pub fn pause_in(list: &str) -> Option<String> {
    list.lines()
        .map(str::trim)
        .find(|l| l.contains("/pause:"))
        .map(str::to_string)
}

/// Asks the installed kubeadm for the pause image of `version` (`v1.35.2`) from `repository`.
pub fn pause_image(host: &Host, version: &str, repository: &str) -> Result<PauseAnswer, HostError> {
    let command = Command::new("kubeadm").args([
        "config",
        "images",
        "list",
        "--kubernetes-version",
        version,
        "--image-repository",
        repository,
    ]);
    Ok(match host.run(&command) {
        Ok(out) if out.success() => PauseAnswer::Listed(pause_in(&out.stdout)),
        Ok(out) => PauseAnswer::Failed {
            command: command.display(),
            detail: out.tail(1),
        },
        Err(HostError::Run(RunError::NotFound { .. })) => PauseAnswer::NotInstalled,
        Err(e) => return Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_pause_image_in_the_list() {
        // `kubeadm config images list --kubernetes-version v1.31.4` (kubeadm 1.31).
        let list = "registry.k8s.io/kube-apiserver:v1.31.4
registry.k8s.io/kube-controller-manager:v1.31.4
registry.k8s.io/kube-scheduler:v1.31.4
registry.k8s.io/kube-proxy:v1.31.4
registry.k8s.io/coredns/coredns:v1.11.3
registry.k8s.io/pause:3.10
registry.k8s.io/etcd:3.5.15-0
";
        assert_eq!(
            pause_in(list).as_deref(),
            Some("registry.k8s.io/pause:3.10")
        );
        assert_eq!(
            pause_in("  mirror.example/k8s/pause:3.9  \n").as_deref(),
            Some("mirror.example/k8s/pause:3.9")
        );
        assert_eq!(pause_in("registry.k8s.io/etcd:3.5.15-0\n"), None);
        assert_eq!(
            PauseAnswer::Listed(Some("p/pause:1".into()))
                .image()
                .as_deref(),
            Some("p/pause:1")
        );
        assert_eq!(PauseAnswer::NotInstalled.image(), None);
    }
}
