//! What can go wrong with etcd snapshots and restores, each naming the file or command.

use crate::host::HostError;

use super::manifest::ManifestError;

/// Why an etcd command failed.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No etcd manifest: not a control plane with local (stacked) etcd.
    #[error(
        "{path} does not exist: run this on a control plane whose etcd kubeadm runs as a static pod (stacked etcd)"
    )]
    NotControlPlane {
        /// The manifest's node path.
        path: String,
    },
    /// The manifest is not what kubeadm writes.
    #[error("{path}: {source}")]
    Manifest {
        /// The manifest's node path.
        path: String,
        /// What is wrong.
        source: ManifestError,
    },
    /// A certificate or key etcdctl needs is missing.
    #[error(
        "{what} not found (looked for {looked}); kubeadm creates it with `kubeadm init phase certs etcd-healthcheck-client`"
    )]
    MissingCertificate {
        /// Which credential.
        what: &'static str,
        /// The node paths tried.
        looked: String,
    },
    /// The node could not be read or written, or a program not run.
    #[error(transparent)]
    Host(#[from] HostError),
    /// etcdctl or etcdutl failed.
    #[error("`{command}` failed (exit {code}): {tail}")]
    Tool {
        /// The command line.
        command: String,
        /// Its exit code.
        code: String,
        /// Its last lines of output.
        tail: String,
    },
    /// The snapshot's integrity check failed.
    #[error("{path}: {reason}; this snapshot cannot be trusted, use another one")]
    Corrupt {
        /// The snapshot's node path.
        path: String,
        /// What the check found.
        reason: String,
    },
    /// A path that must not exist does.
    #[error("{path} already exists; {advice}")]
    Exists {
        /// The node path.
        path: String,
        /// What to do.
        advice: &'static str,
    },
    /// A value given on the command line cannot be used.
    #[error("{0}")]
    Usage(String),
    /// etcd did not answer healthy in time.
    #[error("etcd at {endpoint} did not answer healthy within {waited}; {advice}")]
    Unhealthy {
        /// The client URL.
        endpoint: String,
        /// How long was waited.
        waited: String,
        /// What to look at.
        advice: String,
    },
}
