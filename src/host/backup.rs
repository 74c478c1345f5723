//! The backup store: the original of every file the agent changes, copied once under
//! `STATE_DIR/backups`, written atomically like every other write and read back to verify.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::atomic::NewFile;
use super::paths::{STATE_DIR, io_err, split};
use super::{Host, HostError, resolve};

/// What is backed up: a file's bytes and mode, or a link's target.
pub(super) enum Original<'a> {
    /// A regular file.
    File(&'a [u8], u32),
    /// A symlink.
    Link(&'a Path),
}

impl Host {
    /// Copies the original of `node_path` (at the resolved `real`) into the backup store,
    /// once: a later change keeps the first original. Returns the backup's node path when
    /// the file existed.
    pub(super) fn backup_once(
        &self,
        node_path: &str,
        real: &Path,
    ) -> Result<Option<String>, HostError> {
        let Ok(meta) = fs::symlink_metadata(real) else {
            return Ok(None);
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(real).map_err(io_err("cannot read link", real))?;
            return self.backup(node_path, Original::Link(&target)).map(Some);
        }
        if !meta.is_file() {
            return Ok(None);
        }
        let bytes = fs::read(real).map_err(io_err("cannot read", real))?;
        self.backup(node_path, Original::File(&bytes, meta.mode() & 0o7777))
            .map(Some)
    }

    /// Stores `original` as the backup of `node_path` unless one exists; returns the
    /// backup's node path. A file backup is read back and compared before it counts.
    pub(super) fn backup(&self, node_path: &str, original: Original) -> Result<String, HostError> {
        let backup_node = format!("{STATE_DIR}/backups{}", resolve::lexical(node_path));
        let backup = self.path_nofollow(&backup_node);
        if fs::symlink_metadata(&backup).is_ok() {
            return Ok(backup_node);
        }
        let (dir, _) = split(&backup);
        self.make_state_dirs(dir)?;
        match original {
            Original::Link(target) => {
                self.link_atomically(&backup, &target.to_string_lossy(), || Ok(()))?;
            }
            Original::File(bytes, mode) => {
                let new = NewFile {
                    contents: bytes,
                    mode,
                    owner: None,
                };
                self.replace_state(&backup_node, &backup, &new, "cannot back up to")?;
                let copy = fs::read(&backup).map_err(io_err("cannot read back", &backup))?;
                if copy != bytes {
                    let _ = fs::remove_file(&backup);
                    return Err(io_err("backup differs from the original at", &backup)(
                        std::io::Error::other("read-back mismatch"),
                    ));
                }
            }
        }
        Ok(backup_node)
    }
}
