//! The pause (sandbox) image kubeadm uses per Kubernetes minor. The installed kubeadm is the
//! authority (`kubeadm config images list --kubernetes-version vX.Y.Z`, which prints its
//! `PauseVersion` constant: kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go);
//! bootstrap's cited table ([`crate::profile::kubernetes::default_pause_image`],
//! docs/kubernetes-versions.md) is used only while kubeadm is not installed, and is compared
//! with kubeadm's answer so a stale row is reported rather than silently trusted.

use crate::values::KubeVersion;

/// What comparing kubeadm's answer with the table found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// They disagree (a warning: the table's row is stale).
    Mismatch(String),
    /// The table has no row for the minor (information: kubeadm's answer is used).
    NoRow(String),
}

/// Compares kubeadm's answer with the table. `None` when they agree, or when kubeadm was
/// not asked (nothing to compare).
pub fn compare(version: KubeVersion, asked: Option<&str>, table: Option<&str>) -> Option<Finding> {
    let asked = asked?;
    Some(match table {
        Some(table) if tag(table) == tag(asked) => return None,
        Some(table) => Finding::Mismatch(format!(
            "kubeadm {version} uses the pause image {asked}, but bootstrap's table (docs/kubernetes-versions.md, from kubeadm's PauseVersion constant) says {table}: kubeadm's answer is used; the table's row for {}.{} is stale",
            version.major, version.minor
        )),
        None => Finding::NoRow(format!(
            "bootstrap's table has no pause image for Kubernetes {}.{}: kubeadm's answer {asked} is used (without kubeadm installed, nothing would be guessed)",
            version.major, version.minor
        )),
    })
}

/// The tag of an image reference (`registry.k8s.io/pause:3.10` → `3.10`); the repository
/// part follows `kubernetes.image_repository` on both sides.
fn tag(image: &str) -> &str {
    image.rsplit_once(':').map_or(image, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    #[test]
    fn agreement_is_silent_and_disagreement_is_named() {
        let k = "registry.k8s.io/pause:3.10.1";
        assert_eq!(compare(v("1.35.2"), Some(k), Some(k)), None);
        assert_eq!(
            compare(v("1.35.2"), None, Some(k)),
            None,
            "kubeadm not asked"
        );
        assert_eq!(
            compare(
                v("1.35.2"),
                Some("mirror.local/pause:3.10.1"),
                Some("registry.k8s.io/pause:3.10.1")
            ),
            None,
            "same tag from another repository"
        );
        let Some(Finding::Mismatch(stale)) =
            compare(v("1.35.2"), Some("registry.k8s.io/pause:3.11"), Some(k))
        else {
            panic!("a mismatch");
        };
        assert!(
            stale.contains("uses the pause image registry.k8s.io/pause:3.11"),
            "{stale}"
        );
        assert!(
            stale.contains("says registry.k8s.io/pause:3.10.1"),
            "{stale}"
        );
        let Some(Finding::NoRow(unknown)) =
            compare(v("1.37.1"), Some("registry.k8s.io/pause:3.10.2"), None)
        else {
            panic!("no row");
        };
        assert!(
            unknown.contains("no pause image for Kubernetes 1.37"),
            "{unknown}"
        );
    }
}
