//! Root-relative files: reads, and atomic writes with a one-time backup and a journal line.
//! Every node path resolves inside `--root` (see [`super::resolve`]).

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::atomic::{self, NewFile};
use super::journal::Record;
use super::paths::{STATE_DIR, io_err, open_dir, split};
use super::resolve;
use super::{Host, HostError};

/// The mode of a directory the agent creates for a file it writes.
pub const DIR_MODE: u32 = 0o755;

/// The mode of a directory holding the agent's own state (backups, journal): root only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The permission bits a written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the mode of an existing file; a new file gets this mode.
    KeepOr(u32),
    /// Always this mode (files holding secrets: `0o600`).
    Exact(u32),
}

impl Host {
    /// The real path of a node path such as `/etc/hosts`: resolved inside `--root` the way
    /// `chroot` would (no `..` above the root, symlinks followed relative to the root).
    pub fn path(&self, node_path: &str) -> PathBuf {
        resolve::in_root(&self.root, node_path, true)
    }

    /// The real path of a node path whose last component is not followed if it is a link.
    pub(super) fn path_nofollow(&self, node_path: &str) -> PathBuf {
        resolve::in_root(&self.root, node_path, false)
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
        fs::symlink_metadata(self.path_nofollow(node_path)).is_ok()
    }

    /// Whether the node path is a directory.
    pub fn is_dir(&self, node_path: &str) -> bool {
        self.path(node_path).is_dir()
    }

    /// The target of a symlink, if the node path is one.
    pub fn read_link(&self, node_path: &str) -> Option<PathBuf> {
        fs::read_link(self.path_nofollow(node_path)).ok()
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

    /// Creates the resolved directory `dir` and its missing parents, each with exactly
    /// `mode` (the umask plays no part). Existing directories are left as they are.
    pub(super) fn make_dirs(&self, dir: &Path, mode: u32) -> Result<(), HostError> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.make_dirs(parent, mode)?;
        }
        match fs::DirBuilder::new().mode(mode).create(dir) {
            Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(io_err("cannot set mode of", dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
            Err(e) => Err(io_err("cannot create", dir)(e)),
        }
    }

    /// Creates the missing directories of a file about to be written: [`DIR_MODE`], or
    /// [`PRIVATE_DIR_MODE`] inside the state directory. A path that resolved through too
    /// many symlinks is refused here, before anything is created.
    /// Each directory created outside the state directory is journaled (`mkdir`).
    fn make_parent_dirs(&self, step: &str, dir: &Path) -> Result<(), HostError> {
        if dir.starts_with(self.root.join(resolve::LOOP)) {
            return Err(io_err("cannot resolve", dir)(
                std::io::Error::from_raw_os_error(nix::libc::ELOOP),
            ));
        }
        if dir.starts_with(self.path(STATE_DIR)) {
            return self.make_state_dirs(dir);
        }
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        self.make_dirs(dir, DIR_MODE)?;
        for created in missing.iter().rev() {
            if let Ok(inside) = created.strip_prefix(&self.root) {
                self.journal_mkdir(step, &format!("/{}", inside.display()));
            }
        }
        Ok(())
    }

    /// Creates the resolved directory `dir` inside the state directory: the state directory's
    /// parents get [`DIR_MODE`], the state directory and everything below it
    /// [`PRIVATE_DIR_MODE`].
    pub(super) fn make_state_dirs(&self, dir: &Path) -> Result<(), HostError> {
        let state = self.path(STATE_DIR);
        if let Some(parent) = state.parent() {
            self.make_dirs(parent, DIR_MODE)?;
        }
        self.make_dirs(dir, PRIVATE_DIR_MODE)
    }

    /// Writes a whole file atomically: a temporary file in the same directory, fsync, rename,
    /// directory fsync. Mode and owner of an existing file are kept (unless `mode` is
    /// [`Mode::Exact`]), and so are its extended attributes; the original is backed up once,
    /// and the change is journaled before the file is replaced (no journal line, no change).
    /// Writing the content the file already has changes nothing.
    pub fn write_file(
        &self,
        step: &str,
        node_path: &str,
        contents: &[u8],
        mode: Mode,
    ) -> Result<(), HostError> {
        let target = self.path(node_path);
        let existing = fs::symlink_metadata(&target).ok();
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
        let (dir, name) = split(&target);
        self.make_parent_dirs(step, dir)?;
        let backup = self.backup_once(node_path, &target)?;
        let owner = existing
            .as_ref()
            .filter(|_| nix::unistd::geteuid().is_root())
            .map(|m| (m.uid(), m.gid()));
        let fd = open_dir(dir)?;
        let new = NewFile {
            contents,
            mode: wanted_mode,
            owner,
        };
        let lexical = resolve::lexical(node_path);
        let sha256 = super::journal::digest(contents);
        let was = existing
            .as_ref()
            .map(|m| format!("{}:{}", m.uid(), m.gid()));
        self.replace_journaled(&lexical, &fd, name, &new, &target, || Record {
            time: self.now(),
            step,
            action: "write",
            target: &lexical,
            backup: backup.as_deref(),
            existed: Some(existing.is_some()),
            sha256: Some(&sha256),
            owner: was.as_deref(),
            ..Record::default()
        })?;
        tracing::info!(step, path = node_path, "wrote file");
        Ok(())
    }

    /// Replaces `name` in `dir` with `new`; the pending-restart record and the journal line
    /// (from `record`) are written once the content is durable and before the name changes.
    pub(super) fn replace_journaled<'r>(
        &self,
        node_path: &str,
        dir: &std::os::fd::OwnedFd,
        name: &OsStr,
        new: &NewFile,
        shown: &Path,
        record: impl FnOnce() -> Record<'r>,
    ) -> Result<atomic::Committed, HostError> {
        let result = atomic::replace(&self.disk, node_path, dir, name, new, || {
            self.record_pending(node_path)?;
            self.journal(record())?;
            Ok::<(), Wrapped>(())
        });
        result.map_err(|e: Wrapped| e.into_host(None, shown))
    }

