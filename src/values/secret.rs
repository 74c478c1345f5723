//! Secret values: the bootstrap token, the certificate key, and the CA certificate hash that
//! pins the cluster CA. Each value type checks its format when parsed and never shows its
//! value in `Debug` output or messages; generated values come from the operating system's
//! CSPRNG. The formats and their upstream sources are in docs/kubeadm-facts.md.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::{Cause, Invalid};

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Why a secret could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The operating system's random source failed.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(#[source] getrandom::Error),
    /// The CA certificate could not be built.
    #[error("cannot build the CA certificate: {0}")]
    Certificate(#[source] Cause),
    /// A CA certificate could not be parsed.
    #[error("{what} is not a PEM-encoded X.509 certificate: {source}")]
    BadCertificate {
        /// Which file or value.
        what: String,
        /// Why.
        #[source]
        source: Cause,
    },
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(SecretError::Random)?;
    Ok(buf)
}

/// Implements `Debug` (value hidden), `Serialize` (value hidden: profiles are shown with
/// `<redacted>`) and `Deserialize` (through `FromStr`) for a secret string type.
macro_rules! secret_string {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({REDACTED})", stringify!($ty))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(REDACTED)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }

        impl $ty {
            /// The value itself, for the config file kubeadm reads. Never print it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }
    };
}

