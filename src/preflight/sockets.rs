//! Listening TCP sockets from `/proc/net/tcp` and `/proc/net/tcp6`, and the process owning
//! each (found through the `socket:[INODE]` links in `/proc/PID/fd`). Parsing is pure; the
//! reading goes through the host, so a sandbox root's `/proc` is a fixture the test wrote and
//! this machine's `/proc` is read only when the root is `/`.

use std::collections::BTreeMap;

use procfs_core::net::{TcpNetEntries, TcpState};
use procfs_core::{ExplicitSystemInfo, FromReadSI};

use crate::host::{Host, HostError};

/// A socket in the LISTEN state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The local port.
    pub port: u16,
    /// The local address, as text (`0.0.0.0`, `127.0.0.1`, `::`).
    pub address: String,
    /// The socket's inode (to find its process).
    pub inode: u64,
    /// `NAME (pid PID)` of a process holding it, when one could be found.
    pub process: Option<String>,
}

/// The listeners of one `/proc/net/tcp`-format table (`None`: not that format).
pub fn parse_listeners(text: &str) -> Option<Vec<Listener>> {
    let info = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    };
    let entries = TcpNetEntries::from_read(text.as_bytes(), &info).ok()?;
    Some(
        entries
            .0
            .into_iter()
            .filter(|e| e.state == TcpState::Listen)
            .map(|e| Listener {
                port: e.local_address.port(),
                address: e.local_address.ip().to_string(),
                inode: e.inode,
                process: None,
            })
            .collect(),
    )
}

/// The `INODE` of a `socket:[INODE]` link target.
fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Socket inode → `NAME (pid PID)`, from `/proc/PID/fd/*` and `/proc/PID/comm` under the
/// root. Processes whose fd directory cannot be read (another user's, without privileges)
/// are passed over.
fn socket_owners(host: &Host, wanted: &[u64]) -> Result<BTreeMap<u64, String>, HostError> {
    let mut owners = BTreeMap::new();
    let pids = host
        .list_dir("/proc")?
        .into_iter()
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()));
    for pid in pids {
        let fd_dir = format!("/proc/{pid}/fd");
        let Ok(fds) = host.list_dir(&fd_dir) else {
            continue;
        };
        for fd in fds {
            let Some(target) = host.read_link(&format!("{fd_dir}/{fd}")) else {
                continue;
            };
            let Some(inode) = socket_inode(&target.to_string_lossy()) else {
                continue;
            };
            if wanted.contains(&inode) && !owners.contains_key(&inode) {
                let name = host
                    .read(&format!("/proc/{pid}/comm"))
                    .ok()
                    .flatten()
                    .map_or_else(|| "?".to_string(), |c| c.trim().to_string());
                owners.insert(inode, format!("{name} (pid {pid})"));
            }
        }
    }
    Ok(owners)
}

/// The listening sockets on `ports`, with their processes where found. `None` when neither
/// table exists under the root (nothing can be said about ports).
pub fn listeners_on(host: &Host, ports: &[u16]) -> Result<Option<Vec<Listener>>, HostError> {
    let mut found = Vec::new();
    let mut any_table = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Some(text) = host.read(table)? {
            any_table = true;
            found.extend(
                parse_listeners(&text)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| ports.contains(&l.port)),
            );
        }
    }
    if !any_table {
        return Ok(None);
    }
    if !found.is_empty() {
        let inodes: Vec<u64> = found.iter().map(|l| l.inode).collect();
        let owners = socket_owners(host, &inodes)?;
        for l in &mut found {
            l.process = owners.get(&l.inode).cloned();
        }
    }
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:280A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D2C4 01 00000000:00000000 00:00000000 00000000  1000        0 0 1 0000000000000000 100 0 0 10 0\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000000000000:192B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n";

    #[test]
    fn listeners_only() {
        let l = parse_listeners(TCP).unwrap();
        assert_eq!(l.len(), 1, "the established socket is not a listener");
        assert_eq!(
            (l[0].port, l[0].address.as_str(), l[0].inode),
            (10250, "127.0.0.1", 123456)
        );
        let l6 = parse_listeners(TCP6).unwrap();
        assert_eq!((l6[0].port, l6[0].address.as_str()), (6443, "::"));
        assert!(parse_listeners("garbage\nnot a table at all\n").is_none());
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[123456]"), Some(123456));
        assert_eq!(socket_inode("pipe:[1]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }
}
