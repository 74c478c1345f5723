//! `[kubernetes]`: the Kubernetes release and cluster-wide settings that several steps share
//! (runtime sandbox image, packages, kubeadm).

use serde::{Deserialize, Serialize};

use super::values::KubeVersion;

/// The image registry kubeadm pulls control-plane images from by default.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";

/// `[kubernetes]` section. Optional: without it only node preparation runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kubernetes {
    /// The Kubernetes release, `MAJOR.MINOR.PATCH` (e.g. 1.31.4).
    pub version: KubeVersion,
    /// Registry for control-plane and pause images.
    #[serde(default = "default_image_repository")]
    pub image_repository: String,
    /// The kubelet's cgroup driver; must match containerd's `SystemdCgroup`.
    #[serde(default)]
    pub cgroup_driver: CgroupDriver,
}

fn default_image_repository() -> String {
    DEFAULT_IMAGE_REPOSITORY.to_string()
}

/// How the kubelet and the runtime manage cgroups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupDriver {
    /// systemd manages cgroups (kubeadm's default since 1.22; the right choice with systemd).
    #[default]
    Systemd,
    /// The kubelet writes cgroupfs directly (only for hosts without systemd).
    Cgroupfs,
}

impl CgroupDriver {
    /// The value as written in kubelet configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupDriver::Systemd => "systemd",
            CgroupDriver::Cgroupfs => "cgroupfs",
        }
    }
}

/// The pause image kubeadm uses for a Kubernetes version, when kubeadm itself cannot be
/// asked (`kubeadm config images list`): 1.26-1.30 `3.9`, 1.31-1.34 `3.10`, 1.35 and
/// later `3.10.1`, older `3.8`.
pub fn default_pause_image(version: KubeVersion, repository: &str) -> String {
    let tag = match (version.major, version.minor) {
        (1, 0..=25) => "3.8",
        (1, 26..=30) => "3.9",
        (1, 31..=34) => "3.10",
        _ => "3.10.1",
    };
    format!("{}/pause:{tag}", repository.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_tags_per_minor() {
        let v = |s: &str| s.parse::<KubeVersion>().unwrap();
        assert_eq!(
            default_pause_image(v("1.30.9"), "registry.k8s.io"),
            "registry.k8s.io/pause:3.9"
        );
        assert_eq!(
            default_pause_image(v("1.31.4"), "registry.k8s.io/"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            default_pause_image(v("1.35.2"), "mirror.local/k8s"),
            "mirror.local/k8s/pause:3.10.1"
        );
    }
}
