//! Where the agent keeps its state on the node, and the small path helpers every file
//! operation of the seam shares (error naming, parent and name, directory descriptors).

use std::ffi::OsStr;
use std::path::Path;

use super::HostError;
use super::atomic;

/// The directory, on the node, where the agent keeps its state (backups, journal).
pub const STATE_DIR: &str = "/var/lib/bootstrap";

/// An error mapper naming the operation and the path it failed on.
pub(super) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> HostError + 'a {
    move |source| HostError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// The parent directory and last name of a resolved path.
pub(super) fn split(path: &Path) -> (&Path, &OsStr) {
    (
        path.parent().unwrap_or(Path::new("/")),
        path.file_name().unwrap_or(OsStr::new(".")),
    )
}

/// Opens a resolved directory as a descriptor for the `*at` calls.
pub(super) fn open_dir(dir: &Path) -> Result<std::os::fd::OwnedFd, HostError> {
    atomic::open_dir(dir).map_err(|e| io_err("cannot open directory", dir)(e.into()))
}
