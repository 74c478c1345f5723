//! Why a step (other than `kubeadm`, which has its own) failed on another error, the cause
//! kept.

use crate::engine::StepError;
use crate::formats::containerd_config::ConfigError;
use crate::formats::hosts::HostsError;
use crate::host::HostError;
use crate::kube::yaml::YamlError;

/// A step's failure caused by another error.
#[derive(Debug, thiserror::Error)]
pub enum StepsError {
    /// /etc/hosts cannot be edited safely.
    #[error("{path} {source}")]
    Hosts {
        /// The hosts file.
        path: &'static str,
        /// Why.
        #[source]
        source: HostsError,
    },
    /// containerd's config cannot be edited.
    #[error("cannot edit {location}: {source}. The file was left untouched.")]
    ContainerdConfig {
        /// The file, with line and column for a syntax error.
        location: String,
        /// Why.
        #[source]
        source: ConfigError,
    },
    /// `kubeadm config images pull` failed.
    #[error(
        "cannot pull the Kubernetes {version} images from {repository}: a registry problem (check kubernetes.image_repository, containerd's registry mirrors and proxy, and that the node reaches the registry), found before kubeadm ran: {source}"
    )]
    Pull {
        /// The Kubernetes version (`v1.31.4`).
        version: String,
        /// The image repository.
        repository: String,
        /// The failed run.
        #[source]
        source: HostError,
    },
    /// A kubeadm configuration could not be written as YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
}

impl From<StepsError> for StepError {
    fn from(error: StepsError) -> Self {
        StepError::Cause(Box::new(error))
    }
}