    /// Replaces the file at the resolved `real` with `new`, unjournaled: the agent's own
    /// state (backups, pending restarts). `op` names the work in an error.
    pub(super) fn replace_state(
        &self,
        node_path: &str,
        real: &Path,
        new: &NewFile,
        op: &'static str,
    ) -> Result<(), HostError> {
        let (dir, name) = split(real);
        self.make_state_dirs(dir)?;
        let fd = open_dir(dir)?;
        atomic::replace(&self.disk, node_path, &fd, name, new, || {
            Ok::<(), Wrapped>(())
        })
        .map(|_| ())
        .map_err(|e| e.into_host(Some(op), real))
    }

    /// Writes a kernel parameter file in place (files under `/proc/sys` cannot be renamed
    /// over). The old value goes to the journal first.
    pub fn write_kernel_param(
        &self,
        step: &str,
        node_path: &str,
        value: &str,
    ) -> Result<(), HostError> {
        let path = self.path(node_path);
        let old = fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        let detail = format!("{} -> {value}", old.trim());
        self.journal(Record {
            time: self.now(),
            step,
            action: "set",
            target: &resolve::lexical(node_path),
            backup: None,
            existed: Some(true),
            detail: Some(&detail),
            ..Record::default()
        })?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        file.write_all(format!("{value}\n").as_bytes())
            .map_err(io_err("cannot write", &path))?;
        tracing::info!(step, path = node_path, value, "set kernel parameter");
        Ok(())
    }

    /// Makes `node_path` a symlink to `link_target` (for example a systemd mask to
    /// `/dev/null`), replacing what was there atomically after backing it up once.
    pub fn symlink(&self, step: &str, node_path: &str, link_target: &str) -> Result<(), HostError> {
        let path = self.path_nofollow(node_path);
        if fs::read_link(&path).ok().as_deref() == Some(Path::new(link_target)) {
            return Ok(());
        }
        let existed = fs::symlink_metadata(&path).is_ok();
        let backup = self.backup_once(node_path, &path)?;
        let (dir, _) = split(&path);
        self.make_parent_dirs(step, dir)?;
        let lexical = resolve::lexical(node_path);
        self.link_atomically(&path, link_target, || {
            self.record_pending(&lexical)?;
            self.journal(Record {
                time: self.now(),
                step,
                action: "symlink",
                target: &lexical,
                backup: backup.as_deref(),
                existed: Some(existed),
                detail: Some(link_target),
                ..Record::default()
            })
        })?;
        tracing::info!(step, path = node_path, link_target, "created symlink");
        Ok(())
    }

