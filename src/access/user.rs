//! `bootstrap kubeconfig user`: a client certificate for a user, signed by the cluster CA
//! of the secrets bundle, wrapped in a kubeconfig, as `kubeadm kubeconfig user` does
//! (<https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-config/>) without
//! the cluster being up.
//!
//! Kubernetes reads the user from the certificate's common name and each organization as
//! a group (<https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates>).
//! rcgen keeps one value per attribute type in a subject, so the certificate (RFC 5280
//! section 4.1) is written here with yasna (the DER writer rcgen itself uses): version 3,
//! a random positive serial, ECDSA with SHA-256, the CA's subject as issuer, subject
//! `O=group…, CN=user` (O first, as kubeadm writes it), key usage digitalSignature and
//! keyEncipherment (critical), extended key usage clientAuth, basic constraints CA:FALSE
//! (critical) and the CA's key identifier. The key is a fresh ECDSA P-256 key.

use std::fmt;

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
use yasna::models::{GeneralizedTime, ObjectIdentifier, UTCTime};
use yasna::{DERWriter, Tag};

use crate::kube::secrets::Ca;
use crate::values::secret::{REDACTED, random_bytes};

/// Backdating of the start, for nodes with a slightly slow clock (kubeadm uses 5 minutes).
const BACKDATE_SECS: i64 = 5 * 60;

/// A user's certificate and its fresh private key (PEM).
#[derive(Clone)]
pub struct Credentials {
    /// The certificate (public).
    pub cert_pem: String,
    /// The PKCS#8 private key (secret: never printed).
    pub key_pem: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials {{ key: {REDACTED} }}")
    }
}

/// Why a user certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UserCertError {
    /// The CA certificate of the bundle does not parse.
    #[error("the bundle's CA certificate cannot be read: {0}")]
    CaCert(String),
    /// The CA key is not an ECDSA P-256 PKCS#8 key matching the certificate.
    #[error("the bundle's CA key {0} (`bootstrap secrets generate` makes an ECDSA P-256 CA)")]
    CaKey(&'static str),
    /// A name cannot go into a certificate.
    #[error("{0}")]
    Name(String),
    /// The lifetime asked for is not possible.
    #[error("{0}")]
    Lifetime(String),
    /// Randomness or key encoding failed.
    #[error("cannot make the key: {0}")]
    Key(String),
}

/// The CA parts a signature needs, read from its certificate.
struct Issuer {
    subject: Vec<u8>,
    key_id: Option<Vec<u8>>,
    not_after: i64,
}

fn read_ca(ca: &Ca) -> Result<(Issuer, p256::ecdsa::SigningKey), UserCertError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes())
        .map_err(|e| UserCertError::CaCert(e.to_string()))?;
    let (_, cert) = X509Certificate::from_der(&pem.contents)
        .map_err(|e| UserCertError::CaCert(e.to_string()))?;
    if !cert.is_ca() {
        return Err(UserCertError::CaCert("it is not a CA certificate".into()));
    }
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&ca.key_pem)
        .map_err(|_| UserCertError::CaKey("is not an ECDSA P-256 PKCS#8 key"))?;
    let public = key.verifying_key().to_sec1_point(false);
    if cert.public_key().subject_public_key.data.as_ref() != public.as_bytes() {
        return Err(UserCertError::CaKey(
            "does not belong to the CA certificate",
        ));
    }
    let key_id = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
    Ok((
        Issuer {
            subject: cert.subject().as_raw().to_vec(),
            key_id,
            not_after: cert.validity().not_after.timestamp(),
        },
        key,
    ))
}

fn oid(parts: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(parts)
}

fn write_time(w: DERWriter, secs: i64) -> Result<(), UserCertError> {
    let at = OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| UserCertError::Lifetime(e.to_string()))?;
    // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if at.year() < 2050 {
        w.write_utctime(&UTCTime::from_datetime(at));
    } else {
        w.write_generalized_time(&GeneralizedTime::from_datetime(at));
    }
    Ok(())
}

/// `O=group…, CN=user`, each attribute in its own RDN, as UTF8String.
fn write_subject(w: DERWriter, user: &str, groups: &[String]) {
    w.write_sequence(|seq| {
        let attrs = groups
            .iter()
            .map(|g| (&[2u64, 5, 4, 10][..], g.as_str()))
            .chain([(&[2u64, 5, 4, 3][..], user)]);
        for (ty, value) in attrs {
            seq.next().write_set(|set| {
                set.next().write_sequence(|atv| {
                    atv.next().write_oid(&oid(ty));
                    atv.next().write_utf8_string(value);
                })
            });
        }
    });
}

fn write_extension(seq: &mut yasna::DERWriterSeq, id: &[u64], critical: bool, value: Vec<u8>) {
    seq.next().write_sequence(|ext| {
        ext.next().write_oid(&oid(id));
        if critical {
            ext.next().write_bool(true);
        }
        ext.next().write_bytes(&value);
    });
}

fn write_extensions(w: DERWriter, issuer: &Issuer) {
    w.write_tagged(Tag::context(3), |w| {
        w.write_sequence(|seq| {
            // keyUsage: digitalSignature (bit 0) and keyEncipherment (bit 2).
            let usage = yasna::construct_der(|w| w.write_bitvec_bytes(&[0b1010_0000], 3));
            write_extension(seq, &[2, 5, 29, 15], true, usage);
            let client_auth = yasna::construct_der(|w| {
                w.write_sequence(|s| s.next().write_oid(&oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2])))
            });
            write_extension(seq, &[2, 5, 29, 37], false, client_auth);
            let not_ca = yasna::construct_der(|w| w.write_sequence(|_| {}));
            write_extension(seq, &[2, 5, 29, 19], true, not_ca);
            if let Some(id) = &issuer.key_id {
                let aki = yasna::construct_der(|w| {
                    w.write_sequence(|s| {
                        s.next()
                            .write_tagged_implicit(Tag::context(0), |w| w.write_bytes(id))
                    })
                });
                write_extension(seq, &[2, 5, 29, 35], false, aki);
            }
        })
    });
}

