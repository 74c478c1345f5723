//! Root-relative files: reads, and atomic writes with a one-time backup and a journal line.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::journal::{self, Record};
use super::{Host, HostError};

/// The directory, on the node, where the agent keeps its state (backups, journal).
pub const STATE_DIR: &str = "/var/lib/bootstrap";

/// The permission bits a written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the mode of an existing file; a new file gets this mode.
    KeepOr(u32),
    /// Always this mode (files holding secrets: `0o600`).
    Exact(u32),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> HostError + 'a {
    move |source| HostError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

fn relative(node_path: &str) -> &str {
    node_path.trim_start_matches('/')
}

impl Host {
    /// The real path of a node path such as `/etc/hosts`, under `--root`.
    pub fn path(&self, node_path: &str) -> PathBuf {
        self.root.join(relative(node_path))
    }

    /// Reads a file as bytes; `None` when it does not exist.
    pub fn read_bytes(&self, node_path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let path = self.path(node_path);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot read", &path)(e)),
        }
    }

    /// Reads a text file; `None` when it does not exist. A file that is not UTF-8 is an error,
    /// so that no byte of it is ever rewritten.
    pub fn read(&self, node_path: &str) -> Result<Option<String>, HostError> {
        match self.read_bytes(node_path)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| HostError::NotText {
                    path: self.path(node_path).display().to_string(),
                }),
        }
    }

    /// Whether the node path exists (a dangling symlink counts as existing).
    pub fn exists(&self, node_path: &str) -> bool {
        fs::symlink_metadata(self.path(node_path)).is_ok()
    }

    /// Whether the node path is a directory.
    pub fn is_dir(&self, node_path: &str) -> bool {
        self.path(node_path).is_dir()
    }

    /// The target of a symlink, if the node path is one.
    pub fn read_link(&self, node_path: &str) -> Option<PathBuf> {
        fs::read_link(self.path(node_path)).ok()
    }

    /// The entry names of a directory, sorted; empty when it does not exist.
    pub fn list_dir(&self, node_path: &str) -> Result<Vec<String>, HostError> {
        let path = self.path(node_path);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("cannot list", &path)(e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The file a write to `node_path` lands in: a symlink is followed (inside the root).
    fn write_target(&self, node_path: &str) -> PathBuf {
        let path = self.path(node_path);
        match fs::read_link(&path) {
            Ok(target) if target.is_absolute() => self.path(&target.to_string_lossy()),
            Ok(target) => path.parent().unwrap_or(&self.root).join(target),
            Err(_) => path,
        }
    }

    fn state_path(&self, sub: &str) -> PathBuf {
        self.path(&format!("{STATE_DIR}/{sub}"))
    }

    /// Copies the original of `node_path` into the backup store, once: a later change keeps
    /// the first original. Returns the backup's node path when the file existed.
    fn backup_once(&self, node_path: &str, real: &Path) -> Result<Option<String>, HostError> {
        let Ok(meta) = fs::symlink_metadata(real) else {
            return Ok(None);
        };
        let backup_node = format!("{STATE_DIR}/backups/{}", relative(node_path));
        let backup = self.path(&backup_node);
        if fs::symlink_metadata(&backup).is_err() {
            let dir = backup.parent().unwrap_or(&self.root);
            create_private_dir(&self.state_path("backups"))?;
            fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(real).map_err(io_err("cannot read link", real))?;
                std::os::unix::fs::symlink(target, &backup)
                    .map_err(io_err("cannot back up to", &backup))?;
            } else {
                fs::copy(real, &backup).map_err(io_err("cannot back up to", &backup))?;
                fs::set_permissions(&backup, fs::Permissions::from_mode(meta.mode() & 0o7777))
                    .map_err(io_err("cannot set mode of", &backup))?;
            }
        }
        Ok(Some(backup_node))
    }

    fn journal(&self, record: Record) -> Result<(), HostError> {
        let path = self.state_path("journal.jsonl");
        create_private_dir(path.parent().unwrap_or(&self.root))?;
        let target = self.redact(record.target);
        let record = Record {
            target: &target,
            ..record
        };
        journal::append(&path, &record).map_err(io_err("cannot append to journal", &path))
    }

    /// Writes a whole file atomically: a temporary file in the same directory, fsync, rename,
    /// directory fsync. Mode and owner of an existing file are kept (unless `mode` is
    /// [`Mode::Exact`]), the original is backed up once, and the change is journaled.
    /// Writing the content the file already has changes nothing.
    pub fn write_file(
        &self,
        step: &str,
        node_path: &str,
        contents: &[u8],
        mode: Mode,
    ) -> Result<(), HostError> {
        let target = self.write_target(node_path);
        let existing = fs::metadata(&target).ok();
        let wanted_mode = match (mode, &existing) {
            (Mode::Exact(m), _) => m,
            (Mode::KeepOr(_), Some(meta)) => meta.mode() & 0o7777,
            (Mode::KeepOr(m), None) => m,
        };
        if let Some(meta) = &existing
            && meta.mode() & 0o7777 == wanted_mode
            && fs::read(&target).ok().as_deref() == Some(contents)
        {
            return Ok(());
        }
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
        let backup = self.backup_once(node_path, &target)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".bootstrap-")
            .tempfile_in(&dir)
            .map_err(io_err("cannot create a temporary file in", &dir))?;
        temp.write_all(contents)
            .map_err(io_err("cannot write", temp.path()))?;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(wanted_mode))
            .map_err(io_err("cannot set mode of", &target))?;
        if let Some(meta) = &existing
            && nix::unistd::geteuid().is_root()
        {
            nix::unistd::fchown(
                temp.as_file(),
                Some(meta.uid().into()),
                Some(meta.gid().into()),
            )
            .map_err(|e| io_err("cannot set owner of", &target)(e.into()))?;
        }
        temp.as_file()
            .sync_all()
            .map_err(io_err("cannot sync", &target))?;
        temp.persist(&target)
            .map_err(|e| io_err("cannot replace", &target)(e.error))?;
        sync_dir(&dir)?;
        tracing::info!(step, path = node_path, "wrote file");
        self.journal(Record {
            time: self.now(),
            step,
            action: "write",
            target: node_path,
            backup: backup.as_deref(),
            existed: Some(existing.is_some()),
            detail: None,
        })
    }

    /// Writes a kernel parameter file in place (files under `/proc/sys` cannot be renamed
    /// over). The old value goes to the journal.
    pub fn write_kernel_param(
        &self,
        step: &str,
        node_path: &str,
        value: &str,
    ) -> Result<(), HostError> {
        let path = self.path(node_path);
        let old = fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        file.write_all(format!("{value}\n").as_bytes())
            .map_err(io_err("cannot write", &path))?;
        tracing::info!(step, path = node_path, value, "set kernel parameter");
        let detail = format!("{} -> {value}", old.trim());
        self.journal(Record {
            time: self.now(),
            step,
            action: "set",
            target: node_path,
            backup: None,
            existed: Some(true),
            detail: Some(&detail),
        })
    }

    /// Makes `node_path` a symlink to `link_target` (for example a systemd mask to
    /// `/dev/null`), replacing what was there atomically after backing it up once.
    pub fn symlink(&self, step: &str, node_path: &str, link_target: &str) -> Result<(), HostError> {
        let path = self.path(node_path);
        if fs::read_link(&path).ok().as_deref() == Some(Path::new(link_target)) {
            return Ok(());
        }
        let existed = fs::symlink_metadata(&path).is_ok();
        let backup = self.backup_once(node_path, &path)?;
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        let temp = dir.join(format!(".bootstrap-link-{}", std::process::id()));
        let _ = fs::remove_file(&temp);
        std::os::unix::fs::symlink(link_target, &temp).map_err(io_err("cannot link", &temp))?;
        fs::rename(&temp, &path).map_err(io_err("cannot replace", &path))?;
        sync_dir(dir)?;
        tracing::info!(step, path = node_path, link_target, "created symlink");
        self.journal(Record {
            time: self.now(),
            step,
            action: "symlink",
            target: node_path,
            backup: backup.as_deref(),
            existed: Some(existed),
            detail: Some(link_target),
        })
    }

    /// Removes a file after backing it up once.
    pub fn remove_file(&self, step: &str, node_path: &str) -> Result<(), HostError> {
        let path = self.path(node_path);
        if fs::symlink_metadata(&path).is_err() {
            return Ok(());
        }
        let backup = self.backup_once(node_path, &path)?;
        fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
        tracing::info!(step, path = node_path, "removed file");
        self.journal(Record {
            time: self.now(),
            step,
            action: "remove",
            target: node_path,
            backup: backup.as_deref(),
            existed: Some(true),
            detail: None,
        })
    }

    /// Appends a journal line for a command that changed the node.
    pub(super) fn journal_run(&self, step: &str, command: &str, code: Option<i32>) {
        let detail = format!("exit {}", code.map_or("signal".into(), |c| c.to_string()));
        if let Err(e) = self.journal(Record {
            time: self.now(),
            step,
            action: "run",
            target: command,
            backup: None,
            existed: None,
            detail: Some(&detail),
        }) {
            tracing::warn!("{e}");
        }
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

fn create_private_dir(path: &Path) -> Result<(), HostError> {
    if !path.is_dir() {
        fs::create_dir_all(path).map_err(io_err("cannot create", path))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(io_err("cannot set mode of", path))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), HostError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path().to_path_buf());
        (dir, host)
    }

    #[test]
    fn write_keeps_mode_backs_up_once_and_journals() {
        let (_dir, host) = sandbox();
        fs::create_dir_all(host.path("/etc")).unwrap();
        fs::write(host.path("/etc/hosts"), "orig\n").unwrap();
        fs::set_permissions(host.path("/etc/hosts"), fs::Permissions::from_mode(0o640)).unwrap();
        host.write_file("hosts", "/etc/hosts", b"one\n", Mode::KeepOr(0o644))
            .unwrap();
        host.write_file("hosts", "/etc/hosts", b"two\n", Mode::KeepOr(0o644))
            .unwrap();
        assert_eq!(
            fs::read_to_string(host.path("/etc/hosts")).unwrap(),
            "two\n"
        );
        let mode = fs::metadata(host.path("/etc/hosts")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let backup = host.path("/var/lib/bootstrap/backups/etc/hosts");
        assert_eq!(fs::read_to_string(backup).unwrap(), "orig\n");
        let journal = fs::read_to_string(host.path("/var/lib/bootstrap/journal.jsonl")).unwrap();
        assert_eq!(journal.lines().count(), 2);
        assert!(journal.contains("\"backup\":\"/var/lib/bootstrap/backups/etc/hosts\""));
        // No leftover temporary files.
        assert_eq!(host.list_dir("/etc").unwrap(), vec!["hosts"]);
    }

    #[test]
    fn same_content_is_not_rewritten() {
        let (_dir, host) = sandbox();
        host.write_file("s", "/etc/a", b"x", Mode::KeepOr(0o644))
            .unwrap();
        host.write_file("s", "/etc/a", b"x", Mode::KeepOr(0o644))
            .unwrap();
        let journal = fs::read_to_string(host.path("/var/lib/bootstrap/journal.jsonl")).unwrap();
        assert_eq!(journal.lines().count(), 1);
        assert!(journal.contains("\"existed\":false"));
    }

    #[test]
    fn exact_mode_for_secrets() {
        let (_dir, host) = sandbox();
        host.write_file("s", "/etc/s", b"x", Mode::KeepOr(0o644))
            .unwrap();
        host.write_file("s", "/etc/s", b"y", Mode::Exact(0o600))
            .unwrap();
        let mode = fs::metadata(host.path("/etc/s")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn writes_through_symlink_inside_root() {
        let (_dir, host) = sandbox();
        fs::create_dir_all(host.path("/etc")).unwrap();
        fs::write(host.path("/etc/real"), "a").unwrap();
        std::os::unix::fs::symlink("/etc/real", host.path("/etc/link")).unwrap();
        host.write_file("s", "/etc/link", b"b", Mode::KeepOr(0o644))
            .unwrap();
        assert_eq!(fs::read_to_string(host.path("/etc/real")).unwrap(), "b");
        assert!(host.read_link("/etc/link").is_some());
    }

    #[test]
    fn symlink_and_remove() {
        let (_dir, host) = sandbox();
        host.symlink("swap", "/etc/systemd/system/swap.target", "/dev/null")
            .unwrap();
        assert_eq!(
            host.read_link("/etc/systemd/system/swap.target").unwrap(),
            PathBuf::from("/dev/null")
        );
        host.remove_file("swap", "/etc/systemd/system/swap.target")
            .unwrap();
        assert!(!host.exists("/etc/systemd/system/swap.target"));
    }

    #[test]
    fn non_utf8_is_refused() {
        let (_dir, host) = sandbox();
        fs::create_dir_all(host.path("/etc")).unwrap();
        fs::write(host.path("/etc/hosts"), [0xff, 0xfe]).unwrap();
        assert!(matches!(
            host.read("/etc/hosts"),
            Err(HostError::NotText { .. })
        ));
    }
}
