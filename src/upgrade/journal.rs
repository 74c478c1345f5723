//! The upgrade's journal: which phases finished for which target, so that a run killed at
//! any phase continues where it stopped. The node's own state is read first wherever it
//! tells (installed versions, the API server's version, the Node object); the journal
//! records what the node cannot tell: that `kubeadm upgrade node` ran, that this upgrade
//! cordoned the node, that the backup was taken.

use crate::engine::StepError;
use crate::host::{Host, Mode};
use crate::values::KubeVersion;

/// The journal file: `target 1.35.2` then one `done PHASE` line per finished phase.
pub const JOURNAL: &str = "/var/lib/bootstrap/upgrade/journal";

/// The phases finished towards `target` (none when the journal is for another target).
pub fn finished(host: &Host, target: KubeVersion) -> Result<Vec<String>, StepError> {
    let text = host.read(JOURNAL)?.unwrap_or_default();
    let mut lines = text.lines();
    if lines.next() != Some(format!("target {target}").as_str()) {
        return Ok(Vec::new());
    }
    Ok(lines
        .filter_map(|l| l.strip_prefix("done "))
        .map(str::to_string)
        .collect())
}

/// Whether `phase` finished towards `target`.
pub fn is_done(host: &Host, target: KubeVersion, phase: &str) -> Result<bool, StepError> {
    Ok(finished(host, target)?.iter().any(|p| p == phase))
}

/// Records that `phase` finished towards `target` (atomically, through the host).
pub fn record(host: &Host, step: &str, target: KubeVersion, phase: &str) -> Result<(), StepError> {
    let mut done = finished(host, target)?;
    if !done.iter().any(|p| p == phase) {
        done.push(phase.to_string());
    }
    let mut text = format!("target {target}\n");
    for p in done {
        text.push_str(&format!("done {p}\n"));
    }
    host.write_file(step, JOURNAL, text.as_bytes(), Mode::KeepOr(0o644))?;
    Ok(())
}
