//! `bootstrap etcd snapshot save`: a snapshot of the local etcd member, saved by
//! `etcdctl snapshot save` under a temporary name in the target directory, checked (its
//! SHA-256 trailer and `snapshot status`), and only then renamed to its final name with mode
//! 0600 (it holds every Secret of the cluster). Then the oldest snapshots beyond `--keep`
//! are removed.

use super::error::EtcdError;
use super::manifest::{self, EtcdFacts};
use super::tools::{self, ClientCerts, Status};
use crate::host::Host;

/// The static pod manifest of etcd on a kubeadm control plane.
pub const MANIFEST: &str = "/etc/kubernetes/manifests/etcd.yaml";
/// Where snapshots go without `--out`.
pub const DEFAULT_DIR: &str = "/var/backups/etcd";
/// Snapshot file names the agent makes (and `--keep` prunes): `PREFIX<UTC time>.db`.
pub const PREFIX: &str = "etcd-snapshot-";
/// The journal's step name for this work.
pub const STEP: &str = "etcd";

/// The local member and how to reach it.
#[derive(Debug, Clone)]
pub struct Member {
    /// What the manifest says.
    pub facts: EtcdFacts,
    /// The credentials etcdctl uses.
    pub certs: ClientCerts,
}

impl Member {
    /// Reads the manifest and finds the client certificate.
    pub fn find(host: &Host) -> Result<Member, EtcdError> {
        let text = host
            .read(MANIFEST)?
            .ok_or_else(|| EtcdError::NotControlPlane {
                path: MANIFEST.into(),
            })?;
        let facts = manifest::facts(&text).map_err(|source| EtcdError::Manifest {
            path: MANIFEST.into(),
            source,
        })?;
        let certs = ClientCerts::find(host, &facts)?;
        Ok(Member { facts, certs })
    }
}

/// What a save will do.
#[derive(Debug, Clone)]
pub struct SavePlan {
    /// The member saved.
    pub member: Member,
    /// The snapshot's node path.
    pub target: String,
    /// The temporary name etcdctl writes.
    pub partial: String,
    /// Older snapshots removed after the save (`--keep`).
    pub prune: Vec<String>,
}

/// A verified snapshot.
#[derive(Debug, Clone)]
pub struct Saved {
    /// Its node path.
    pub path: String,
    /// Its size in bytes (with the SHA-256 trailer).
    pub size: u64,
    /// What `snapshot status` says.
    pub status: Status,
}

/// `YYYYmmddTHHMMSSZ` for Unix time `secs`.
pub fn timestamp(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/')
        .map_or(("", path), |(d, n)| (if d.is_empty() { "/" } else { d }, n))
}

/// Plans a save to `out` (a file) or into `dir` with a timestamped name; `keep` counts
/// the new snapshot too.
pub fn plan(
    host: &Host,
    out: Option<&str>,
    dir: &str,
    keep: Option<usize>,
) -> Result<SavePlan, EtcdError> {
    if keep == Some(0) {
        return Err(EtcdError::Usage(
            "--keep 0 would remove the snapshot just saved; keep at least 1".into(),
        ));
    }
    let member = Member::find(host)?;
    let target = match out {
        Some(file) if file.ends_with('/') || file.is_empty() => {
            return Err(EtcdError::Usage(format!(
                "--out {file}: give a file name (or use --dir for a directory)"
            )));
        }
        Some(file) => file.to_string(),
        None => format!(
            "{}/{PREFIX}{}.db",
            dir.trim_end_matches('/'),
            timestamp(host.unix_time())
        ),
    };
    if host.exists(&target) {
        return Err(EtcdError::Exists {
            path: target,
            advice: "bootstrap never overwrites a snapshot: choose another --out, or move the old one",
        });
    }
    let (parent, name) = split(&target);
    let partial = format!("{parent}/.{name}.partial");
    let prune = match keep {
        None => Vec::new(),
        Some(n) => {
            let mut older: Vec<String> = host
                .list_dir(parent)?
                .into_iter()
                .filter(|f| f.starts_with(PREFIX) && f.ends_with(".db") && f != name)
                .collect();
            older.sort();
            older.reverse();
            older
                .into_iter()
                .skip(n.saturating_sub(1))
                .map(|f| format!("{parent}/{f}"))
                .collect()
        }
    };
    Ok(SavePlan {
        member,
        target,
        partial,
        prune,
    })
}

impl SavePlan {
    /// The plan as lines for people.
    pub fn lines(&self) -> Vec<String> {
        let c = &self.member.certs;
        let mut lines = vec![format!(
            "save a snapshot of etcd member {} at {} to {} (mode 0600), with CA {} and client certificate {}",
            self.member.facts.name, self.member.facts.endpoint, self.target, c.ca, c.cert
        )];
        lines.push(format!(
            "verify it (SHA-256 trailer, `snapshot status`) before it takes the name {}",
            self.target
        ));
        lines.extend(
            self.prune
                .iter()
                .map(|p| format!("remove older snapshot {p} (--keep)")),
        );
        lines
    }
}

/// Saves, verifies, renames into place, then prunes. A failed or unverifiable save leaves
/// no file under the final name and removes its partial file.
pub fn save(host: &Host, plan: &SavePlan) -> Result<Saved, EtcdError> {
    let (parent, _) = split(&plan.target);
    host.create_dir(parent, 0o700)?;
    host.remove_artifact(STEP, &plan.partial)?;
    let command = tools::etcdctl(host, &plan.member.facts.endpoint, &plan.member.certs)
        .args([
            "snapshot".to_string(),
            "save".to_string(),
            host.path(&plan.partial).display().to_string(),
        ])
        .timeout(tools::SAVE_TIMEOUT);
    let verified = tools::checked(host, &command)
        .and_then(|_| tools::snapshot_status(host, &plan.partial))
        .and_then(|status| {
            let size = host.file_size_mode(&plan.partial).map_or(0, |(s, _)| s);
            host.keep_artifact(STEP, &plan.partial, &plan.target, 0o600)?;
            Ok(Saved {
                path: plan.target.clone(),
                size,
                status,
            })
        });
    if verified.is_err() {
        let _ = host.remove_artifact(STEP, &plan.partial);
        let _ = host.remove_artifact(STEP, &format!("{}.part", plan.partial));
    }
    let saved = verified?;
    for old in &plan.prune {
        host.remove_artifact(STEP, old)?;
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_time_does() {
        assert_eq!(timestamp(0), "19700101T000000Z");
        assert_eq!(timestamp(1_796_141_715), "20261201T161515Z");
        assert!(timestamp(1_796_141_715) < timestamp(1_796_141_716));
    }
}
