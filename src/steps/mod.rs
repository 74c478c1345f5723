//! The steps, one file each, each owning one piece of the node. Order matters: modules
//! before sysctl (bridge keys appear only once br_netfilter is loaded); preflight after the
//! packages and the runtime (it judges what they left); kubeadm last, once the node is
//! prepared.

pub mod certificates;
pub mod cgroup;
pub mod containerd;
pub mod error;
pub mod hosts;
pub mod kubeadm;
pub mod modules;
pub mod packages;
pub mod preflight;
pub mod swap;
pub mod sysctl;
pub mod sysctl_typos;
pub mod unit_files;

use crate::engine::Step;

/// Every step, in the order they run.
pub fn all() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(hosts::HostsStep),
        Box::new(modules::ModulesStep),
        Box::new(sysctl::SysctlStep),
        Box::new(swap::SwapStep),
        Box::new(packages::PackagesStep),
        Box::new(containerd::ContainerdStep),
        Box::new(cgroup::CgroupStep),
        Box::new(preflight::PreflightStep),
        Box::new(kubeadm::KubeadmStep),
        Box::new(certificates::CertificatesStep),
    ]
}

/// The names of every step, in order.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name()).collect()
}
