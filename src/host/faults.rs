//! A test-only seam: a full disk, simulated. `main` reads `BOOTSTRAP_TEST_ENOSPC` (honoured
//! only with a `--root` other than `/`) and the host then writes files under one node path
//! prefix the way a nearly full file system does: as many bytes as are still "free", then
//! `ENOSPC`. Nothing else in the code knows about it; without it writes go straight through.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable `main` reads: `NODE_PATH_PREFIX:FREE_BYTES`, for example
/// `/var/lib/bootstrap/journal.jsonl:10`.
pub const ENOSPC_VAR: &str = "BOOTSTRAP_TEST_ENOSPC";

/// The simulated disk: unlimited unless built with [`Disk::full_after`].
#[derive(Debug, Default)]
pub struct Disk {
    limit: Option<(String, AtomicU64)>,
}

impl Disk {
    /// Writes under `prefix` fail with ENOSPC once `free` bytes have been written there.
    pub fn full_after(prefix: &str, free: u64) -> Self {
        Disk {
            limit: Some((prefix.to_string(), AtomicU64::new(free))),
        }
    }

    /// Parses the value of [`ENOSPC_VAR`]; `None` when it is malformed.
    pub fn parse(spec: &str) -> Option<Self> {
        let (prefix, free) = spec.rsplit_once(':')?;
        Some(Disk::full_after(prefix, free.trim().parse().ok()?))
    }

    /// Writes `bytes` to `out`, which holds the node path `node_path`: all of them, or as
    /// many as fit followed by an ENOSPC error (a short write, as a real file system does).
    pub fn write_all(
        &self,
        node_path: &str,
        out: &mut impl Write,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        let Some((prefix, free)) = &self.limit else {
            return out.write_all(bytes);
        };
        if !node_path.starts_with(prefix.as_str()) {
            return out.write_all(bytes);
        }
        let left = free.load(Ordering::SeqCst);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
        out.write_all(&bytes[..n])?;
        free.fetch_sub(n as u64, Ordering::SeqCst);
        if n < bytes.len() {
            return Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_write_then_enospc_only_under_the_prefix() {
        let disk = Disk::parse("/var/lib:3").unwrap();
        let mut out = Vec::new();
        disk.write_all("/etc/hosts", &mut out, b"hello").unwrap();
        let err = disk
            .write_all("/var/lib/x", &mut out, b"world")
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC));
        assert_eq!(out, b"hellowor");
        assert!(Disk::parse("nonsense").is_none());
    }
}
