//! Cluster formation with kubeadm: the configuration types (v1beta3 and v1beta4) and their
//! rendering from the profile, the join secrets and their bundle, membership detection,
//! bounded retries, and the diagnosis of failures.

pub mod bundle;
pub mod config;
pub mod diagnose;
pub mod kube_vip;
pub mod pause;
pub mod render;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod static_pods;
pub mod yaml;
