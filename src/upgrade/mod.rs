//! `bootstrap upgrade`: this node's part of a kubeadm cluster upgrade to the profile's
//! `kubernetes.version`, one minor at a time, as engine steps (one per phase, see
//! [`phases`]); the policy ([`policy`]) is checked before anything changes; a run killed at
//! any phase continues where it stopped ([`journal`]). Also `bootstrap drain|uncordon`.

pub mod error;
pub mod journal;
pub mod maintain;
pub mod observe;
pub mod packages;
pub mod phases;
pub mod policy;
pub mod work;

pub use error::UpgradeError;
