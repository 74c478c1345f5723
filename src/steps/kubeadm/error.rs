//! Why the `kubeadm` step failed, each cause kept.

use crate::engine::StepError;
use crate::host::HostError;
use crate::kube::bundle::BundleError;
use crate::kube::render::RenderError;
use crate::kube::yaml::YamlError;

/// Why a `kubeadm` change could not be planned or carried out.
#[derive(Debug, thiserror::Error)]
pub enum KubeadmError {
    /// The secrets bundle could not be read.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The configuration could not be rendered from the profile and the bundle.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A rendering could not be written as YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// kubeadm failed; the report is the diagnosis of the node (see `kube::diagnose`).
    #[error("{report}")]
    Diagnosed {
        /// What went wrong, the evidence and the remedy.
        report: String,
        /// The failed run.
        #[source]
        source: HostError,
    },
    /// Every join attempt failed.
    #[error("gave up after {attempts} join attempts (kubeadm.discovery.attempts)\n{source}")]
    GaveUp {
        /// How many were made.
        attempts: u32,
        /// Why the last failed.
        #[source]
        source: Box<StepError>,
    },
    /// kubeadm printed no join command that parses.
    #[error("`kubeadm token create --print-join-command` printed no usable join command: {why}")]
    JoinCommand {
        /// What is wrong with it.
        why: String,
    },
    /// admin.conf is missing after init.
    #[error("/etc/kubernetes/admin.conf does not exist, so there is nothing to copy for {user}")]
    NoAdminConf {
        /// The user.
        user: String,
    },
    /// The CNI manifest could not be downloaded.
    #[error("cannot download the {name} manifest from {url}: {tail}")]
    CniDownload {
        /// The add-on.
        name: String,
        /// Its URL.
        url: String,
        /// curl's last words.
        tail: String,
    },
    /// The CNI manifest file is missing.
    #[error("the {name} manifest {path} does not exist on the node")]
    CniMissing {
        /// The add-on.
        name: String,
        /// The node path.
        path: String,
    },
    /// The CNI section names no manifest.
    #[error("kubeadm.cni needs manifest or url")]
    CniSource,
    /// The CNI manifest does not match its pin.
    #[error(
        "the {name} manifest has sha256 {actual}, but the profile pins {want}; nothing was applied (check the URL or update kubeadm.cni.sha256 after reviewing the manifest)"
    )]
    CniDigest {
        /// The add-on.
        name: String,
        /// Its digest.
        actual: String,
        /// The pinned digest.
        want: String,
    },
    /// The node did not become Ready in time.
    #[error(
        "node {node} was not Ready after {checks} checks (last: {last}); see `kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -A` for the CNI and CoreDNS pods"
    )]
    NotReady {
        /// The node.
        node: String,
        /// How many checks were made.
        checks: u32,
        /// The last answer.
        last: String,
    },
}

impl From<KubeadmError> for StepError {
    fn from(error: KubeadmError) -> Self {
        StepError::Cause(Box::new(error))
    }
}
