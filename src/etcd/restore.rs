//! `bootstrap etcd snapshot restore`: the procedure of the Kubernetes documentation
//! (<https://kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/#restoring-an-etcd-cluster>:
//! stop the API servers, restore every etcd member, start them again) and etcd's recovery
//! guide (<https://etcd.io/docs/v3.5/op-guide/recovery/>: `etcdutl snapshot restore` into a
//! new data directory with the member's `--name`, `--initial-cluster` and
//! `--initial-advertise-peer-urls`), for a kubeadm control plane whose kubelet runs etcd
//! and the API server as static pods:
//!
//! 1. the snapshot is checked first (SHA-256 trailer, `snapshot status`); a bad one is
//!    refused before anything changes;
//! 2. `etcd.yaml` and `kube-apiserver.yaml` move out of `/etc/kubernetes/manifests` (the
//!    kubelet then stops both pods), and the agent waits until etcd no longer answers;
//! 3. `etcdutl snapshot restore` writes a new data directory, never the live one;
//! 4. `etcd.yaml` comes back with only its `etcd-data` hostPath changed, and the agent waits
//!    until etcd answers healthy; then `kube-apiserver.yaml` comes back.
//!
//! If a step before etcd is back fails, both manifests are put back as they were, so the
//! member starts again on its old data.

use std::time::Duration;

use super::error::EtcdError;
use super::manifest;
use super::snapshot::{MANIFEST, Member, STEP, timestamp};
use super::tools::{self, Status};
use crate::host::{Command, Host, HostError, RunError};
use crate::kube::static_pods::{self, STOPPED_DIR};

/// The API server's static pod manifest.
pub const APISERVER: &str = "/etc/kubernetes/manifests/kube-apiserver.yaml";
/// How often etcd is asked whether it is up (or still up).
const POLL: Duration = Duration::from_secs(2);

/// What a restore will do.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// The member restored.
    pub member: Member,
    /// The snapshot's node path.
    pub snapshot: String,
    /// What `snapshot status` says of it.
    pub status: Status,
    /// The new data directory (host path).
    pub data_dir: String,
    /// The etcd manifest as it is.
    pub manifest_before: String,
    /// The etcd manifest pointing at the new directory.
    pub manifest_after: String,
    /// The API server's manifest, when there is one.
    pub apiserver: Option<String>,
    /// How long to wait for etcd to stop, and then to answer healthy.
    pub timeout: Duration,
    /// Things the operator must know (other members of the cluster).
    pub warnings: Vec<String>,
}

fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// Checks the snapshot and the target directory and prepares the manifest edit; changes
/// nothing.
pub fn plan(
    host: &Host,
    snapshot: &str,
    data_dir: Option<&str>,
    timeout: Duration,
) -> Result<RestorePlan, EtcdError> {
    let member = Member::find(host)?;
    let live = member.facts.data_dir.clone();
    let target = data_dir.map_or_else(
        || format!("/var/lib/etcd-from-backup-{}", timestamp(host.unix_time())),
        |d| d.trim_end_matches('/').to_string(),
    );
    if !target.starts_with('/') || target.split('/').any(|c| c == "..") {
        return Err(EtcdError::Usage(format!(
            "--data-dir {target}: give an absolute path without `..`"
        )));
    }
    if is_within(&target, &live) || is_within(&live, &target) {
        return Err(EtcdError::Usage(format!(
            "--data-dir {target} overlaps the live data directory {live}; a restore goes into a new directory (the live one stays as it is, to go back to)"
        )));
    }
    if host.exists(&target) {
        return Err(EtcdError::Exists {
            path: target,
            advice: "a restore goes into a new directory: choose another --data-dir",
        });
    }
    let status = tools::snapshot_status(host, snapshot)?;
    let manifest_before = host.read(MANIFEST)?.unwrap_or_default();
    let manifest_after = manifest::set_data_dir(&manifest_before, &target).map_err(|source| {
        EtcdError::Manifest {
            path: MANIFEST.into(),
            source,
        }
    })?;
    let others = manifest::other_members(&member.facts);
    let warnings = if others.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{MANIFEST} names other etcd members ({}): this restores a single-member cluster here; restore the same snapshot on every member, each with its own name, before the cluster is whole (https://etcd.io/docs/v3.5/op-guide/recovery/)",
            others.join(", ")
        )]
    };
    Ok(RestorePlan {
        member,
        snapshot: snapshot.to_string(),
        status,
        data_dir: target,
        manifest_before,
        manifest_after,
        apiserver: host.read(APISERVER)?,
        timeout,
        warnings,
    })
}

