//! Files the agent produces for the operator rather than edits on the node: etcd snapshots.
//! They can be large, so they are never copied into the backup store; a program writes them
//! under a temporary name, and the agent moves the finished, verified file into place
//! atomically (`rename` in the same directory, then a directory fsync) with its mode set.
//! Each move and each removal is journaled with its own action (`keep`, `prune`), so that
//! undoing the agent's edits never deletes an operator's backups.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::files::{DIR_MODE, sync_dir};
use super::journal::Record;
use super::paths::{io_err, split};
use super::resolve;
use super::{Host, HostError};

impl Host {
    /// Creates the directory `node_path` (and missing parents, [`DIR_MODE`]) with exactly
    /// `mode` when it does not exist; an existing directory is left as it is.
    pub fn create_dir(&self, node_path: &str, mode: u32) -> Result<(), HostError> {
        let dir = self.path(node_path);
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.make_dirs(parent, DIR_MODE)?;
        }
        self.make_dirs(&dir, mode)
    }

    /// Moves the finished file `from` to `to` (same directory), mode `mode`, atomically:
    /// the mode is set first, then the rename, then the directory is synced. An existing
    /// `to` is refused, never replaced.
    pub fn keep_artifact(
        &self,
        step: &str,
        from: &str,
        to: &str,
        mode: u32,
    ) -> Result<(), HostError> {
        let source = self.path_nofollow(from);
        let target = self.path_nofollow(to);
        if fs::symlink_metadata(&target).is_ok() {
            return Err(io_err("will not replace", &target)(std::io::Error::from(
                std::io::ErrorKind::AlreadyExists,
            )));
        }
        fs::set_permissions(&source, fs::Permissions::from_mode(mode))
            .map_err(io_err("cannot set mode of", &source))?;
        let lexical = resolve::lexical(to);
        self.journal(Record {
            time: self.now(),
            step,
            action: "keep",
            target: &lexical,
            existed: Some(false),
            detail: Some("written by a program under a temporary name, then renamed"),
            ..Record::default()
        })?;
        fs::rename(&source, &target).map_err(io_err("cannot rename", &source))?;
        sync_dir(split(&target).0)
    }

    /// Removes a file the agent produced (an old snapshot beyond the retention count, a
    /// partial file). No backup is kept: that is the point of removing it.
    pub fn remove_artifact(&self, step: &str, node_path: &str) -> Result<(), HostError> {
        let path = self.path_nofollow(node_path);
        if fs::symlink_metadata(&path).is_err() {
            return Ok(());
        }
        let lexical = resolve::lexical(node_path);
        self.journal(Record {
            time: self.now(),
            step,
            action: "prune",
            target: &lexical,
            existed: Some(true),
            ..Record::default()
        })?;
        fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
        sync_dir(split(&path).0)
    }

    /// Opens a file for reading (a snapshot too large to read into memory at once).
    pub fn open_file(&self, node_path: &str) -> Result<fs::File, HostError> {
        let path = self.path(node_path);
        fs::File::open(&path).map_err(io_err("cannot open", &path))
    }

    /// The size in bytes and permission bits of a file, `None` when it does not exist.
    pub fn file_size_mode(&self, node_path: &str) -> Option<(u64, u32)> {
        fs::symlink_metadata(self.path_nofollow(node_path))
            .ok()
            .filter(fs::Metadata::is_file)
            .map(|m| (m.len(), m.permissions().mode() & 0o7777))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_moves_atomically_refuses_to_replace_and_prunes_without_backup() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path().to_path_buf());
        host.create_dir("/var/backups/etcd", 0o700).unwrap();
        let mode = fs::metadata(host.path("/var/backups/etcd"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        fs::write(host.path("/var/backups/etcd/.partial"), b"db").unwrap();
        host.keep_artifact(
            "etcd",
            "/var/backups/etcd/.partial",
            "/var/backups/etcd/a.db",
            0o600,
        )
        .unwrap();
        assert_eq!(
            host.file_size_mode("/var/backups/etcd/a.db"),
            Some((2, 0o600))
        );
        assert!(!host.exists("/var/backups/etcd/.partial"));
        fs::write(host.path("/var/backups/etcd/.partial"), b"new").unwrap();
        let err = host
            .keep_artifact(
                "etcd",
                "/var/backups/etcd/.partial",
                "/var/backups/etcd/a.db",
                0o600,
            )
            .unwrap_err();
        assert!(err.to_string().contains("will not replace"), "{err}");
        assert_eq!(
            fs::read(host.path("/var/backups/etcd/a.db")).unwrap(),
            b"db"
        );
        host.remove_artifact("etcd", "/var/backups/etcd/a.db")
            .unwrap();
        assert!(!host.exists("/var/backups/etcd/a.db"));
        assert!(!host.exists("/var/lib/bootstrap/backups/var/backups/etcd/a.db"));
        let journal = host
            .read("/var/lib/bootstrap/journal.jsonl")
            .unwrap()
            .unwrap();
        assert!(journal.contains("\"action\":\"keep\""), "{journal}");
        assert!(journal.contains("\"action\":\"prune\""), "{journal}");
    }
}
