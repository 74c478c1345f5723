//! The one way a file is replaced, on an open directory: a new file beside the old one
//! (created with `O_EXCL | O_NOFOLLOW`), written, owner and mode set on the descriptor, the
//! old file's extended attributes copied, fsync, `renameat` over the old name, fsync of the
//! directory. A crash or a full disk at any point leaves the old file or the new one, never
//! a mix. Where the name cannot be renamed over (a file bind-mounted onto itself, such as
//! /etc/hosts in a container: `EBUSY`), the content is written in place instead, and synced.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{Mode as NixMode, fchmod, fstatat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};

use super::faults::Disk;

/// A new file's content and metadata.
pub struct NewFile<'a> {
    /// The bytes.
    pub contents: &'a [u8],
    /// Permission bits, set exactly (the umask plays no part).
    pub mode: u32,
    /// Owner and group to give it; `None` leaves the creating process's.
    pub owner: Option<(u32, u32)>,
}

/// How a replacement was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Renamed over the old name: atomic.
    Renamed,
    /// Written in place because the name could not be renamed over (`EBUSY`).
    InPlace,
}

/// A failed operation and what it was doing.
#[derive(Debug)]
pub struct Failure {
    /// What was being done (`cannot write`, `cannot replace`, ...).
    pub op: &'static str,
    /// The cause.
    pub source: std::io::Error,
}

fn fail(op: &'static str) -> impl FnOnce(Errno) -> Failure {
    move |e| Failure {
        op,
        source: e.into(),
    }
}

fn fail_io(op: &'static str) -> impl FnOnce(std::io::Error) -> Failure {
    move |source| Failure { op, source }
}

/// Opens a directory, refusing a symlink in its last component.
pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    openat(
        nix::fcntl::AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        NixMode::empty(),
    )
}

/// Opens `name` in `dir` for reading without following a symlink.
pub fn open_in(dir: &OwnedFd, name: &OsStr, flags: OFlag) -> Result<File, Errno> {
    openat(
        dir.as_fd(),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        NixMode::empty(),
    )
    .map(File::from)
}

/// A temporary file that is removed unless committed.
struct Temp<'a> {
    dir: &'a OwnedFd,
    name: Vec<u8>,
    armed: bool,
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = unlinkat(
                self.dir.as_fd(),
                OsStr::from_bytes(&self.name),
                UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

fn create_temp(dir: &OwnedFd) -> Result<(Temp<'_>, File), Failure> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let name = format!(
            ".bootstrap-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(
            dir.as_fd(),
            name.as_str(),
            flags,
            NixMode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => {
                let temp = Temp {
                    dir,
                    name: name.into_bytes(),
                    armed: true,
                };
                return Ok((temp, File::from(fd)));
            }
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(fail("cannot create a temporary file beside")(e)),
        }
    }
}

/// Copies the extended attributes of `from` to `to` (SELinux labels, capabilities set by a
/// package, `user.*` marks). One that cannot be set is logged and skipped.
fn copy_xattrs(from: &File, to: &File) {
    use xattr::FileExt;
    let Ok(names) = from.list_xattr() else { return };
    for name in names {
        if let Ok(Some(value)) = from.get_xattr(&name)
            && let Err(e) = to.set_xattr(&name, &value)
        {
            tracing::warn!(attr = %name.to_string_lossy(), "cannot keep an extended attribute: {e}");
        }
    }
}

/// Replaces `name` in `dir` with `new`. `node_path` names the file for the simulated disk;
/// `before_commit` runs once the new content is durable and before the name changes (the
/// journal line and pending-restart record go there): its error abandons the replacement.
pub fn replace<E: From<Failure>>(
    disk: &Disk,
    node_path: &str,
    dir: &OwnedFd,
    name: &OsStr,
    new: &NewFile,
    before_commit: impl FnOnce() -> Result<(), E>,
) -> Result<Committed, E> {
    let (mut temp, mut file) = create_temp(dir)?;
    disk.write_all(node_path, &mut file, new.contents)
        .map_err(fail_io("cannot write"))?;
    if let Some((uid, gid)) = new.owner {
        fchown(
            file.as_fd(),
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
        )
        .map_err(fail("cannot set the owner of"))?;
    }
    fchmod(file.as_fd(), NixMode::from_bits_truncate(new.mode))
        .map_err(fail("cannot set the mode of"))?;
    if let Ok(old) = open_in(dir, name, OFlag::O_RDONLY | OFlag::O_NONBLOCK) {
        copy_xattrs(&old, &file);
    }
    file.sync_all().map_err(fail_io("cannot sync"))?;
    before_commit()?;
    let how = match renameat(
        dir.as_fd(),
        OsStr::from_bytes(&temp.name),
        dir.as_fd(),
        name,
    ) {
        Ok(()) => {
            temp.armed = false;
            Committed::Renamed
        }
        Err(Errno::EBUSY) => {
            write_in_place(disk, node_path, dir, name, new.contents)?;
            Committed::InPlace
        }
        Err(e) => return Err(fail("cannot replace")(e).into()),
    };
    sync_dir(dir).map_err(fail("cannot sync the directory of"))?;
    Ok(how)
}

