//! The cluster secrets bundle made ahead of time by `bootstrap secrets generate`: one
//! directory that every node's profile references, so all nodes can boot at once.
//!
//! Layout (each file one value; a node reads only what its role needs, so a worker's copy
//! may hold just `token` and `ca-cert-hash`):
//! - `ca.crt` (0644): the cluster CA certificate, placed in /etc/kubernetes/pki before init;
//! - `ca.key` (0600): its private key (first control plane only);
//! - `token` (0600): the bootstrap token;
//! - `certificate-key` (0600): the key for `--upload-certs` (control planes only);
//! - `ca-cert-hash` (0644): `sha256:…` of the CA's public key, for discovery.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::secrets::Ca;
use crate::host::{Host, HostError};
use crate::values::secret::{CaHash, CertificateKey, SecretError, Token};

/// The CA certificate file of a bundle.
pub const CA_CERT: &str = "ca.crt";
/// The CA key file of a bundle.
pub const CA_KEY: &str = "ca.key";
/// The bootstrap token file of a bundle.
pub const TOKEN: &str = "token";
/// The certificate key file of a bundle.
pub const CERTIFICATE_KEY: &str = "certificate-key";
/// The CA hash file of a bundle.
pub const CA_CERT_HASH: &str = "ca-cert-hash";

/// The bundle files a node needs for its part: the node that runs `kubeadm init` needs the
/// CA (certificate and key) and the token, plus the certificate key when other control
/// planes will join; a joining node needs the token and the CA hash, plus the certificate
/// key on a control plane. Without one of them kubeadm would quietly make its own (a
/// random token the workers never learn), so a missing file is an error.
pub fn required(init: bool, control_plane: bool, control_planes: u32) -> Vec<&'static str> {
    match (init, control_plane) {
        (true, _) if control_planes > 1 => vec![CA_CERT, CA_KEY, TOKEN, CERTIFICATE_KEY],
        (true, _) => vec![CA_CERT, CA_KEY, TOKEN],
        (false, true) => vec![TOKEN, CA_CERT_HASH, CERTIFICATE_KEY],
        (false, false) => vec![TOKEN, CA_CERT_HASH],
    }
}

/// The node paths of the `files` missing from the bundle directory `dir`.
pub fn missing(host: &Host, dir: &str, files: &[&str]) -> Vec<String> {
    files
        .iter()
        .map(|f| format!("{}/{f}", dir.trim_end_matches('/')))
        .filter(|p| !host.exists(p))
        .collect()
}

/// What a bundle holds; a file missing from the directory is `None`.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// The CA certificate and key, when both are present.
    pub ca: Option<Ca>,
    /// The CA certificate alone (always set when `ca` is).
    pub ca_cert: Option<String>,
    /// The bootstrap token.
    pub token: Option<Token>,
    /// The certificate key.
    pub certificate_key: Option<CertificateKey>,
    /// The CA hash.
    pub ca_cert_hash: Option<CaHash>,
}

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Generating a secret failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Reading through the host failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// A local file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The directory already holds a bundle.
    #[error(
        "{0} already exists; a bundle is never overwritten (nodes of a running cluster depend on it): choose another --out directory"
    )]
    Exists(String),
    /// Files this node's part needs are not in the bundle directory.
    #[error(
        "the secrets bundle lacks {} that {who} needs: copy the whole bundle made by `bootstrap secrets generate` to {dir} (or make one with `bootstrap secrets generate --out DIR`)",
        files.join(", ")
    )]
    Missing {
        /// The bundle directory.
        dir: String,
        /// The node paths of the missing files.
        files: Vec<String>,
        /// The node's part, for the message.
        who: &'static str,
    },
    /// A file of the bundle holds a value in the wrong format.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong (never the value itself).
        #[source]
        source: crate::values::Invalid,
    },
    /// The CA hash file does not pin the bundle's CA certificate.
    #[error(
        "{path}: holds {pinned}, but {cert} hashes to {actual}: the files come from different bundles"
    )]
    Mismatch {
        /// The CA hash file.
        path: String,
        /// The hash it holds.
        pinned: CaHash,
        /// The CA certificate file.
        cert: String,
        /// The hash of that certificate.
        actual: CaHash,
    },
}

impl Bundle {
    /// A complete new bundle: CA, token, certificate key and CA hash. `now_unix` dates the
    /// CA (the caller reads the clock).
    pub fn generate(now_unix: i64) -> Result<Bundle, BundleError> {
        let ca = Ca::generate(now_unix)?;
        Ok(Bundle {
            ca_cert_hash: Some(ca.hash()?),
            ca_cert: Some(ca.cert_pem.clone()),
            ca: Some(ca),
            token: Some(Token::generate()?),
            certificate_key: Some(CertificateKey::generate()?),
        })
    }

    /// The files of the bundle with their contents and modes.
    fn files(&self) -> Vec<(&'static str, String, u32)> {
        let mut files = Vec::new();
        if let Some(cert) = &self.ca_cert {
            files.push((CA_CERT, cert.clone(), 0o644));
        }
        if let Some(ca) = &self.ca {
            files.push((CA_KEY, ca.key_pem.clone(), 0o600));
        }
        if let Some(token) = &self.token {
            files.push((TOKEN, format!("{}\n", token.expose()), 0o600));
        }
        if let Some(key) = &self.certificate_key {
            files.push((CERTIFICATE_KEY, format!("{}\n", key.expose()), 0o600));
        }
        if let Some(hash) = &self.ca_cert_hash {
            files.push((CA_CERT_HASH, format!("{hash}\n"), 0o644));
        }
        files
    }

