//! Certificate expiry, pure: the first certificate of a PEM text, the client certificate a
//! kubeconfig names (embedded or as a file), and which certificates expire within a window.

use base64::Engine;

/// One certificate and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The node path (and for a kubeconfig, which user).
    pub source: String,
    /// The subject, as OpenSSL prints it (`CN=kube-apiserver`).
    pub subject: String,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
}

/// The first `CERTIFICATE` block of a PEM text (a leaf comes first in a chain, and
/// `kubelet-client-current.pem` holds the certificate and its key).
pub fn first_certificate(source: &str, pem: &[u8]) -> Result<CertInfo, String> {
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| format!("not PEM: {e}"))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        return Ok(CertInfo {
            source: source.to_string(),
            subject: cert.subject().to_string(),
            not_after: cert.validity().not_after.timestamp(),
        });
    }
    Err("no CERTIFICATE block".into())
}

/// Where a kubeconfig user's client certificate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCert {
    /// `client-certificate-data`: the PEM itself.
    Embedded(Vec<u8>),
    /// `client-certificate`: a file (the kubelet's rotating certificate in kubelet.conf).
    File(String),
}

/// The client certificate of each user of a kubeconfig, with the user's name.
pub fn kubeconfig_client_certs(text: &str) -> Result<Vec<(String, ClientCert)>, String> {
    let doc: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut out = Vec::new();
    for user in doc["users"].as_sequence().into_iter().flatten() {
        let name = user["name"].as_str().unwrap_or("?").to_string();
        let u = &user["user"];
        if let Some(data) = u["client-certificate-data"].as_str() {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| format!("user {name}: client-certificate-data is not base64: {e}"))?;
            out.push((name, ClientCert::Embedded(pem)));
        } else if let Some(file) = u["client-certificate"].as_str() {
            out.push((name, ClientCert::File(file.to_string())));
        }
    }
    Ok(out)
}

/// Days from `now` to `not_after`, a part of a day counting as one (a certificate made
/// for 10 days says 10 in its first day); zero or negative once expired.
pub fn days_left(cert: &CertInfo, now: i64) -> i64 {
    (cert.not_after - now + 86_399).div_euclid(86_400)
}

/// A sentence for each certificate expired or expiring within `window_days` of `now`.
pub fn findings(certs: &[CertInfo], now: i64, window_days: i64, renew: &str) -> Vec<String> {
    certs
        .iter()
        .filter(|c| c.not_after - now < window_days * 86_400)
        .map(|c| {
            let when = time::OffsetDateTime::from_unix_timestamp(c.not_after)
                .map(|t| t.date().to_string())
                .unwrap_or_default();
            if c.not_after <= now {
                format!(
                    "certificate {} ({}) EXPIRED on {when}; {renew}",
                    c.source, c.subject
                )
            } else {
                format!(
                    "certificate {} ({}) expires on {when}, in {} days (within {window_days}); {renew}",
                    c.source,
                    c.subject,
                    days_left(c, now)
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_after: i64) -> CertInfo {
        CertInfo {
            source: "/etc/kubernetes/pki/apiserver.crt".into(),
            subject: "CN=kube-apiserver".into(),
            not_after,
        }
    }

    #[test]
    fn the_window_is_exact_and_expired_is_said() {
        let now = 1_796_141_715;
        let day = 86_400;
        let f = findings(
            &[
                cert(now + 31 * day),
                cert(now + 30 * day - 1),
                cert(now - 1),
            ],
            now,
            30,
            "run `bootstrap certs renew`",
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].contains("in 30 days (within 30)"), "{f:?}");
        assert!(f[1].contains("EXPIRED on 2026-12-01"), "{f:?}");
    }

    #[test]
    fn kubeconfigs_name_embedded_and_file_certificates() {
        let text = "apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: aGVsbG8=\n    client-key-data: c2VjcmV0\n- name: default-auth\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n";
        let users = kubeconfig_client_certs(text).unwrap();
        assert_eq!(
            users,
            [
                (
                    "kubernetes-admin".to_string(),
                    ClientCert::Embedded(b"hello".to_vec())
                ),
                (
                    "default-auth".to_string(),
                    ClientCert::File("/var/lib/kubelet/pki/kubelet-client-current.pem".into())
                ),
            ]
        );
        assert!(first_certificate("x", b"hello").is_err());
    }
}