    /// Puts a symlink to `link_target` at the resolved `path`: made under a temporary name,
    /// then renamed over, after `before_commit`.
    pub(super) fn link_atomically(
        &self,
        path: &Path,
        link_target: &str,
        before_commit: impl FnOnce() -> Result<(), HostError>,
    ) -> Result<(), HostError> {
        let (dir, _) = split(path);
        let temp = dir.join(format!(".bootstrap-link-{}", std::process::id()));
        let _ = fs::remove_file(&temp);
        std::os::unix::fs::symlink(link_target, &temp).map_err(io_err("cannot link", &temp))?;
        if let Err(e) = before_commit() {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        fs::rename(&temp, path).map_err(io_err("cannot replace", path))?;
        sync_dir(dir)
    }

    /// Removes a file after backing it up once.
    pub fn remove_file(&self, step: &str, node_path: &str) -> Result<(), HostError> {
        let path = self.path_nofollow(node_path);
        if fs::symlink_metadata(&path).is_err() {
            return Ok(());
        }
        let backup = self.backup_once(node_path, &path)?;
        let lexical = resolve::lexical(node_path);
        self.record_pending(&lexical)?;
        self.journal(Record {
            time: self.now(),
            step,
            action: "remove",
            target: &lexical,
            backup: backup.as_deref(),
            existed: Some(true),
            ..Record::default()
        })?;
        fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
        tracing::info!(step, path = node_path, "removed file");
        Ok(())
    }

    pub(super) fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// An error from [`atomic::replace`] or from the work done before its commit.
pub(super) enum Wrapped {
    Atomic(atomic::Failure),
    Host(HostError),
}

impl Wrapped {
    /// The host error, naming `path` and `op` (or the failed operation's own).
    fn into_host(self, op: Option<&'static str>, path: &Path) -> HostError {
        match self {
            Wrapped::Atomic(f) => io_err(op.unwrap_or(f.op), path)(f.source),
            Wrapped::Host(e) => e,
        }
    }
}

impl From<atomic::Failure> for Wrapped {
    fn from(f: atomic::Failure) -> Self {
        Wrapped::Atomic(f)
    }
}

impl From<HostError> for Wrapped {
    fn from(e: HostError) -> Self {
        Wrapped::Host(e)
    }
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), HostError> {
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
        let lines: Vec<&str> = journal.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "the created /etc, then the file:\n{journal}"
        );
        assert!(lines[0].contains("\"action\":\"mkdir\",\"target\":\"/etc\""));
        assert!(lines[1].contains("\"existed\":false"));
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
    fn a_symlink_loop_creates_nothing() {
        let (_dir, host) = sandbox();
        fs::create_dir_all(host.path("/etc")).unwrap();
        std::os::unix::fs::symlink("b", host.root().join("etc/a")).unwrap();
        std::os::unix::fs::symlink("a", host.root().join("etc/b")).unwrap();
        let err = host
            .write_file("s", "/etc/a/x", b"x", Mode::KeepOr(0o644))
            .unwrap_err();
        assert!(err.to_string().contains("cannot resolve"), "{err}");
        assert!(!host.root().join(resolve::LOOP).exists());
    }

    #[test]
    fn state_files_get_private_directories() {
        let (_dir, host) = sandbox();
        host.write_file(
            "k",
            "/var/lib/bootstrap/kubeadm/init.yaml",
            b"x",
            Mode::Exact(0o600),
        )
        .unwrap();
        let mode = |p: &str| fs::metadata(host.path(p)).unwrap().mode() & 0o777;
        assert_eq!(mode("/var/lib/bootstrap"), 0o700);
        assert_eq!(mode("/var/lib/bootstrap/kubeadm"), 0o700);
        assert_eq!(mode("/var/lib"), 0o755);
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
