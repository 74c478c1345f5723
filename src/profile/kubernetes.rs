//! `[kubernetes]`: the Kubernetes release and cluster-wide settings that several steps share
//! (runtime sandbox image, packages, kubeadm).

use serde::{Deserialize, Serialize};

use crate::values::KubeVersion;

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

/// The oldest Kubernetes minor this agent supports: pkgs.k8s.io, the only package
/// repository since the legacy ones were frozen, carries v1.24 and newer
/// (<https://kubernetes.io/blog/2023/08/15/pkgs-k8s-io-introduction/>), and kubeadm reads
/// the v1beta3 configuration rendered below 1.31 since 1.22.
pub const OLDEST_MINOR: u32 = 24;
/// The newest Kubernetes minor this agent knows (renders v1beta4 for; its pause image and
/// containerd requirements are in the tables below): 1.37, latest patch 1.37.1 released
/// 2026-09-15 (<https://kubernetes.io/releases/1.37/>).
pub const NEWEST_MINOR: u32 = 37;
/// The release the examples and `profile show` documentation use.
pub const CURRENT_RELEASE: &str = "1.37.1";

/// Whether `version` is in the supported range (1.24 to 1.37).
pub fn supported(version: KubeVersion) -> bool {
    version.major == 1 && (OLDEST_MINOR..=NEWEST_MINOR).contains(&version.minor)
}

/// The pause image tag kubeadm uses per minor, for when kubeadm itself cannot be asked
/// (`kubeadm config images list` is preferred). Sources: kubeadm's `PauseVersion` constant
/// (cmd/kubeadm/app/constants/constants.go: 3.9 for 1.27-1.30, 3.10 from 1.31
/// (kubernetes/kubernetes#125112)), 3.10.1 from 1.34
/// (kubernetes/kubernetes#130713), 3.10.2 for 1.36 (kubeclipper/kubeclipper#947, from
/// `kubeadm config images list`); see docs/kubernetes-versions.md. 1.26 and older, and
/// 1.37, are not in the table: kubeadm is asked, never a guess.
pub fn default_pause_image(version: KubeVersion, repository: &str) -> Option<String> {
    let tag = match (version.major, version.minor) {
        (1, 27..=30) => "3.9",
        (1, 31..=33) => "3.10",
        (1, 34..=35) => "3.10.1",
        (1, 36) => "3.10.2",
        _ => return None,
    };
    Some(format!("{}/pause:{tag}", repository.trim_end_matches('/')))
}

/// The containerd releases recommended per Kubernetes minor: containerd's "Kubernetes
/// Support" table (<https://containerd.io/releases/#kubernetes-support>, which the
/// Kubernetes container-runtime page points to), as (containerd minor, oldest patch).
fn containerd_table(minor: u32) -> Option<&'static [((u64, u64), u64)]> {
    Some(match minor {
        29 => &[((1, 7), 11), ((1, 6), 27)],
        30 => &[((2, 0), 0), ((1, 7), 13), ((1, 6), 28)],
        31 => &[((2, 0), 0), ((1, 7), 20), ((1, 6), 34)],
        32 => &[((2, 1), 0), ((2, 0), 1), ((1, 7), 24), ((1, 6), 36)],
        33 => &[((2, 1), 0), ((2, 0), 4), ((1, 7), 24), ((1, 6), 36)],
        34 => &[((2, 1), 3), ((2, 0), 6), ((1, 7), 28), ((1, 6), 36)],
        35 => &[((2, 2), 0), ((2, 1), 5), ((1, 7), 28)],
        _ => return None,
    })
}

/// `MAJOR.MINOR.PATCH` at the start of a containerd version (`1.6.20~ds1` → 1, 6, 20).
fn numbers(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u64>);
    Some((
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    ))
}

/// A warning when the installed containerd is not one containerd's table recommends for the
/// Kubernetes minor (e.g. Debian 12's containerd 1.6.20 with Kubernetes 1.35), or when the
/// table has no row for that minor. `None` when the combination is listed.
pub fn containerd_support(k8s: KubeVersion, containerd: &str) -> Option<String> {
    let (major, minor, patch) = numbers(containerd)?;
    let Some(rows) = containerd_table(k8s.minor).filter(|_| k8s.major == 1) else {
        return (major < 2).then(|| format!(
            "containerd {containerd} with Kubernetes {k8s}: containerd's Kubernetes support table (https://containerd.io/releases/#kubernetes-support) has no row for {}.{} here; its newest rows list no containerd 1.6 and recommend 2.x",
            k8s.major, k8s.minor
        ));
    };
    if rows
        .iter()
        .any(|&((a, b), p)| (a, b) == (major, minor) && patch >= p)
        || rows.iter().all(|&((a, b), _)| (a, b) < (major, minor))
    {
        return None;
    }
    let listed: Vec<String> = rows
        .iter()
        .map(|((a, b), p)| format!("{a}.{b}.{p}+"))
        .collect();
    Some(format!(
        "containerd {containerd} is not recommended for Kubernetes {}.{} (containerd's Kubernetes support table, https://containerd.io/releases/#kubernetes-support, lists {}): install a listed release (containerd.install = \"apt\" with a newer package, e.g. containerd.io from Docker's repository)",
        k8s.major,
        k8s.minor,
        listed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    #[test]
    fn pause_tags_per_minor_and_none_beyond_the_table() {
        let pause = |version: &str, repo: &str| default_pause_image(v(version), repo);
        assert_eq!(
            pause("1.30.9", "registry.k8s.io").as_deref(),
            Some("registry.k8s.io/pause:3.9")
        );
        assert_eq!(
            pause("1.31.4", "registry.k8s.io/").as_deref(),
            Some("registry.k8s.io/pause:3.10")
        );
        assert_eq!(
            pause("1.35.2", "mirror.local/k8s").as_deref(),
            Some("mirror.local/k8s/pause:3.10.1")
        );
        assert_eq!(pause("1.37.1", "registry.k8s.io"), None, "never guessed");
        assert_eq!(pause("1.26.0", "registry.k8s.io"), None);
    }

    #[test]
    fn supported_range() {
        assert!(supported(v("1.24.0")) && supported(v("1.37.1")));
        assert!(!supported(v("1.23.17")) && !supported(v("1.38.0")) && !supported(v("2.0.0")));
        assert!(supported(v(CURRENT_RELEASE)));
    }

    #[test]
    fn containerd_combinations() {
        let warn = |k: &str, c: &str| containerd_support(v(k), c);
        assert_eq!(warn("1.31.4", "1.6.34"), None);
        assert_eq!(warn("1.34.2", "2.1.3"), None);
        assert_eq!(warn("1.35.2", "2.2.1"), None);
        assert_eq!(
            warn("1.35.2", "2.3.0"),
            None,
            "newer than every listed release"
        );
        let debian = warn("1.35.2", "1.6.20~ds1").expect("Debian 12's containerd with 1.35");
        assert!(debian.contains("lists 2.2.0+, 2.1.5+, 1.7.28+"), "{debian}");
        assert!(warn("1.34.1", "1.7.27").is_some(), "1.7.28+ needed");
        assert!(warn("1.37.1", "1.7.28").is_some(), "no row: 1.x warned");
        assert_eq!(warn("1.37.1", "2.2.0"), None);
    }
}
