//! The cluster CA a first control plane generates, and the join secrets' value types it
//! shares with the profile ([`crate::values::secret`]).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::values::Cause;
use crate::values::secret::{CaHash, REDACTED, SecretError, random_bytes};

/// A cluster CA: certificate and private key, both PEM.
#[derive(Clone)]
pub struct Ca {
    /// The certificate (public).
    pub cert_pem: String,
    /// The PKCS#8 private key (secret).
    pub key_pem: String,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ca {{ key: {REDACTED} }}")
    }
}

/// An ECDSA P-256 key that rcgen signs with (pure Rust, so the musl build needs no C).
struct CaKey {
    key: p256::ecdsa::SigningKey,
    public: Vec<u8>,
}

impl rcgen::PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.key.sign(msg);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// How long a generated CA is valid: ten years, kubeadm's default for its own CA.
const CA_VALIDITY_SECS: i64 = 10 * 365 * 24 * 3600;
/// Backdating of the CA's start, so nodes with a slightly slow clock accept it (kubeadm
/// backdates by five minutes as well).
const CA_BACKDATE_SECS: i64 = 5 * 60;

impl Ca {
    /// A new self-signed ECDSA P-256 CA named `kubernetes`, valid ten years from `now_unix`
    /// (seconds since the epoch; the caller reads the clock).
    pub fn generate(now_unix: i64) -> Result<Ca, SecretError> {
        let cert_err = |e: Cause| SecretError::Certificate(e);
        let key = loop {
            // A random 32-byte string is a valid scalar with overwhelming probability.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&random_bytes::<32>()?) {
                break key;
            }
        };
        let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| cert_err(e.into()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kubernetes");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_bytes::<16>()?));
        // RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the public key.
        params.key_identifier_method =
            rcgen::KeyIdMethod::PreSpecified(Sha256::digest(&public)[..20].to_vec());
        let at = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| cert_err(e.into()))
        };
        params.not_before = at(now_unix - CA_BACKDATE_SECS)?;
        params.not_after = at(now_unix + CA_VALIDITY_SECS)?;
        let signer = CaKey { key, public };
        let cert = params
            .self_signed(&signer)
            .map_err(|e| cert_err(e.into()))?;
        let key_pem = {
            use p256::pkcs8::EncodePrivateKey;
            signer
                .key
                .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| cert_err(e.into()))?
                .to_string()
        };
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem,
        })
    }

    /// The hash workers pin this CA with.
    pub fn hash(&self) -> Result<CaHash, SecretError> {
        CaHash::of_pem(&self.cert_pem, "the generated CA certificate")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::secret::hex;
    use sha2::{Digest, Sha256};

    #[test]
    fn generated_ca_is_a_ca_and_its_hash_is_not_over_the_whole_certificate() {
        let ca = Ca::generate(1_790_000_000).unwrap();
        let hash = ca.hash().unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert!(cert.is_ca());
        assert_eq!(cert.subject().to_string(), "CN=kubernetes");
        assert_ne!(
            hash.to_string(),
            format!("sha256:{}", hex(&Sha256::digest(&pem.contents))),
            "not the hash of the whole certificate"
        );
        assert!(ca.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(CaHash::of_pem("not pem", "x").is_err());
    }
}
