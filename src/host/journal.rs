//! The journal: one JSON line per change made to the node, appended under the state
//! directory. An append is a whole line or nothing: a partial line (a crash or a full disk
//! during an earlier append) is cut off before the next one, and a failed append is cut back.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::atomic::append_synced;
use super::faults::Disk;
use super::paths::{STATE_DIR, io_err, split};
use super::{Host, HostError};

/// The journal's node path.
pub fn journal_path() -> String {
    format!("{STATE_DIR}/journal.jsonl")
}

/// One journal record. Fields added later are optional, so older journals still read.
#[derive(Debug, Default, Serialize)]
pub struct Record<'a> {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The step that made the change.
    pub step: &'a str,
    /// `write`, `remove`, `symlink`, `set` (kernel parameter), `run`, `interrupted`,
    /// `chown`, `mkdir` (a directory created for a file), `restore` (an original put back
    /// by `reset`) or `unlink` (a created file removed by `reset`).
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
    /// The SHA-256 (hex) of the bytes written (`write`, `restore`): how `reset` tells a
    /// later edit by someone else from the agent's own content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
    /// The original's `uid:gid`, when the target existed (`write`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'a str>,
}

/// A journal line as read back: every field but `action` and `target` may be missing
/// (journals written by older versions have no `sha256` or `owner`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub time: u64,
    /// The step that made the change.
    #[serde(default)]
    pub step: String,
    /// What was done (see [`Record::action`]).
    pub action: String,
    /// The node path, or the command line.
    pub target: String,
    /// The backup's node path.
    #[serde(default)]
    pub backup: Option<String>,
    /// Whether the target existed before.
    #[serde(default)]
    pub existed: Option<bool>,
    /// Extra detail.
    #[serde(default)]
    pub detail: Option<String>,
    /// SHA-256 of the bytes written.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The original's `uid:gid`.
    #[serde(default)]
    pub owner: Option<String>,
}

/// The SHA-256 of `bytes`, lower-case hex (as journaled).
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Parses journal text: one [`Entry`] per line; a line that is not one is an error naming
/// its number (1-based) and the parser's complaint.
pub fn parse(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| (i + 1, e.to_string())))
        .collect()
}

/// The length of the file's complete lines: its length, or less when it ends in a partial line.
fn complete_length(file: &File, len: u64) -> std::io::Result<u64> {
    let mut last = [0u8; 1];
    if len == 0 || (file.read_at(&mut last, len - 1)? == 1 && last[0] == b'\n') {
        return Ok(len);
    }
    let mut all = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
    file.read_exact_at(&mut all, 0)?;
    Ok(all
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i as u64 + 1))
}

/// Appends `text` (whole lines) to the journal at `path` (created 0600, never through a
/// symlink): first cuts off a partial last line, and on failure cuts the file back to its
/// complete lines, so every line in it is a whole record.
pub fn append(disk: &Disk, node_path: &str, path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let len = file.metadata()?.len();
    let whole = complete_length(&file, len)?;
    if whole != len {
        tracing::warn!(
            path = node_path,
            "the journal ended in a partial line (an interrupted append); it is cut off"
        );
        file.set_len(whole)?;
    }
    if let Err(e) = append_synced(disk, node_path, &mut file, text.as_bytes()) {
        let _ = file.set_len(whole);
        let _ = file.sync_data();
        return Err(e);
    }
    Ok(())
}

impl Host {
    /// Appends a record (redacted) before the change it describes is made: an error means
    /// the change must not be made. Lines queued by [`Host::journal_after`] go first.
    pub(super) fn journal(&self, record: Record) -> Result<(), HostError> {
        let line = self.journal_line(record)?;
        self.journal_text(
            line,
            "cannot append to the journal (so nothing was changed)",
        )
    }

    /// Appends a record of a change already made. When that fails, the line is kept and
    /// written before the next record, and a warning says so: the change is not reported as
    /// failed, because it was made.
    pub(super) fn journal_after(&self, record: Record) {
        let Ok(line) = self.journal_line(record) else {
            return;
        };
        let saved = line.clone();
        if let Err(e) = self.journal_text(line, "cannot append to the journal") {
            tracing::warn!("{e}; the record is kept and written with the next one");
            let mut queued = self.unjournaled.lock().unwrap_or_else(|e| e.into_inner());
            queued.push(saved);
        }
    }

    fn journal_text(&self, line: String, op: &'static str) -> Result<(), HostError> {
        let mut queued = self.unjournaled.lock().unwrap_or_else(|e| e.into_inner());
        let text = format!("{}{line}", queued.concat());
        let node = journal_path();
        let path = self.path_nofollow(&node);
        self.make_state_dirs(split(&path).0)?;
        append(&self.disk, &node, &path, &text).map_err(io_err(op, &path))?;
        queued.clear();
        Ok(())
    }

    fn journal_line(&self, record: Record) -> Result<String, HostError> {
        let target = self.redact(record.target);
        let record = Record {
            target: &target,
            ..record
        };
        let mut line = serde_json::to_string(&record).map_err(|e| HostError::Io {
            op: "cannot encode a journal record",
            path: journal_path(),
            source: std::io::Error::other(e),
        })?;
        line.push('\n');
        Ok(line)
    }

    /// Appends a journal line for a directory created for a file (`reset` removes it again
    /// when it is empty).
    pub(super) fn journal_mkdir(&self, step: &str, node_path: &str) {
        self.journal_after(Record {
            time: self.now(),
            step,
            action: "mkdir",
            target: node_path,
            existed: Some(false),
            ..Record::default()
        });
    }

    /// Appends a journal line for a command that changed the node.
    pub(super) fn journal_run(&self, step: &str, command: &str, code: Option<i32>) {
        let detail = format!("exit {}", code.map_or("signal".into(), |c| c.to_string()));
        self.journal_after(Record {
            time: self.now(),
            step,
            action: "run",
            target: command,
            detail: Some(&detail),
            ..Record::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_lines_read_and_new_fields_round_trip() {
        let old = r#"{"time":1,"step":"hosts","action":"write","target":"/etc/hosts","backup":"/var/lib/bootstrap/backups/etc/hosts","existed":true}"#;
        let record = Record {
            time: 2,
            step: "hosts",
            action: "write",
            target: "/etc/hosts",
            sha256: Some("ab"),
            owner: Some("0:0"),
            ..Record::default()
        };
        let new = serde_json::to_string(&record).unwrap();
        let entries = parse(&format!("{old}\n\n{new}\n")).unwrap();
        assert_eq!(entries[0].sha256, None);
        assert_eq!(entries[0].existed, Some(true));
        assert_eq!(entries[1].sha256.as_deref(), Some("ab"));
        assert_eq!(entries[1].owner.as_deref(), Some("0:0"));
        assert_eq!(parse("{}\n").unwrap_err().0, 1);
    }

    #[test]
    fn a_partial_line_is_cut_and_a_failed_append_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        let free = Disk::full_after("/j", 5);
        let err = append(&free, "/j", &path, "{\"c\":3}\n").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        append(&Disk::default(), "/j", &path, "{\"d\":4}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"d\":4}\n"
        );
    }
}