/// ecdsa-with-SHA256 (RFC 5758 3.2: no parameters).
fn write_signature_algorithm(w: DERWriter) {
    w.write_sequence(|s| s.next().write_oid(&oid(&[1, 2, 840, 10045, 4, 3, 2])));
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A name for a certificate: not empty, no control characters, at most 64 characters
/// (RFC 5280's upper bound for a common name and an organization name).
fn check_name(what: &str, name: &str) -> Result<(), UserCertError> {
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.chars().count() > 64 {
        return Err(UserCertError::Name(format!(
            "invalid {what} {:?}: a certificate name is 1 to 64 characters without control characters",
            name.escape_debug().to_string()
        )));
    }
    Ok(())
}

/// A certificate for `user` in `groups`, valid `days` days from `now_unix`, signed by `ca`,
/// with a fresh key.
pub fn issue(
    ca: &Ca,
    user: &str,
    groups: &[String],
    days: u32,
    now_unix: i64,
) -> Result<Credentials, UserCertError> {
    check_name("user", user)?;
    for g in groups {
        check_name("group", g)?;
    }
    if days == 0 {
        return Err(UserCertError::Lifetime("--days must be at least 1".into()));
    }
    let (issuer, ca_key) = read_ca(ca)?;
    let not_after = now_unix + i64::from(days) * 86_400;
    if not_after > issuer.not_after {
        let left = (issuer.not_after - now_unix) / 86_400;
        return Err(UserCertError::Lifetime(format!(
            "a certificate for {days} days would outlive the cluster CA, which expires in {left} days: ask for --days {left} or fewer"
        )));
    }
    let key = loop {
        let bytes = random_bytes::<32>().map_err(|e| UserCertError::Key(e.to_string()))?;
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
            break key;
        }
    };
    let spki = key
        .verifying_key()
        .to_public_key_der()
        .map_err(|e| UserCertError::Key(e.to_string()))?;
    let mut serial = random_bytes::<16>().map_err(|e| UserCertError::Key(e.to_string()))?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01 << 6;
    let tbs = yasna::try_construct_der(|w| {
        w.write_sequence(|seq| {
            seq.next().write_tagged(Tag::context(0), |w| w.write_u8(2));
            seq.next().write_bigint_bytes(&serial, true);
            write_signature_algorithm(seq.next());
            seq.next().write_der(&issuer.subject);
            seq.next().write_sequence(|v| {
                write_time(v.next(), now_unix - BACKDATE_SECS)?;
                write_time(v.next(), not_after)
            })?;
            write_subject(seq.next(), user, groups);
            seq.next().write_der(spki.as_bytes());
            write_extensions(seq.next(), &issuer);
            Ok::<(), UserCertError>(())
        })
    })?;
    let signature: p256::ecdsa::Signature = ca_key.sign(&tbs);
    let cert = yasna::construct_der(|w| {
        w.write_sequence(|seq| {
            seq.next().write_der(&tbs);
            write_signature_algorithm(seq.next());
            let sig = signature.to_der();
            seq.next()
                .write_bitvec_bytes(sig.as_bytes(), sig.as_bytes().len() * 8);
        })
    });
    let key_pem = key
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .map_err(|e| UserCertError::Key(e.to_string()))?
        .to_string();
    Ok(Credentials {
        cert_pem: pem("CERTIFICATE", &cert),
        key_pem,
    })
}

/// A kubeconfig for `user` at `server` (`https://host:port`), trusting `ca_pem`, with the
/// credentials embedded (as kubeadm writes admin.conf). Secret: write it 0600.
pub fn kubeconfig(
    server: &str,
    ca_pem: &str,
    user: &str,
    creds: &Credentials,
) -> Result<String, crate::kube::yaml::YamlError> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let context = format!("{user}@kubernetes");
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "kubernetes", "cluster": { "server": server, "certificate-authority-data": b64(ca_pem) } }],
        "contexts": [{ "name": context, "context": { "cluster": "kubernetes", "user": user } }],
        "current-context": context,
        "preferences": {},
        "users": [{ "name": user, "user": { "client-certificate-data": b64(&creds.cert_pem), "client-key-data": b64(&creds.key_pem) } }],
    });
    crate::kube::yaml::to_string(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn a_user_certificate_names_the_user_and_groups_and_is_signed_by_the_ca() {
        let ca = Ca::generate(NOW).unwrap();
        let groups = vec![
            "manager".to_string(),
            "dev ops".to_string(),
            "on".to_string(),
        ];
        let creds = issue(&ca, "jane", &groups, 30, NOW).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(creds.cert_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "O=manager, O=dev ops, O=on, CN=jane"
        );
        assert_eq!(cert.validity().not_after.timestamp(), NOW + 30 * 86_400);
        assert!(!cert.is_ca());
        assert!(format!("{creds:?}").contains(REDACTED));
        assert!(
            issue(&ca, "jane", &[], 20 * 365, NOW)
                .unwrap_err()
                .to_string()
                .contains("outlive the cluster CA")
        );
        assert!(issue(&ca, "ja\nne", &[], 1, NOW).is_err());
        let other = Ca::generate(NOW).unwrap();
        let mixed = Ca {
            cert_pem: ca.cert_pem.clone(),
            key_pem: other.key_pem,
        };
        assert!(
            issue(&mixed, "jane", &[], 1, NOW)
                .unwrap_err()
                .to_string()
                .contains("does not belong")
        );
    }
}
