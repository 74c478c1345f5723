//! The cgroup version the node runs: v2 only (unified), v1 with v2 beside it (hybrid), v1
//! only (legacy). The same test systemd and the kubelet make: `cgroup.controllers` exists
//! at the top of /sys/fs/cgroup only on a cgroup2 mount
//! (<https://docs.kernel.org/admin-guide/cgroup-v2.html>), else the mount table says which
//! file systems are mounted where.

use procfs_core::FromRead;
use procfs_core::process::MountInfos;

use crate::host::{Host, HostError};

/// How cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v2 only (`/sys/fs/cgroup/cgroup.controllers` exists).
    Unified,
    /// v1 controllers with v2 at /sys/fs/cgroup/unified.
    Hybrid,
    /// cgroup v1 only.
    Legacy,
    /// No cgroup file system found.
    Unknown,
}

impl CgroupMode {
    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            CgroupMode::Unified => "cgroup v2 (unified)",
            CgroupMode::Hybrid => "cgroup v1 with v2 at /sys/fs/cgroup/unified (hybrid)",
            CgroupMode::Legacy => "cgroup v1 (legacy)",
            CgroupMode::Unknown => "no cgroup file system found",
        }
    }

    /// cgroup v1 controllers are in use (legacy or hybrid).
    pub fn is_v1(self) -> bool {
        matches!(self, CgroupMode::Legacy | CgroupMode::Hybrid)
    }
}

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The cgroup mode from /sys/fs/cgroup and /proc/self/mountinfo under the root.
pub fn mode(host: &Host) -> Result<CgroupMode, HostError> {
    if host.exists("/sys/fs/cgroup/cgroup.controllers") {
        return Ok(CgroupMode::Unified);
    }
    let Some(bytes) = host.read_bytes(MOUNTINFO)? else {
        return Ok(CgroupMode::Unknown);
    };
    let mounts = MountInfos::from_read(bytes.as_slice()).map_err(|e| HostError::Io {
        op: "cannot parse",
        path: host.path(MOUNTINFO).display().to_string(),
        source: std::io::Error::other(e),
    })?;
    let has = |fs: &str, at: &str| {
        mounts
            .0
            .iter()
            .any(|m| m.fs_type == fs && m.mount_point.starts_with(at))
    };
    Ok(if has("cgroup2", "/sys/fs/cgroup/unified") {
        CgroupMode::Hybrid
    } else if has("cgroup", "/sys/fs/cgroup") {
        CgroupMode::Legacy
    } else if has("cgroup2", "/sys/fs/cgroup") {
        CgroupMode::Unified
    } else {
        CgroupMode::Unknown
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::root_with;
    use super::*;

    const V1: &str = "25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
38 33 0:33 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
";
    const HYBRID_EXTRA: &str = "34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
";
    const V2: &str = "25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn each_mode() {
        let (_d, unified) = root_with(&[("/sys/fs/cgroup/cgroup.controllers", "cpu memory\n")]);
        assert_eq!(mode(&unified).unwrap(), CgroupMode::Unified);
        let (_d, legacy) = root_with(&[(MOUNTINFO, V1)]);
        assert_eq!(mode(&legacy).unwrap(), CgroupMode::Legacy);
        assert!(CgroupMode::Legacy.is_v1());
        let hybrid_text = format!("{V1}{HYBRID_EXTRA}");
        let (_d, hybrid) = root_with(&[(MOUNTINFO, &hybrid_text)]);
        assert_eq!(mode(&hybrid).unwrap(), CgroupMode::Hybrid);
        assert!(CgroupMode::Hybrid.is_v1());
        let (_d, v2_mounted) = root_with(&[(MOUNTINFO, V2)]);
        assert_eq!(mode(&v2_mounted).unwrap(), CgroupMode::Unified);
        assert!(!CgroupMode::Unified.is_v1());
        let (_d, none) = root_with(&[]);
        assert_eq!(mode(&none).unwrap(), CgroupMode::Unknown);
    }
}