    /// Writes the bundle into a new or empty local directory `dir` (created 0700), each
    /// secret file 0600 from the moment it exists. Refuses to replace any bundle file.
    /// Returns the files written.
    pub fn write_new(&self, dir: &Path) -> Result<Vec<PathBuf>, BundleError> {
        let io = |op, path: &Path| {
            let path = path.display().to_string();
            move |source| BundleError::Io { op, path, source }
        };
        let files = self.files();
        for (name, _, _) in &files {
            let path = dir.join(name);
            if fs::symlink_metadata(&path).is_ok() {
                return Err(BundleError::Exists(path.display().to_string()));
            }
        }
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(io("cannot set mode of", dir))?;
        }
        let files: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(name, contents, mode)| (*name, contents.as_bytes(), *mode))
            .collect();
        crate::host::create_new_files(&crate::host::Disk::default(), dir, &files)
            .map_err(|e| io(e.op, &e.path)(e.source))
    }

    /// Reads the bundle in node directory `dir` through the host. Files may be missing (a
    /// worker's copy holds only what workers need); present ones must be well formed, and
    /// `ca-cert-hash` must match `ca.crt` when both are there.
    pub fn read(host: &Host, dir: &str) -> Result<Bundle, BundleError> {
        let path = |name: &str| format!("{}/{name}", dir.trim_end_matches('/'));
        let read =
            |name: &str| -> Result<Option<String>, BundleError> { Ok(host.read(&path(name))?) };
        let token: Option<Token> = parse_value(&path(TOKEN), read(TOKEN)?)?;
        let certificate_key: Option<CertificateKey> =
            parse_value(&path(CERTIFICATE_KEY), read(CERTIFICATE_KEY)?)?;
        let ca_cert_hash: Option<CaHash> = parse_value(&path(CA_CERT_HASH), read(CA_CERT_HASH)?)?;
        if let Some(t) = &token {
            host.add_secret(t.expose());
            host.add_secret(t.secret_part());
        }
        if let Some(k) = &certificate_key {
            host.add_secret(k.expose());
        }
        let ca_cert = read(CA_CERT)?;
        let ca_key = read(CA_KEY)?;
        if let Some(key) = &ca_key {
            for line in key.lines().filter(|l| !l.starts_with("-----")) {
                host.add_secret(line.trim());
            }
        }
        if let Some(cert) = &ca_cert {
            let actual = CaHash::of_pem(cert, &path(CA_CERT))?;
            if let Some(pinned) = &ca_cert_hash
                && *pinned != actual
            {
                return Err(BundleError::Mismatch {
                    path: path(CA_CERT_HASH),
                    pinned: pinned.clone(),
                    cert: path(CA_CERT),
                    actual,
                });
            }
        }
        let ca = match (&ca_cert, ca_key) {
            (Some(cert), Some(key)) => Some(Ca {
                cert_pem: cert.clone(),
                key_pem: key,
            }),
            _ => None,
        };
        Ok(Bundle {
            ca,
            ca_cert,
            token,
            certificate_key,
            ca_cert_hash,
        })
    }
}

/// Parses the trimmed text of a bundle file, naming the file (not the value) on error.
fn parse_value<T: std::str::FromStr<Err = crate::values::Invalid>>(
    path: &str,
    text: Option<String>,
) -> Result<Option<T>, BundleError> {
    text.map(|t| {
        t.trim().parse().map_err(|source| BundleError::Invalid {
            path: path.to_string(),
            source,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn generate_write_read_round_trip_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("etc/bootstrap/cluster");
        let bundle = Bundle::generate(1_790_000_000).unwrap();
        let written = bundle.write_new(&out).unwrap();
        assert_eq!(written.len(), 5);
        let mode = |name: &str| fs::metadata(out.join(name)).unwrap().mode() & 0o777;
        assert_eq!(mode(CA_KEY), 0o600);
        assert_eq!(mode(TOKEN), 0o600);
        assert_eq!(mode(CERTIFICATE_KEY), 0o600);
        assert_eq!(mode(CA_CERT), 0o644);
        assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o700);
        let err = bundle.write_new(&out).unwrap_err();
        assert!(err.to_string().contains("never overwritten"), "{err}");

        let host = Host::new(dir.path().to_path_buf());
        let read = Bundle::read(&host, "/etc/bootstrap/cluster").unwrap();
        assert_eq!(read.token, bundle.token);
        assert_eq!(read.certificate_key, bundle.certificate_key);
        assert_eq!(read.ca_cert_hash, bundle.ca_cert_hash);
        assert!(read.ca.is_some());
        let token = bundle.token.unwrap();
        assert_eq!(host.redact(token.expose()), "<redacted>");

        // A hash from another bundle is caught.
        fs::write(
            out.join(CA_CERT_HASH),
            format!("sha256:{}\n", "0".repeat(64)),
        )
        .unwrap();
        let err = Bundle::read(&host, "/etc/bootstrap/cluster").unwrap_err();
        assert!(err.to_string().contains("different bundles"), "{err}");
        // A malformed token names the file, not the value.
        fs::write(out.join(TOKEN), "secret-but-wrong\n").unwrap();
        let err = Bundle::read(&host, "/etc/bootstrap/cluster").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cluster/token: invalid bootstrap token"),
            "{text}"
        );
        assert!(!text.contains("secret-but-wrong"));
    }

    #[test]
    fn a_worker_copy_may_hold_only_token_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let b = Bundle::generate(1_790_000_000).unwrap();
        let worker = Bundle {
            token: b.token.clone(),
            ca_cert_hash: b.ca_cert_hash.clone(),
            ..Bundle::default()
        };
        worker.write_new(&dir.path().join("b")).unwrap();
        let host = Host::new(dir.path().to_path_buf());
        let read = Bundle::read(&host, "/b").unwrap();
        assert!(read.ca.is_none() && read.certificate_key.is_none());
        assert_eq!(read.token, b.token);
    }
}
