//! What `bootstrap reset` needs from the seam: the journal read back, what is at a path now
//! (never following a link there), a backed-up original read and put back (bytes, mode and
//! owner), a file the agent created removed without a backup copy (it may hold secrets),
//! a directory it created removed when empty, and the journal and backups archived.
//! Every change is journaled like any other, before the journal itself is archived.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::atomic::NewFile;
use super::journal::{Entry, Record, digest, journal_path, parse};
use super::paths::{STATE_DIR, io_err, open_dir, split};
use super::{Host, HostError, resolve};

/// What is at a node path now (a link there is not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Missing,
    /// A regular file.
    File {
        /// SHA-256 of its bytes, hex.
        sha256: String,
        /// Permission bits.
        mode: u32,
        /// Last modification, seconds since the epoch.
        mtime: i64,
    },
    /// A symlink and its target.
    Link(PathBuf),
    /// Something else: a directory, a fifo, a device.
    Other,
}

/// A backed-up original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// A regular file's bytes and permission bits.
    File(Vec<u8>, u32),
    /// A symlink's target.
    Link(PathBuf),
}

impl Saved {
    /// Whether `found` is exactly this original.
    pub fn matches(&self, found: &Found) -> bool {
        match (self, found) {
            (
                Saved::File(bytes, mode),
                Found::File {
                    sha256, mode: m, ..
                },
            ) => *sha256 == digest(bytes) && mode == m,
            (Saved::Link(target), Found::Link(t)) => target == t,
            _ => false,
        }
    }
}

fn io(op: &'static str, path: &Path, e: std::io::Error) -> HostError {
    io_err(op, path)(e)
}

impl Host {
    /// The journal's entries, oldest first; empty when there is none. A line that cannot
    /// be read is an error naming the file and line.
    pub fn read_journal(&self) -> Result<Vec<Entry>, HostError> {
        let path = self.path_nofollow(&journal_path());
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("cannot read", &path, e)),
        };
        parse(&text).map_err(|(line, why)| HostError::Io {
            op: "cannot read the journal",
            path: format!("{}:{line}", path.display()),
            source: std::io::Error::other(why),
        })
    }

    /// What is at `node_path` now; its last component is not followed.
    pub fn inspect(&self, node_path: &str) -> Result<Found, HostError> {
        let path = self.path_nofollow(node_path);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
            Err(e) => return Err(io("cannot inspect", &path, e)),
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map_err(|e| io("cannot read link", &path, e))?;
            return Ok(Found::Link(target));
        }
        if !meta.is_file() {
            return Ok(Found::Other);
        }
        let bytes = fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
        Ok(Found::File {
            sha256: digest(&bytes),
            mode: meta.mode() & 0o7777,
            mtime: meta.mtime(),
        })
    }

    /// The original kept at `backup_node` (a path inside the backup store); `None` when it
    /// is missing.
    pub fn read_backup(&self, backup_node: &str) -> Result<Option<Saved>, HostError> {
        if !resolve::lexical(backup_node).starts_with(&format!("{STATE_DIR}/backups/")) {
            return Ok(None);
        }
        let path = self.path_nofollow(backup_node);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot inspect", &path, e)),
            Ok(meta) if meta.file_type().is_symlink() => fs::read_link(&path)
                .map(|t| Some(Saved::Link(t)))
                .map_err(|e| io("cannot read link", &path, e)),
            Ok(meta) if meta.is_file() => fs::read(&path)
                .map(|b| Some(Saved::File(b, meta.mode() & 0o7777)))
                .map_err(|e| io("cannot read", &path, e)),
            Ok(_) => Ok(None),
        }
    }

    /// Puts `saved` back at `node_path` atomically (a file with its bytes, mode and, when
    /// running as root, `owner`), replacing what is there without following a link there;
    /// journaled as `restore`.
    pub fn restore(
        &self,
        step: &str,
        node_path: &str,
        saved: &Saved,
        backup_node: &str,
        owner: Option<(u32, u32)>,
    ) -> Result<(), HostError> {
        let lexical = resolve::lexical(node_path);
        let path = self.path_nofollow(&lexical);
        let (dir, name) = split(&path);
        self.make_dirs(dir, super::files::DIR_MODE)?;
        let (sha256, detail) = match saved {
            Saved::File(bytes, _) => (Some(digest(bytes)), None),
            Saved::Link(target) => (None, Some(target.to_string_lossy().into_owned())),
        };
        let record = || Record {
            time: self.now(),
            step,
            action: "restore",
            target: &lexical,
            backup: Some(backup_node),
            sha256: sha256.as_deref(),
            detail: detail.as_deref(),
            ..Record::default()
        };
        match saved {
            Saved::Link(target) => {
                self.link_atomically(&path, &target.to_string_lossy(), || self.journal(record()))
            }
            Saved::File(bytes, mode) => {
                let fd = open_dir(dir)?;
                let new = NewFile {
                    contents: bytes,
                    mode: *mode,
                    owner: owner.filter(|_| nix::unistd::geteuid().is_root()),
                };
                self.replace_journaled(&lexical, &fd, name, &new, &path, record)
                    .map(drop)
            }
        }
    }

    /// Removes a file (or link) the agent created, without keeping a copy (it may hold
    /// secrets); journaled as `unlink`. Nothing there is not an error; a directory is never
    /// removed here.
    pub fn remove_created(&self, step: &str, node_path: &str) -> Result<(), HostError> {
        let lexical = resolve::lexical(node_path);
        let path = self.path_nofollow(&lexical);
        match fs::symlink_metadata(&path) {
            Err(_) => return Ok(()),
            Ok(meta) if meta.is_dir() => {
                return Err(io(
                    "will not remove a directory at",
                    &path,
                    std::io::Error::other("is a directory"),
                ));
            }
            Ok(_) => {}
        }
        self.journal(Record {
            time: self.now(),
            step,
            action: "unlink",
            target: &lexical,
            existed: Some(true),
            ..Record::default()
        })?;
        fs::remove_file(&path).map_err(|e| io("cannot remove", &path, e))?;
        super::files::sync_dir(split(&path).0)
    }

    /// Removes the directory at `node_path` when it is empty; returns whether it did.
    pub fn remove_empty_dir(&self, step: &str, node_path: &str) -> Result<bool, HostError> {
        let lexical = resolve::lexical(node_path);
        let path = self.path_nofollow(&lexical);
        let empty = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
            && fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
        if !empty {
            return Ok(false);
        }
        self.journal(Record {
            time: self.now(),
            step,
            action: "rmdir",
            target: &lexical,
            ..Record::default()
        })?;
        fs::remove_dir(&path).map_err(|e| io("cannot remove directory", &path, e))?;
        Ok(true)
    }

    /// Moves the journal, the backups and the pending-restart record into a new directory
    /// `STATE_DIR/archive/NAME` (0700) and returns its node path. Nothing is deleted.
    pub fn archive_state(&self, name: &str) -> Result<String, HostError> {
        let archive_node = format!("{STATE_DIR}/archive/{name}");
        let archive = self.path_nofollow(&archive_node);
        self.make_state_dirs(&archive)?;
        for item in ["journal.jsonl", "backups", "pending.json"] {
            let from = self.path_nofollow(&format!("{STATE_DIR}/{item}"));
            if fs::symlink_metadata(&from).is_ok() {
                fs::rename(&from, archive.join(item))
                    .map_err(|e| io("cannot archive", &from, e))?;
            }
        }
        super::files::sync_dir(&archive)?;
        super::files::sync_dir(&self.path_nofollow(STATE_DIR))?;
        Ok(archive_node)
    }
}