/// Writes `contents` over the file `name` in place (its inode, owner, mode and attributes
/// stay), truncates it to length and syncs it.
fn write_in_place(
    disk: &Disk,
    node_path: &str,
    dir: &OwnedFd,
    name: &OsStr,
    contents: &[u8],
) -> Result<(), Failure> {
    tracing::warn!(
        path = node_path,
        "cannot rename over a busy file (a bind mount?): writing it in place"
    );
    let mut file = open_in(dir, name, OFlag::O_WRONLY).map_err(fail("cannot open"))?;
    disk.write_all(node_path, &mut file, contents)
        .map_err(fail_io("cannot write in place"))?;
    file.set_len(contents.len() as u64)
        .map_err(fail_io("cannot truncate"))?;
    file.sync_all().map_err(fail_io("cannot sync"))
}

/// Fsyncs a directory, so a rename or a new name in it survives a crash.
pub fn sync_dir(dir: &OwnedFd) -> Result<(), Errno> {
    nix::unistd::fsync(dir.as_fd())
}

/// Reads a whole file opened from `dir` without following a symlink.
pub fn read_in(dir: &OwnedFd, name: &OsStr) -> Result<Vec<u8>, Errno> {
    let mut file = open_in(dir, name, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    Ok(bytes)
}

/// Metadata of `name` in `dir`, the link itself when it is one.
pub fn lstat_in(dir: &OwnedFd, name: &OsStr) -> Result<nix::sys::stat::FileStat, Errno> {
    fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// Writes `bytes` to `file` through the simulated disk and syncs.
pub fn append_synced(
    disk: &Disk,
    node_path: &str,
    file: &mut File,
    bytes: &[u8],
) -> std::io::Result<()> {
    disk.write_all(node_path, file, bytes)?;
    file.flush()?;
    file.sync_data()
}

/// Why [`create_new_files`] failed.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct NewFilesError {
    /// What was being done.
    pub op: &'static str,
    /// The file or directory.
    pub path: std::path::PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Creates the files `(name, contents, mode)` in the existing directory `dir`, all or none:
/// each is written to a temporary file (mode set before any byte is written), synced, and
/// only when every one is durable are they renamed into place, refusing to replace an
/// existing name (`RENAME_NOREPLACE`). A failure before that (a full disk) leaves no file
/// at all, so the same command can simply be run again. `disk` is the simulated disk of
/// the tests ([`Disk::default`] otherwise).
pub fn create_new_files(
    disk: &Disk,
    dir: &Path,
    files: &[(&str, &[u8], u32)],
) -> Result<Vec<std::path::PathBuf>, NewFilesError> {
    let err = |op, path: &Path| {
        let path = path.to_path_buf();
        move |e: Errno| NewFilesError {
            op,
            path,
            source: e.into(),
        }
    };
    let fd = open_dir(dir).map_err(err("cannot open directory", dir))?;
    let mut temps = Vec::new();
    for (name, contents, mode) in files {
        let path = dir.join(name);
        let (temp, mut file) = create_temp(&fd).map_err(|f| NewFilesError {
            op: f.op,
            path: path.clone(),
            source: f.source,
        })?;
        fchmod(file.as_fd(), NixMode::from_bits_truncate(*mode))
            .map_err(err("cannot set the mode of", &path))?;
        disk.write_all(&path.to_string_lossy(), &mut file, contents)
            .and_then(|()| file.sync_all())
            .map_err(|source| NewFilesError {
                op: "cannot write",
                path: path.clone(),
                source,
            })?;
        temps.push((temp, *name, path));
    }
    let mut written = Vec::new();
    for (mut temp, name, path) in temps {
        rename_noreplace(&fd, &temp.name, name).map_err(err("cannot create", &path))?;
        temp.armed = false;
        written.push(path);
    }
    sync_dir(&fd).map_err(err("cannot sync", dir))?;
    Ok(written)
}

/// `renameat2(dir, from, dir, to, RENAME_NOREPLACE)`: fails with EEXIST instead of replacing.
/// Called through the raw system call because nix and libc expose `renameat2` for glibc only,
/// and the static binary is built against musl (renameat2(2), Linux >= 3.15).
fn rename_noreplace(dir: &OwnedFd, from: &[u8], to: &str) -> nix::Result<()> {
    use nix::libc;
    let from = std::ffi::CString::new(from).map_err(|_| nix::errno::Errno::EINVAL)?;
    let to = std::ffi::CString::new(to).map_err(|_| nix::errno::Errno::EINVAL)?;
    let fd = dir.as_raw_fd();
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call, and `fd` is
    // an open directory descriptor borrowed for its duration.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            fd,
            from.as_ptr(),
            fd,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    nix::errno::Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_are_all_created_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let files: [(&str, &[u8], u32); 2] = [
            ("ca.crt", b"certificate", 0o644),
            ("ca.key", b"private key", 0o600),
        ];
        let prefix = dir.path().join("ca.key").display().to_string();
        let err = create_new_files(&Disk::full_after(&prefix, 3), dir.path(), &files).unwrap_err();
        assert_eq!(err.source.raw_os_error(), Some(nix::libc::ENOSPC), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "nothing is left: {left:?}");
        let written = create_new_files(&Disk::default(), dir.path(), &files).unwrap();
        assert_eq!(written.len(), 2);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(dir.path().join("ca.key")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read(dir.path().join("ca.key")).unwrap(),
            b"private key"
        );
        let again = create_new_files(&Disk::default(), dir.path(), &files).unwrap_err();
        assert_eq!(
            again.source.raw_os_error(),
            Some(nix::libc::EEXIST),
            "{again}"
        );
    }
}
