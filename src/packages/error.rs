//! Why installing the Kubernetes programs failed, each cause kept.

use crate::engine::StepError;
use crate::host::HostError;

use super::download::DownloadError;

/// Why a `packages` change could not be planned or carried out.
#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    /// A download (a release file, a checksum, the apt key) failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The skew policy refuses the version change.
    #[error(transparent)]
    Skew(#[from] super::skew::Refused),
    /// The apt method on a node without dpkg.
    #[error(
        "packages.method = \"apt\" needs dpkg-query and apt-get, which this node does not have; use method = \"binary\" or \"bundle\""
    )]
    NoDpkg {
        /// The failed start of dpkg-query.
        #[source]
        source: crate::host::RunError,
    },
    /// The bundle could not be read, or a file in it is missing or corrupt.
    #[error(transparent)]
    Bundle(#[from] super::bundle::BundleError),
    /// The repository signing key is not an OpenPGP key apt can use.
    #[error("the repository signing key from {url} is not usable: {why}")]
    Key {
        /// Where it came from.
        url: String,
        /// What is wrong with it.
        #[source]
        why: crate::formats::armor::ArmorError,
    },
    /// kubectl could not print its completion.
    #[error("`{command}` failed after kubectl was installed: {tail}")]
    Completion {
        /// The command.
        command: String,
        /// The end of its output.
        tail: String,
    },
    /// A staged program could not be made executable to ask its version.
    #[error("cannot make {path} executable: {source}")]
    Executable {
        /// The staged file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A staged program reports another version than the profile asks for.
    #[error(
        "the downloaded {file} reports {found} but the profile asks for {wanted}; the mirror or bundle holds the wrong release (nothing was installed)"
    )]
    WrongRelease {
        /// The file.
        file: String,
        /// What it reported.
        found: String,
        /// The profile's version.
        wanted: String,
    },
    /// A staged file changed between its verification and its install.
    #[error(
        "{path} changed after it was verified (sha256 {actual}, expected {expected}); run apply again"
    )]
    Changed {
        /// The staged file.
        path: String,
        /// Its digest now.
        actual: String,
        /// Its digest when verified.
        expected: String,
    },
    /// A tarball could not be read.
    #[error("{file} is not a valid .tar.gz: {source}")]
    Tarball {
        /// The tarball.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cri-tools tarball holds no crictl.
    #[error("{file} holds no `crictl` file")]
    NoCrictl {
        /// The tarball.
        file: String,
    },
    /// An install change ran without the change that stages its file.
    #[error("{file} was not staged: the change that downloads and verifies it did not run")]
    NotStaged {
        /// The file.
        file: String,
    },
    /// The node could not be read or changed.
    #[error(transparent)]
    Host(#[from] HostError),
}

impl From<PackagesError> for StepError {
    fn from(error: PackagesError) -> Self {
        match error {
            PackagesError::Host(host) => StepError::Host(host),
            other => StepError::Cause(Box::new(other)),
        }
    }
}
