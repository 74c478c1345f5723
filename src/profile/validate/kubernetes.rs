//! `[kubernetes]`: a version in the supported range.

use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::kubernetes::{CURRENT_RELEASE, NEWEST_MINOR, OLDEST_MINOR, supported};
use crate::profile::locate::keys;

/// The problem with an unsupported `kubernetes.version`, for validation.
pub(super) fn validate(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let Some(k8s) = &profile.kubernetes else {
        return;
    };
    if !supported(k8s.version) {
        out.push(
            Diagnostic::at(
                keys(&["kubernetes", "version"]),
                format!("Kubernetes {} is outside the supported range", k8s.version),
            )
            .expected(format!(
                "a release from 1.{OLDEST_MINOR}.0 to 1.{NEWEST_MINOR}.x (pkgs.k8s.io packages, a kubeadm configuration this agent renders)"
            ))
            .help(format!("use a current release such as {CURRENT_RELEASE}")),
        );
    }
}
