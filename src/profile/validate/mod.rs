//! Checks on a parsed profile that types alone cannot express: name syntax, contradictions.
//! One file per section, above the section types (which know nothing of validation).

mod access;
mod access_rules;
mod containerd;
mod hosts;
mod kernel;
mod kubeadm;
mod kubeadm_addons;
mod kubeadm_secrets;
mod kubernetes;
mod node;
mod packages;
mod upgrade;

use super::Profile;
use super::diagnostic::Diagnostic;

/// Every problem with `profile`, in no particular order (spans are filled in by the caller).
pub fn validate(profile: &Profile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    node::check_node(profile, &mut out);
    hosts::check_hosts(profile, &mut out);
    kernel::check_kernel(profile, &mut out);
    containerd::check_containerd(profile, &mut out);
    packages::check_packages(profile, &mut out);
    kubernetes::validate(profile, &mut out);
    kubeadm::validate(profile, &mut out);
    upgrade::check_upgrade(profile, &mut out);
    access::validate(profile, &mut out);
    out
}
