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
        // An offline root runs no kubeadm: as if not installed (the table's image is used).
        Err(HostError::Run(RunError::NotFound { .. } | RunError::Offline { .. })) => {
            PauseAnswer::NotInstalled
        }
        Err(e) => return Err(e),
    })
}

/// The `apiVersion` of the first kubeadm document in `kubeadm config print init-defaults`
/// output (`kubeadm.k8s.io/v1beta4`).
pub fn api_in(defaults: &str) -> Option<String> {
    defaults
        .lines()
        .filter_map(|l| l.trim().strip_prefix("apiVersion:"))
        .map(|v| v.trim().trim_matches('"').to_string())
        .find(|v| v.starts_with("kubeadm.k8s.io/"))
}

/// The configuration API the installed kubeadm writes by default: `kubeadm config print
/// init-defaults` prints its defaults in kubeadm's current scheme version (kubernetes/kubernetes
/// cmd/kubeadm/app/cmd/config.go, `newCmdConfigPrintInitDefaults`, encoded with
/// `kubeadmapiv1.SchemeGroupVersion`). `None` when kubeadm is not installed or does not answer.
pub fn default_api(host: &Host) -> Result<Option<String>, HostError> {
    let command = Command::new("kubeadm").args(["config", "print", "init-defaults"]);
    match host.run(&command) {
        Ok(out) if out.success() => Ok(api_in(&out.stdout)),
        Ok(_) => Ok(None),
        Err(HostError::Run(RunError::NotFound { .. } | RunError::Offline { .. })) => Ok(None),
        Err(e) => Err(e),
    }
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

    #[test]
    fn finds_the_api_version_of_the_defaults() {
        let defaults = "apiVersion: kubeadm.k8s.io/v1beta4\nbootstrapTokens:\n- groups: []\nkind: InitConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";
        assert_eq!(api_in(defaults).as_deref(), Some("kubeadm.k8s.io/v1beta4"));
        assert_eq!(
            api_in("apiVersion: kubelet.config.k8s.io/v1beta1\napiVersion: \"kubeadm.k8s.io/v1beta3\"\n").as_deref(),
            Some("kubeadm.k8s.io/v1beta3")
        );
        assert_eq!(api_in("kind: InitConfiguration\n"), None);
    }
}
