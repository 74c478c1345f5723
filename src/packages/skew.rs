//! The version-skew rules for changing the installed Kubernetes binaries: one minor up at a
//! time, never down, unless forced.

use crate::values::KubeVersion;

/// How a move from one version to another relates to the upgrade policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Nothing to do.
    Same,
    /// A newer patch of the same minor.
    Patch,
    /// The next minor.
    NextMinor,
    /// An older version.
    Downgrade,
    /// More than one minor forward (or a major change).
    Skip,
}

/// Classifies going from `from` to `to`.
pub fn classify(from: KubeVersion, to: KubeVersion) -> Move {
    if from == to {
        Move::Same
    } else if to < from {
        Move::Downgrade
    } else if from.major != to.major || to.minor > from.minor + 1 {
        Move::Skip
    } else if to.minor == from.minor {
        Move::Patch
    } else {
        Move::NextMinor
    }
}

/// A version move the skew policy refuses, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{problem}. Set kubernetes.version to an allowed step, or set packages.force = true to install {wanted} anyway"
)]
pub struct Refused {
    /// What the move is and why it is not allowed.
    pub problem: String,
    /// The version the profile asks for.
    pub wanted: KubeVersion,
}

/// Checks moving the installed `(program, version)` pairs to `wanted`. Returns notes to show
/// (minor upgrades), or the refusal with what to do. `force` turns refusals into warnings.
pub fn check(
    installed: &[(&str, KubeVersion)],
    wanted: KubeVersion,
    force: bool,
) -> Result<Vec<String>, Refused> {
    let mut notes = Vec::new();
    for (name, from) in installed {
        let problem = match classify(*from, wanted) {
            Move::Same | Move::Patch => continue,
            Move::NextMinor => {
                notes.push(format!(
                    "{name} goes from {from} to {wanted}, a minor upgrade: on a node of a running cluster drain it and run `kubeadm upgrade node` (control planes: `kubeadm upgrade apply`) with the new kubeadm"
                ));
                continue;
            }
            Move::Downgrade => format!(
                "{name} {from} is installed and the profile asks for {wanted}, a downgrade; Kubernetes does not support downgrades (version-skew policy)"
            ),
            Move::Skip => format!(
                "{name} {from} is installed and the profile asks for {wanted}, which skips {}; Kubernetes upgrades go one minor at a time (version-skew policy): upgrade to the latest {}.{}.x first",
                skipped(*from, wanted),
                from.major,
                from.minor + 1
            ),
        };
        if force {
            notes.push(format!(
                "{problem}; going ahead because packages.force = true"
            ));
        } else {
            return Err(Refused { problem, wanted });
        }
    }
    Ok(notes)
}

fn skipped(from: KubeVersion, to: KubeVersion) -> String {
    if from.major != to.major {
        return format!("a major version ({} to {})", from.major, to.major);
    }
    let minors: Vec<String> = (from.minor + 1..to.minor)
        .map(|m| format!("{}.{m}", from.major))
        .collect();
    minors.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    #[test]
    fn moves() {
        assert_eq!(classify(v("1.31.4"), v("1.31.4")), Move::Same);
        assert_eq!(classify(v("1.31.2"), v("1.31.4")), Move::Patch);
        assert_eq!(classify(v("1.30.9"), v("1.31.0")), Move::NextMinor);
        assert_eq!(classify(v("1.31.4"), v("1.31.3")), Move::Downgrade);
        assert_eq!(classify(v("1.31.4"), v("1.30.9")), Move::Downgrade);
        assert_eq!(classify(v("1.29.0"), v("1.31.0")), Move::Skip);
    }

    #[test]
    fn refusals_and_force() {
        let err = check(&[("kubeadm", v("1.29.3"))], v("1.31.4"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("skips 1.30"), "{err}");
        assert!(err.contains("upgrade to the latest 1.30.x first"), "{err}");
        assert!(err.contains("packages.force = true"), "{err}");
        let err = check(&[("kubelet", v("1.31.4"))], v("1.31.2"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a downgrade"), "{err}");
        let notes = check(&[("kubelet", v("1.31.4"))], v("1.30.2"), true).unwrap();
        assert!(notes[0].contains("going ahead"), "{notes:?}");
        let notes = check(&[("kubeadm", v("1.30.4"))], v("1.31.0"), false).unwrap();
        assert!(notes[0].contains("kubeadm upgrade node"), "{notes:?}");
    }
}
