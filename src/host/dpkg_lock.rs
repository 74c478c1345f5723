//! Waiting for dpkg's lock before apt-get, apt-mark or dpkg runs.
//!
//! apt and dpkg take POSIX record locks (`fcntl(F_SETLK)`, a write lock on the whole file):
//! apt on `/var/lib/dpkg/lock-frontend`, then dpkg on `/var/lib/dpkg/lock`, and
//! `apt-get update` on `/var/lib/apt/lists/lock` (apt: `apt-pkg/contrib/fileutl.cc`,
//! `GetLock`; dpkg: `lib/dpkg/file.c`, `file_lock`). On first boot of a cloud image
//! unattended-upgrades or apt-daily often holds them, and apt-get then fails at once with
//! "Could not get lock". So before such a command runs, each lock is probed with
//! `fcntl(F_GETLK)` (which names the holding process and takes nothing) until it is free or
//! the timeout has passed. A `flock(2)` on those files is not seen, as apt and dpkg do not
//! see it either.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::libc;

/// The lock files apt and dpkg take, in the order apt takes them.
pub const LOCK_FILES: [&str; 3] = [
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/lib/apt/lists/lock",
];

/// How often a held lock is probed again.
const POLL: Duration = Duration::from_millis(250);

/// The process holding a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id; `None` for an open-file-description lock, which has no owner pid.
    pub pid: Option<i32>,
    /// Its command name (`/proc/PID/comm`, at most 15 bytes), when it could be read.
    pub name: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.pid, &self.name) {
            (Some(pid), Some(name)) => write!(f, "process {pid} ({name})"),
            (Some(pid), None) => write!(f, "process {pid}"),
            (None, _) => write!(f, "an open file description lock (no owner pid)"),
        }
    }
}

/// A dpkg lock still held when the wait ran out.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is still held by {holder} after waiting {waited}: another package manager is running (on first boot usually unattended-upgrades or apt-daily); let it finish and apply again, or raise packages.dpkg_lock_timeout"
)]
pub struct DpkgLocked {
    /// The lock file (node path).
    pub path: String,
    /// Who holds it.
    pub holder: Holder,
    /// How long was waited, for people (`10m`).
    pub waited: String,
}

/// Who holds a write-conflicting record lock on `path`; `None` when it is free or missing.
pub fn holder(path: &Path) -> std::io::Result<Option<Holder>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // SAFETY: flock is a plain C struct; all-zero is a valid value that is filled in below.
    let mut query: libc::flock = unsafe { std::mem::zeroed() };
    query.l_type = libc::F_WRLCK as libc::c_short;
    query.l_whence = libc::SEEK_SET as libc::c_short;
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETLK(&mut query))
        .map_err(std::io::Error::from)?;
    if query.l_type == libc::F_UNLCK as libc::c_short {
        return Ok(None);
    }
    let pid = (query.l_pid > 0).then_some(query.l_pid);
    // The pid is the kernel's, so its name is read from this machine's /proc even when
    // files resolve under another root.
    let name = pid.and_then(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|s| s.trim_end().to_string())
    });
    Ok(Some(Holder { pid, name }))
}

/// Waits until none of `locks` (`(node path, real path)`) is held, up to `timeout`,
/// calling `report` with the node path, holder and time waited at every probe that finds a
/// lock held (the caller's progress reporter decides when to say so).
pub fn wait(
    locks: &[(&str, std::path::PathBuf)],
    timeout: Duration,
    mut report: impl FnMut(&str, &Holder, Duration),
) -> Result<(), WaitError> {
    let start = Instant::now();
    'probe: loop {
        for (node_path, real) in locks {
            let Some(holder) = holder(real).map_err(|source| WaitError::Io {
                path: node_path.to_string(),
                source,
            })?
            else {
                continue;
            };
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(WaitError::Locked(DpkgLocked {
                    path: node_path.to_string(),
                    holder,
                    waited: humantime::format_duration(Duration::from_secs(waited.as_secs()))
                        .to_string(),
                }));
            }
            report(node_path, &holder, waited);
            std::thread::sleep(POLL.min(timeout - waited));
            continue 'probe;
        }
        return Ok(());
    }
}

/// Why the wait for dpkg's lock failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Still held at the timeout.
    #[error(transparent)]
    Locked(#[from] DpkgLocked),
    /// A lock file could not be probed.
    #[error("cannot probe the dpkg lock {path}: {source}")]
    Io {
        /// The lock file (node path).
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::{ForkResult, fork, pipe, read, write};

    fn write_lock(file: &File) -> nix::Result<libc::c_int> {
        // SAFETY: all-zero is a valid flock; the fields that matter are set.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        fcntl(file, FcntlArg::F_SETLK(&lock))
    }

    #[test]
    fn a_free_missing_or_own_lock_has_no_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        assert_eq!(holder(&path).unwrap(), None, "missing");
        std::fs::write(&path, "").unwrap();
        assert_eq!(holder(&path).unwrap(), None, "free");
        // A lock this process holds never conflicts with this process.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        write_lock(&file).unwrap();
        assert_eq!(holder(&path).unwrap(), None, "own lock");
    }

    #[test]
    fn a_lock_held_by_another_process_is_named_and_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock-frontend");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap();
        let (ready_r, ready_w) = pipe().unwrap();
        // SAFETY: the child only calls async-signal-safe functions (fcntl, write, pause).
        let child = match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let ok = write_lock(&file).is_ok();
                let _ = write(&ready_w, if ok { b"y" } else { b"n" });
                loop {
                    nix::unistd::pause();
                }
            }
            ForkResult::Parent { child } => child,
        };
        let mut byte = [0u8];
        read(&ready_r, &mut byte).unwrap();
        let found = holder(&path);
        let reports = std::cell::Cell::new(0);
        let waited = wait(
            &[("/var/lib/dpkg/lock-frontend", path.clone())],
            Duration::from_millis(600),
            |_, _, _| reports.set(reports.get() + 1),
        );
        kill(child, Signal::SIGKILL).unwrap();
        nix::sys::wait::waitpid(child, None).unwrap();
        assert_eq!(byte, *b"y", "the child took the lock");
        let own_name = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
        assert_eq!(
            found.unwrap(),
            Some(Holder {
                pid: Some(child.as_raw()),
                name: Some(own_name.trim_end().to_string()),
            }),
            "a forked child keeps the name of the thread that forked it"
        );
        let err = waited.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "/var/lib/dpkg/lock-frontend is still held by process {} (",
                child.as_raw()
            )),
            "{err}"
        );
        assert!(err.contains("packages.dpkg_lock_timeout"), "{err}");
        assert!(
            reports.get() >= 2,
            "reported at every probe that found it held (the caller throttles): {}",
            reports.get()
        );
        assert_eq!(
            holder(&path).unwrap(),
            None,
            "released when the holder died"
        );
    }
}
