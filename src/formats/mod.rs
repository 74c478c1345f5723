//! Pure parsers and renderers for the files the agent reads and edits. No I/O here:
//! every function takes text and returns text or data, so every edit is unit-testable.

pub mod apt_sources;
pub mod armor;
pub mod checksums;
pub mod containerd_config;
pub mod crictl;
pub mod diff;
pub mod dpkg_query;
pub mod fstab;
pub mod hosts;
pub mod kubelet_env;
pub mod lines;
pub mod modules_load;
pub mod proc_swaps;
pub mod registry_hosts;
pub mod sysctl_conf;
pub mod unit_install;

#[cfg(test)]
mod format_props;
