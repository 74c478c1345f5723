//! One `apply` at a time per node: an exclusive `flock` on a file under `/run`.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

/// Holds the node lock until dropped.
#[derive(Debug)]
pub struct NodeLock {
    _lock: Flock<File>,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another bootstrap run (pid {holder}) holds the node lock {path}; wait for it to finish, or pass --lock-wait SECONDS"
    )]
    Held {
        /// The lock file.
        path: String,
        /// Process id written by the holder, or `unknown`.
        holder: String,
    },
    /// The lock file could not be opened.
    #[error("cannot open lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Makes the lock file root's and 0600 (an existing one may be world-readable, and any user
/// who can open it can hold the lock: `flock` needs only a read descriptor). Without root
/// privileges (a sandbox) only the mode is set.
fn restrict(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if nix::unistd::geteuid().is_root() && file.metadata()?.uid() != 0 {
        nix::unistd::fchown(file, Some(0.into()), Some(0.into()))?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Takes the lock at `path` (never through a symlink), retrying until `wait` has passed and
/// calling `report` with the holder's pid at every retry.
pub fn acquire(
    path: &Path,
    wait: Duration,
    pid: u32,
    mut report: impl FnMut(&str),
) -> Result<NodeLock, LockError> {
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    let deadline = Instant::now() + wait;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(io)?;
    restrict(&file).map_err(io)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                lock.set_len(0).map_err(io)?;
                lock.rewind().map_err(io)?;
                writeln!(lock, "{pid}").map_err(io)?;
                return Ok(NodeLock { _lock: lock });
            }
            Err((returned, _)) => {
                file = returned;
                let mut holder = String::new();
                let _ = file
                    .rewind()
                    .and_then(|()| file.read_to_string(&mut holder));
                let holder = match holder.trim() {
                    "" => "unknown".to_string(),
                    pid => pid.to_string(),
                };
                if Instant::now() >= deadline {
                    return Err(LockError::Held {
                        path: path.display().to_string(),
                        holder,
                    });
                }
                report(&holder);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/bootstrap.lock");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _first = acquire(&path, Duration::ZERO, 4242, |_| {}).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let err = acquire(&path, Duration::ZERO, 1, |_| {}).unwrap_err();
        assert!(err.to_string().contains("pid 4242"), "{err}");
    }

    #[test]
    fn a_linked_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let path = dir.path().join("bootstrap.lock");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        assert!(acquire(&path, Duration::ZERO, 1, |_| {}).is_err());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    }
}
