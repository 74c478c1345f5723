//! The journal: one JSON line per change made to the node, appended under the state directory.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

/// One journal record.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The step that made the change.
    pub step: &'a str,
    /// `write`, `remove`, `symlink`, `set` (kernel parameter) or `run`.
    pub action: &'a str,
    /// The node path changed, or the command run (secrets redacted).
    pub target: &'a str,
    /// Where the original was backed up, when it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<&'a str>,
    /// Whether the target existed before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existed: Option<bool>,
    /// Extra detail (old and new value of a kernel parameter, exit code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// Appends `record` as one line to the journal file at `path` (created 0600).
pub fn append(path: &PathBuf, record: &Record) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}