impl RestorePlan {
    /// The plan as lines for people.
    pub fn lines(&self) -> Vec<String> {
        let f = &self.member.facts;
        let mut lines = vec![format!(
            "snapshot {}: verified (revision {}, {} keys, {} bytes)",
            self.snapshot, self.status.revision, self.status.total_key, self.status.total_size
        )];
        if self.apiserver.is_some() {
            lines.push(format!(
                "move {APISERVER} to {STOPPED_DIR}/ (the kubelet stops the API server)"
            ));
        }
        lines.push(format!(
            "move {MANIFEST} to {STOPPED_DIR}/ and wait until etcd at {} stops answering",
            f.endpoint
        ));
        lines.push(format!(
            "etcdutl snapshot restore {} --data-dir {} --name {} --initial-cluster {}={} --initial-advertise-peer-urls {}",
            self.snapshot, self.data_dir, f.name, f.name, f.peer_urls, f.peer_urls
        ));
        lines.push(format!(
            "put {MANIFEST} back with the etcd-data hostPath changed from {} to {} (nothing else), and wait until etcd answers healthy",
            f.data_dir, self.data_dir
        ));
        if self.apiserver.is_some() {
            lines.push(format!("put {APISERVER} back"));
        }
        lines.push(format!(
            "the old data directory {} stays as it is",
            f.data_dir
        ));
        lines
    }
}

fn stop(host: &Host, node_path: &str, text: &str) -> Result<(), HostError> {
    static_pods::stop(host, STEP, node_path, text)
}

fn start(host: &Host, node_path: &str, text: &str) -> Result<(), HostError> {
    static_pods::start(host, STEP, node_path, text)
}

fn restore_command(plan: &RestorePlan, host: &Host, program: &str) -> Command {
    let f = &plan.member.facts;
    Command::new(program)
        .args(["snapshot", "restore"])
        .arg(host.path(&plan.snapshot).display().to_string())
        .arg(format!(
            "--data-dir={}",
            host.path(&plan.data_dir).display()
        ))
        .arg(format!("--name={}", f.name))
        .arg(format!("--initial-cluster={}={}", f.name, f.peer_urls))
        .arg(format!("--initial-advertise-peer-urls={}", f.peer_urls))
        .timeout(Duration::from_secs(30 * 60))
}

/// Steps 2 and 3: etcd stopped, the new directory written.
fn stop_and_restore(host: &Host, plan: &RestorePlan) -> Result<(), EtcdError> {
    let f = &plan.member.facts;
    if let Some(text) = &plan.apiserver {
        stop(host, APISERVER, text)?;
    }
    stop(host, MANIFEST, &plan.manifest_before)?;
    let down = host.wait_until(
        &format!("etcd at {} to stop (the kubelet stops the pod)", f.endpoint),
        "--timeout",
        plan.timeout,
        POLL,
        || !tools::healthy(host, &f.endpoint, &plan.member.certs),
    );
    if !down {
        return Err(EtcdError::Unhealthy {
            endpoint: f.endpoint.clone(),
            waited: humantime::format_duration(plan.timeout).to_string(),
            advice: "it still answered after its manifest was moved out: is the kubelet running it from another place? Nothing was restored".into(),
        });
    }
    let run = |program: &str| host.run_change(STEP, &restore_command(plan, host, program));
    match run("etcdutl") {
        Err(HostError::Run(RunError::NotFound { .. })) => run("etcdctl"),
        other => other,
    }?;
    Ok(())
}

/// Carries out the plan. Before etcd answers on the new directory, any failure puts both
/// manifests back as they were.
pub fn restore(host: &Host, plan: &RestorePlan) -> Result<(), EtcdError> {
    let f = &plan.member.facts;
    let result = stop_and_restore(host, plan).and_then(|()| {
        start(host, MANIFEST, &plan.manifest_after)?;
        let up = host.wait_until(
            &format!("etcd at {} to answer healthy on {}", f.endpoint, plan.data_dir),
            "--timeout",
            plan.timeout,
            POLL,
            || tools::healthy(host, &f.endpoint, &plan.member.certs),
        );
        if up {
            Ok(())
        } else {
            Err(EtcdError::Unhealthy {
                endpoint: f.endpoint.clone(),
                waited: humantime::format_duration(plan.timeout).to_string(),
                advice: format!(
                    "the manifest was put back as it was (data in {}); see `crictl ps -a --name etcd` and `crictl logs` for why it did not start on {}",
                    f.data_dir, plan.data_dir
                ),
            })
        }
    });
    if let Err(e) = result {
        start(host, MANIFEST, &plan.manifest_before)?;
        if let Some(text) = &plan.apiserver {
            start(host, APISERVER, text)?;
        }
        return Err(e);
    }
    if let Some(text) = &plan.apiserver {
        start(host, APISERVER, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_by_path_component() {
        assert!(is_within("/var/lib/etcd", "/var/lib/etcd/"));
        assert!(is_within("/var/lib/etcd/member", "/var/lib/etcd"));
        assert!(!is_within("/var/lib/etcd-from-backup", "/var/lib/etcd"));
    }
}
