//! etcd's own programs, run through the host: `etcdctl` for what talks to the server
//! (`snapshot save`, `endpoint health`), `etcdutl` for what works on files (`snapshot
//! status`, `snapshot restore`). `etcdctl snapshot status|restore` were deprecated in etcd
//! 3.5 and removed in 3.6 (etcd-io/etcd `CHANGELOG/CHANGELOG-3.5.md`, `etcdutl/README.md`),
//! so `etcdctl` is used for those only where no `etcdutl` is installed (etcd 3.4).
//!
//! Why the programs rather than a Rust client: they are what the operator's runbooks and
//! etcd's recovery guide use (<https://etcd.io/docs/v3.5/op-guide/recovery/>), they come
//! with the etcd version the cluster runs, and restore (which writes a data directory, WAL
//! and member metadata) exists only there.

use std::io::Read;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::host::{Command, Host, HostError, Output, RunError};

use super::error::EtcdError;
use super::manifest::EtcdFacts;

/// How long a snapshot save may run.
pub const SAVE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The credentials etcdctl connects with (node paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCerts {
    /// The etcd CA certificate.
    pub ca: String,
    /// A client certificate signed by the etcd CA.
    pub cert: String,
    /// Its key.
    pub key: String,
}

/// The directory part of a node path.
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

impl ClientCerts {
    /// The CA from the manifest's `--trusted-ca-file` (kubeadm mounts its etcd certificate
    /// directory at the same path in the pod), and the least privileged client certificate
    /// kubeadm makes: `etcd/healthcheck-client`, else `apiserver-etcd-client` (kubeadm
    /// `cmd/kubeadm/app/constants/constants.go`: `EtcdHealthcheckClientCertName`,
    /// `APIServerEtcdClientCertName`; both are signed by the etcd CA, `certs/certlist.go`).
    pub fn find(host: &Host, facts: &EtcdFacts) -> Result<ClientCerts, EtcdError> {
        let etcd_dir = parent(&facts.ca_file);
        if !host.exists(&facts.ca_file) {
            return Err(EtcdError::MissingCertificate {
                what: "the etcd CA certificate (--trusted-ca-file in the etcd manifest)",
                looked: facts.ca_file.clone(),
            });
        }
        let candidates = [
            format!("{etcd_dir}/healthcheck-client"),
            format!("{}/apiserver-etcd-client", parent(etcd_dir)),
        ];
        candidates
            .iter()
            .find(|base| host.exists(&format!("{base}.crt")) && host.exists(&format!("{base}.key")))
            .map(|base| ClientCerts {
                ca: facts.ca_file.clone(),
                cert: format!("{base}.crt"),
                key: format!("{base}.key"),
            })
            .ok_or_else(|| EtcdError::MissingCertificate {
                what: "an etcd client certificate and key",
                looked: candidates
                    .iter()
                    .map(|b| format!("{b}.{{crt,key}}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// `etcdctl --endpoints=URL --cacert=… --cert=… --key=…` (real paths under the root).
pub fn etcdctl(host: &Host, endpoint: &str, certs: &ClientCerts) -> Command {
    let real = |p: &str| host.path(p).display().to_string();
    Command::new("etcdctl")
        .arg(format!("--endpoints={endpoint}"))
        .arg(format!("--cacert={}", real(&certs.ca)))
        .arg(format!("--cert={}", real(&certs.cert)))
        .arg(format!("--key={}", real(&certs.key)))
}

/// The output of a command that must succeed.
pub fn checked(host: &Host, command: &Command) -> Result<Output, EtcdError> {
    let out = host.run(command)?;
    if out.success() {
        return Ok(out);
    }
    Err(EtcdError::Tool {
        command: host.redact(&command.display()),
        code: out.code.map_or("signal".into(), |c| c.to_string()),
        tail: out.tail(5),
    })
}

/// Whether etcd answers healthy (`etcdctl endpoint health`, exit 0).
pub fn healthy(host: &Host, endpoint: &str, certs: &ClientCerts) -> bool {
    let command = etcdctl(host, endpoint, certs)
        .args([
            "--dial-timeout=2s",
            "--command-timeout=3s",
            "endpoint",
            "health",
        ])
        .timeout(Duration::from_secs(10));
    host.run(&command).is_ok_and(|o| o.success())
}

/// What `etcdutl snapshot status -w json` reports (etcd-io/etcd
/// `etcdutl/snapshot/v3_snapshot.go`, `Status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Status {
    /// CRC-32 (Castagnoli) over every bucket's keys and values.
    pub hash: u32,
    /// The newest revision in the snapshot.
    pub revision: i64,
    /// How many keys, over all buckets.
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    /// The database size in bytes.
    #[serde(rename = "totalSize")]
    pub total_size: u64,
}

/// Checks the SHA-256 a snapshot saved over the API ends with. etcd's server sends it as
/// the last message of the snapshot stream, and `etcdutl snapshot restore` verifies it:
/// the file holds it when its size modulo 512 is 32 (`hasChecksum` in etcd-io/etcd
/// `etcdutl/snapshot/v3_snapshot.go`, `copyAndVerifyDB`). `snapshot status` only checks
/// the bolt database's structure, which a flipped byte in a value passes.
pub fn verify_checksum(host: &Host, node_path: &str) -> Result<u64, EtcdError> {
    let corrupt = |reason: String| EtcdError::Corrupt {
        path: node_path.to_string(),
        reason,
    };
    let mut file = host.open_file(node_path)?;
    let io = |e: std::io::Error| {
        EtcdError::Host(HostError::Io {
            op: "cannot read",
            path: host.path(node_path).display().to_string(),
            source: e,
        })
    };
    let size = file.metadata().map_err(io)?.len();
    if size % 512 != 32 {
        return Err(corrupt(format!(
            "its size ({size} bytes) shows no SHA-256 trailer (a snapshot saved by etcdctl has one; a copied member/snap/db has none)"
        )));
    }
    let mut hasher = Sha256::new();
    let mut left = size - 32;
    let mut buffer = vec![0u8; 1 << 20];
    while left > 0 {
        let want = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
        file.read_exact(&mut buffer[..want]).map_err(io)?;
        hasher.update(&buffer[..want]);
        left -= want as u64;
    }
    let mut trailer = [0u8; 32];
    file.read_exact(&mut trailer).map_err(io)?;
    if hasher.finalize().as_slice() != trailer {
        return Err(corrupt(
            "its SHA-256 does not match the one saved with it (the file changed after it was saved)".into(),
        ));
    }
    Ok(size)
}

/// The SHA-256 check, then `etcdutl snapshot status FILE -w json` (`etcdctl` where no
/// `etcdutl` is installed).
pub fn snapshot_status(host: &Host, node_path: &str) -> Result<Status, EtcdError> {
    verify_checksum(host, node_path)?;
    let real = host.path(node_path).display().to_string();
    let status = |program: &str| {
        Command::new(program)
            .args(["snapshot", "status", real.as_str(), "-w", "json"])
            .timeout(Duration::from_secs(10 * 60))
    };
    let out = match checked(host, &status("etcdutl")) {
        Err(EtcdError::Host(HostError::Run(RunError::NotFound { .. }))) => {
            checked(host, &status("etcdctl"))
        }
        other => other,
    }
    .map_err(|e| match e {
        EtcdError::Tool { tail, .. } => EtcdError::Corrupt {
            path: node_path.to_string(),
            reason: format!("`snapshot status` refused it: {tail}"),
        },
        other => other,
    })?;
    let json = out.stdout.lines().find(|l| l.trim_start().starts_with('{'));
    json.and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| EtcdError::Corrupt {
            path: node_path.to_string(),
            reason: format!("`snapshot status` printed no status: {}", out.tail(3)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_checked_and_a_flipped_byte_found() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path().to_path_buf());
        let mut db = vec![7u8; 1024];
        db.extend_from_slice(&Sha256::digest(&db));
        std::fs::write(host.path("/s.db"), &db).unwrap();
        assert_eq!(verify_checksum(&host, "/s.db").unwrap(), 1056);
        db[100] ^= 1;
        std::fs::write(host.path("/s.db"), &db).unwrap();
        let err = verify_checksum(&host, "/s.db").unwrap_err().to_string();
        assert!(err.contains("/s.db: its SHA-256 does not match"), "{err}");
        std::fs::write(host.path("/s.db"), &db[..1024]).unwrap();
        let err = verify_checksum(&host, "/s.db").unwrap_err().to_string();
        assert!(err.contains("no SHA-256 trailer"), "{err}");
    }
}