const TOKEN_CHARS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}`: a public ID and a secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);
secret_string!(Token);

const TOKEN_EXPECTED: &str =
    "6 characters a-z0-9, a dot, 16 characters a-z0-9 (like `kubeadm token generate` prints)";

impl FromStr for Token {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let ok = |part: &str, len: usize| {
            part.len() == len
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        match text.split_once('.') {
            Some((id, secret)) if ok(id, 6) && ok(secret, 16) => Ok(Token(text.to_string())),
            _ => Err(Invalid::new(
                format!(
                    "invalid bootstrap token ({} characters, value not shown)",
                    text.len()
                ),
                TOKEN_EXPECTED,
            )),
        }
    }
}

impl Token {
    /// A new token from the CSPRNG (uniform over the 36 characters by rejection sampling).
    pub fn generate() -> Result<Token, SecretError> {
        let mut chars = Vec::with_capacity(22);
        while chars.len() < 22 {
            for b in random_bytes::<32>()? {
                // 252 = 7 * 36: values above would bias the first characters.
                if b < 252 && chars.len() < 22 {
                    chars.push(TOKEN_CHARS[usize::from(b % 36)]);
                }
            }
        }
        let text = String::from_utf8_lossy(&chars).into_owned();
        Ok(Token(format!("{}.{}", &text[..6], &text[6..])))
    }

    /// The public token ID (the part before the dot).
    pub fn id(&self) -> &str {
        &self.0[..6]
    }

    /// The secret part (after the dot), registered for redaction along with the whole token.
    pub fn secret_part(&self) -> &str {
        &self.0[7..]
    }
}

/// The key that encrypts the control-plane certificates kubeadm uploads: 32 bytes, hex.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey(String);
secret_string!(CertificateKey);

impl FromStr for CertificateKey {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(CertificateKey(text.to_string()))
        } else {
            Err(Invalid::new(
                format!(
                    "invalid certificate key ({} characters, value not shown)",
                    text.len()
                ),
                "64 hex characters (32 bytes), like `kubeadm certs certificate-key` prints",
            ))
        }
    }
}

impl CertificateKey {
    /// A new key: 32 random bytes from the CSPRNG, hex encoded.
    pub fn generate() -> Result<CertificateKey, SecretError> {
        Ok(CertificateKey(hex(&random_bytes::<32>()?)))
    }
}

/// The pin of the cluster CA: `sha256:` and the hex SHA-256 of its SubjectPublicKeyInfo.
/// Public (it identifies the CA, it does not grant access), so it is shown in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaHash(String);

impl FromStr for CaHash {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let hex_part = text.strip_prefix("sha256:").unwrap_or("");
        if hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(CaHash(text.to_ascii_lowercase()))
        } else {
            Err(Invalid::new(
                format!("invalid CA certificate hash `{text}`"),
                "`sha256:` followed by 64 hex characters",
            ))
        }
    }
}

impl fmt::Display for CaHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CaHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CaHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl CaHash {
    /// The hash of a PEM CA certificate, as kubeadm computes it: SHA-256 over the DER
    /// SubjectPublicKeyInfo (not over the whole certificate).
    pub fn of_pem(cert_pem: &str, what: &str) -> Result<CaHash, SecretError> {
        let bad = |source: Cause| SecretError::BadCertificate {
            what: what.to_string(),
            source,
        };
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).map_err(|e| bad(e.into()))?;
        let cert = pem.parse_x509().map_err(|e| bad(e.into()))?;
        let digest = Sha256::digest(cert.tbs_certificate.subject_pki.raw);
        Ok(CaHash(format!("sha256:{}", hex(&digest))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_format() {
        assert!("abcdef.0123456789abcdef".parse::<Token>().is_ok());
        for bad in [
            "abcdef0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde",
            "abcdef.0123456789abcdef0",
            "abc-ef.0123456789abcdef",
            "",
        ] {
            let err = bad.parse::<Token>().unwrap_err().to_string();
            assert!(
                bad.is_empty() || !err.contains(bad),
                "the value is not shown: {err}"
            );
        }
        let t: Token = "abcdef.0123456789abcdef".parse().unwrap();
        assert_eq!(t.id(), "abcdef");
        assert_eq!(t.secret_part(), "0123456789abcdef");
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn generated_tokens_are_valid_and_differ() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert!(a.expose().parse::<Token>().is_ok(), "{}", a.expose());
        assert_ne!(a, b);
    }

    #[test]
    fn certificate_key_and_hash_formats() {
        let k = CertificateKey::generate().unwrap();
        assert_eq!(k.expose().len(), 64);
        assert!(k.expose().parse::<CertificateKey>().is_ok());
        assert!("abc".parse::<CertificateKey>().is_err());
        assert!("zz".repeat(32).parse::<CertificateKey>().is_err());
        let h = format!("sha256:{}", "ab".repeat(32));
        assert!(h.parse::<CaHash>().is_ok());
        assert!("sha1:abcd".parse::<CaHash>().is_err());
        assert!(
            format!("sha256:{}", "ab".repeat(31))
                .parse::<CaHash>()
                .is_err()
        );
    }

    /// kubeadm's own test vector (cmd/kubeadm/app/util/pubkeypin/pubkeypin_test.go in
    /// kubernetes/kubernetes: `testCertPEM` and `expectedHash`, which its comment says
    /// `openssl x509 -pubkey | openssl rsa -pubin -outform der | openssl dgst -sha256`
    /// reproduces): a value computed outside this crate, so the test cannot agree with a
    /// wrong implementation by repeating it.
    #[test]
    fn ca_hash_matches_kubeadms_own_test_vector() {
        const KUBEADM_TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDRDCCAiygAwIBAgIJAJgVaCXvC6HkMA0GCSqGSIb3DQEBBQUAMB8xHTAbBgNV
BAMTFGt1YmVhZG0ta2V5cGlucy10ZXN0MCAXDTE3MDcwNTE3NDMxMFoYDzIxMTcw
NjExMTc0MzEwWjAfMR0wGwYDVQQDExRrdWJlYWRtLWtleXBpbnMtdGVzdDCCASIw
DQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAK0ba8mHU9UtYlzM1Own2Fk/XGjR
J4uJQvSeGLtz1hID1IA0dLwruvgLCPadXEOw/f/IWIWcmT+ZmvIHZKa/woq2iHi5
+HLhXs7aG4tjKGLYhag1hLjBI7icqV7ovkjdGAt9pWkxEzhIYClFMXDjKpMSynu+
YX6nZ9tic1cOkHmx2yiZdMkuriRQnpTOa7bb03OC1VfGl7gHlOAIYaj4539WCOr8
+ACTUMJUFEHcRZ2o8a/v6F9GMK+7SC8SJUI+GuroXqlMAdhEv4lX5Co52enYaClN
+D9FJLRpBv2YfiCQdJRaiTvCBSxEFz6BN+PtP5l2Hs703ZWEkOqCByM6HV8CAwEA
AaOBgDB+MB0GA1UdDgQWBBRQgUX8MhK2rWBWQiPHWcKzoWDH5DBPBgNVHSMESDBG
gBRQgUX8MhK2rWBWQiPHWcKzoWDH5KEjpCEwHzEdMBsGA1UEAxMUa3ViZWFkbS1r
ZXlwaW5zLXRlc3SCCQCYFWgl7wuh5DAMBgNVHRMEBTADAQH/MA0GCSqGSIb3DQEB
BQUAA4IBAQCaAUif7Pfx3X0F08cxhx8/Hdx4jcJw6MCq6iq6rsXM32ge43t8OHKC
pJW08dk58a3O1YQSMMvD6GJDAiAfXzfwcwY6j258b1ZlI9Ag0VokvhMl/XfdCsdh
AWImnL1t4hvU5jLaImUUMlYxMcSfHBGAm7WJIZ2LdEfg6YWfZh+WGbg1W7uxLxk6
y4h5rWdNnzBHWAGf7zJ0oEDV6W6RSwNXtC0JNnLaeIUm/6xdSddJlQPwUv8YH4jX
c1vuFqTnJBPcb7W//R/GI2Paicm1cmns9NLnPR35exHxFTy+D1yxmGokpoPMdife
aH+sfuxT8xeTPb3kjzF9eJTlnEquUDLM
-----END CERTIFICATE-----
";
        let hash = CaHash::of_pem(KUBEADM_TEST_CERT, "kubeadm's test certificate").unwrap();
        assert_eq!(
            hash.to_string(),
            "sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3"
        );
    }
}
