//! Why a download failed ([`DownloadError`]: every message names the file and the URL, the
//! cause kept) and which failures another attempt may cure ([`DownloadError::transient`]).

use crate::values::redact_userinfo;

/// Why a download failed. Every message names the file and the URL.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The HTTP client could not be set up (bad proxy URL).
    #[error("cannot set up downloads: {0}")]
    Setup(String),
    /// The server answered with an error status.
    #[error("cannot download {file} from {url}: the server answered HTTP {status}{hint}")]
    Status {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// What to check.
        hint: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot download {file} from {url}: {reason}")]
    Network {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The cause chain.
        reason: String,
    },
    /// The body ended before its announced length.
    #[error("download of {file} from {url} was cut short: got {got} of {expected} bytes")]
    Truncated {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// The file does not hash to its published checksum.
    #[error(
        "{file} from {url} does not match its checksum: expected sha256 {expected}, got {actual}; the download or the mirror is corrupt (the file was discarded)"
    )]
    Checksum {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// Published digest.
        expected: String,
        /// Digest of what arrived.
        actual: String,
    },
    /// The checksum file is not a digest.
    #[error("the checksum file of {file} at {url} is not a sha256 digest: {reason}")]
    BadChecksumFile {
        /// File name.
        file: String,
        /// URL of the checksum file.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A body larger than any release file.
    #[error(
        "{file} from {url} is larger than {limit} bytes, more than any release file: check the URL and the mirror (the partial download was discarded)"
    )]
    Oversize {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// A larger-than-expected small file (checksum, key).
    #[error("{file} from {url} is larger than {limit} bytes; that is not a checksum or key file")]
    TooLarge {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Writing the download failed (disk full, permissions).
    #[error("cannot write {path} while downloading {file} from {url}: {source}")]
    Io {
        /// File name.
        file: String,
        /// URL.
        url: String,
        /// The real path written.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Transient failures until the attempts ran out.
    #[error("{last} (gave up after {attempts} attempts)")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<DownloadError>,
    },
}

impl DownloadError {
    /// Whether another attempt may succeed.
    pub(super) fn transient(&self) -> bool {
        match self {
            DownloadError::Status { status, .. } => *status >= 500 || *status == 429,
            DownloadError::Network { .. }
            | DownloadError::Truncated { .. }
            | DownloadError::Checksum { .. } => true,
            _ => false,
        }
    }
}

/// The causes of an error, outermost first, joined (reqwest hides "connection refused" deep).
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    redact_userinfo(&parts.join(": "))
}

pub(super) fn status_hint(status: u16) -> String {
    match status {
        404 => "; the file is not there: check that this version is published and that the base URL in [packages] is right".into(),
        401 | 403 => "; access denied: check the mirror's permissions or the proxy".into(),
        s if s >= 500 => "; the server failed, try again later".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors() {
        let status = |status| DownloadError::Status {
            file: "f".into(),
            url: "u".into(),
            status,
            hint: status_hint(status),
        };
        assert!(status(503).transient());
        assert!(status(429).transient());
        assert!(!status(404).transient());
        assert!(
            status(404)
                .to_string()
                .contains("check that this version is published")
        );
        let gave_up = DownloadError::GaveUp {
            attempts: 4,
            last: Box::new(status(500)),
        };
        assert!(gave_up.to_string().ends_with("(gave up after 4 attempts)"));
        assert!(!gave_up.transient());
    }
}
