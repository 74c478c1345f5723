//! The one list of `kubeadm join` failure patterns, shared by the diagnosis (which names
//! the cause) and the join retry (which retries only a control plane that did not answer
//! yet). The messages are kubeadm's own: discovery's `couldn't validate the identity of the
//! API Server` and the CA pin check's `none of the public keys ... are pinned`
//! (`cmd/kubeadm/app/discovery/token`, `cmd/kubeadm/app/util/pubkeypin`), the bootstrap
//! token's JWS check (`could not find a JWS signature in the cluster-info ConfigMap for
//! token ID`), and the certificate download of a joining control plane
//! (`cmd/kubeadm/app/phases/copycerts`: `error downloading certs`, the `kubeadm-certs`
//! Secret, `decoding certificate key`).

/// Why discovery failed, when kubeadm's last lines say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinFailure {
    /// The API server answered, but its CA is not the one pinned by the CA hash.
    CaHashMismatch,
    /// The API server answered, but knows no valid token with this ID.
    TokenRejected,
    /// The control plane did not answer (yet): the one failure worth retrying.
    Unreachable,
}

/// The CA pin check failed.
const CA_HASH: [&str; 2] = ["none of the public keys", "pinned"];
/// The bootstrap token is unknown or expired.
const TOKEN: [&str; 4] = [
    "JWS signature",
    "token id",
    "invalid bootstrap token",
    "has expired",
];
/// The API server did not answer.
const UNREACHABLE: [&str; 4] = [
    "couldn't validate the identity of the API Server",
    "connection refused",
    "no route to host",
    "i/o timeout",
];
/// A joining control plane could not download the certificates uploaded by `init`.
const CERTS_DOWNLOAD: [&str; 3] = [
    "error downloading certs",
    "decoding certificate key",
    "kubeadm-certs",
];

fn mentions(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| text.contains(n))
}

/// What kubeadm's last lines (`tail`) say about a failed discovery. The CA and token checks
/// come first: their messages can also carry the "couldn't validate the identity" prefix of
/// an unreachable server.
pub fn classify(tail: &str) -> Option<JoinFailure> {
    if mentions(tail, &CA_HASH) {
        Some(JoinFailure::CaHashMismatch)
    } else if mentions(tail, &TOKEN) {
        Some(JoinFailure::TokenRejected)
    } else if mentions(tail, &UNREACHABLE) {
        Some(JoinFailure::Unreachable)
    } else {
        None
    }
}

/// Whether a join that failed with `tail` is worth retrying: only a control plane that did
/// not answer (yet); a wrong CA hash or token fails the same way every time.
pub fn worth_retrying(tail: &str) -> bool {
    classify(tail) == Some(JoinFailure::Unreachable)
}

/// Whether a joining control plane failed to download the certificates `init` uploaded.
pub fn certs_download_failed(tail: &str) -> bool {
    mentions(tail, &CERTS_DOWNLOAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeadms_messages() {
        assert_eq!(
            classify(
                "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"sha256:ab\" are pinned"
            ),
            Some(JoinFailure::CaHashMismatch)
        );
        assert_eq!(
            classify(
                "couldn't validate the identity of the API Server: none of the public keys \"sha256:ab\" are pinned"
            ),
            Some(JoinFailure::CaHashMismatch),
            "the CA check wins over the unreachable prefix"
        );
        assert_eq!(
            classify(
                "could not find a JWS signature in the cluster-info ConfigMap for token ID \"abcdef\""
            ),
            Some(JoinFailure::TokenRejected)
        );
        assert_eq!(
            classify(
                "couldn't validate the identity of the API Server: Get \"https://10.0.0.1:6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp 10.0.0.1:6443: connect: connection refused"
            ),
            Some(JoinFailure::Unreachable)
        );
        assert_eq!(
            classify("dial tcp 10.0.0.1:6443: i/o timeout"),
            Some(JoinFailure::Unreachable)
        );
        assert_eq!(
            classify("[ERROR FileAvailable--etc-kubernetes-kubelet.conf]"),
            None
        );
    }

    #[test]
    fn only_an_unreachable_server_is_retried() {
        assert!(worth_retrying("connect: no route to host"));
        assert!(!worth_retrying(
            "couldn't validate the identity of the API Server: could not find a JWS signature"
        ));
        assert!(!worth_retrying("none of the public keys are pinned"));
        assert!(!worth_retrying("[preflight] Some fatal errors occurred"));
    }

    #[test]
    fn certificate_download() {
        assert!(certs_download_failed(
            "error downloading certs: error decoding certificate key: encoding/hex: invalid byte"
        ));
        assert!(certs_download_failed(
            "Secret \"kubeadm-certs\" was not found"
        ));
        assert!(!certs_download_failed("connection refused"));
    }
}
