//! Kernel parameters the kernel does not have: a profile key with no file under /proc/sys
//! (of the `--root`) is a typo or a parameter of a module that is not loaded. It is reported
//! with the closest existing key and never written to our sysctl.d file (systemd-sysctl
//! would log an error for it at every boot).
//!
//! Keys that appear only once a module is loaded are not flagged while that module is in
//! `modules.load` and not loaded yet (a fresh node in `plan`): see [`MODULE_PARAMS`].

use crate::formats::sysctl_conf::{normalize_key, proc_path, stays_in_proc_sys};
use crate::host::{Host, HostError};

/// The /proc/sys directories a module registers when it loads, for modules a Kubernetes
/// node commonly lists. From the kernel's `register_net_sysctl_sz` calls:
/// net/bridge/br_netfilter_hooks.c (`"net/bridge"`), net/netfilter/nf_conntrack_standalone.c
/// (`"net/netfilter"`, and `nf_conntrack_max` in `"net"`), net/netfilter/ipvs/ip_vs_ctl.c
/// (`"net/ipv4/vs"`).
pub const MODULE_PARAMS: [(&str, &str); 4] = [
    ("br_netfilter", "net/bridge/"),
    ("nf_conntrack", "net/netfilter/"),
    ("nf_conntrack", "net/nf_conntrack_max"),
    ("ip_vs", "net/ipv4/vs/"),
];

/// Longer keys are not compared with existing ones (no parameter name comes near; the
/// comparison is quadratic in the length).
const MAX_KEY: usize = 255;
/// How deep /proc/sys is walked for suggestions (net/ipv4/conf/eth0/forwarding is 5).
const MAX_DEPTH: usize = 6;

/// A profile key the kernel does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The key as normalised (dots).
    pub key: String,
    /// The closest existing key, if one is close.
    pub suggestion: Option<String>,
    /// Whether the path exists but is a directory (a group of parameters).
    pub is_group: bool,
}

impl Unknown {
    /// One sentence for the report: what, where it was looked for, and what to do.
    pub fn message(&self) -> String {
        let path = format!("/proc/sys/{}", proc_path(&self.key));
        let what = if self.is_group {
            format!(
                "sysctl.\"{}\": {path} is a group of parameters, not one parameter",
                self.key
            )
        } else {
            format!(
                "sysctl.\"{}\": the kernel has no such parameter ({path} does not exist)",
                self.key
            )
        };
        let fix = match &self.suggestion {
            Some(near) => format!("did you mean `{near}`?"),
            None => "check the name with `sysctl -a`, or add the module that provides it to modules.load".to_string(),
        };
        format!("{what}; {fix} It is not written to our sysctl.d file.")
    }
}

/// The profile's keys that do not exist under /proc/sys, except those a module of
/// `modules` (the profile's modules.load) provides once loaded, while it is not loaded yet.
pub fn unknown_keys(
    host: &Host,
    keys: &[&str],
    modules: &[String],
) -> Result<Vec<Unknown>, HostError> {
    let mut missing = Vec::new();
    for key in keys {
        let rel = proc_path(key);
        let path = format!("/proc/sys/{rel}");
        let exists = rel.len() <= 4096 && stays_in_proc_sys(key) && host.exists(&path);
        let is_group = exists && host.is_dir(&path);
        if (exists && !is_group) || awaits_module(host, &rel, modules) {
            continue;
        }
        missing.push(((*key).to_string(), is_group));
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let mut existing = Vec::new();
    walk(host, "", 0, &mut existing)?;
    Ok(missing
        .into_iter()
        .map(|(key, is_group)| Unknown {
            suggestion: closest(&key, &existing),
            key,
            is_group,
        })
        .collect())
}

/// Whether `rel` (a path below /proc/sys) belongs to a module of `modules` that has not
/// registered its parameters yet.
fn awaits_module(host: &Host, rel: &str, modules: &[String]) -> bool {
    MODULE_PARAMS.iter().any(|(module, prefix)| {
        let listed = modules.iter().any(|m| m.replace('-', "_") == *module);
        let registered = host.exists(&format!("/proc/sys/{}", prefix.trim_end_matches('/')));
        listed && !registered && (rel.starts_with(prefix) || rel == prefix.trim_end_matches('/'))
    })
}

/// Every parameter under /proc/sys/`dir`, as dotted keys.
fn walk(host: &Host, dir: &str, depth: usize, out: &mut Vec<String>) -> Result<(), HostError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let node = format!("/proc/sys/{dir}");
    for name in host.list_dir(&node)? {
        let rel = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        let path = format!("/proc/sys/{rel}");
        if host.read_link(&path).is_some() {
            continue;
        }
        if host.is_dir(&path) {
            walk(host, &rel, depth + 1, out)?;
        } else {
            out.push(normalize_key(&rel));
        }
    }
    Ok(())
}

/// The existing key closest to `key` (same number of parts first, then edit distance), if
/// it is close enough to be the intended one.
pub fn closest(key: &str, existing: &[String]) -> Option<String> {
    if key.len() > MAX_KEY {
        return None;
    }
    existing
        .iter()
        .map(|e| (strsim::levenshtein(key, e), e))
        .filter(|(d, e)| *d <= (e.len() / 4).max(2))
        .min_by_key(|(d, e)| (*d, e.len()))
        .map(|(_, e)| e.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_closest_key_is_suggested_and_far_ones_are_not() {
        let existing = keys(&[
            "net.ipv4.ip_forward",
            "net.ipv4.ip_local_port_range",
            "vm.max_map_count",
            "fs.inotify.max_user_watches",
        ]);
        assert_eq!(
            closest("net.ipv4.ip_fowrard", &existing).as_deref(),
            Some("net.ipv4.ip_forward")
        );
        assert_eq!(
            closest("vm.max_mapcount", &existing).as_deref(),
            Some("vm.max_map_count")
        );
        assert_eq!(
            closest("fs.inotify.max_user_watch", &existing).as_deref(),
            Some("fs.inotify.max_user_watches")
        );
        assert_eq!(closest("kernel.totally_else", &existing), None);
        assert_eq!(
            closest(&"n".repeat(10_000), &existing),
            None,
            "long keys are not compared"
        );
    }

    #[test]
    fn missing_keys_with_their_module_listed_wait_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path().to_path_buf());
        std::fs::create_dir_all(dir.path().join("proc/sys/net/ipv4")).unwrap();
        std::fs::write(dir.path().join("proc/sys/net/ipv4/ip_forward"), "0\n").unwrap();
        let bridge = ["net.bridge.bridge-nf-call-iptables"];
        let listed = keys(&["overlay", "br_netfilter"]);
        assert!(unknown_keys(&host, &bridge, &listed).unwrap().is_empty());
        let unlisted = unknown_keys(&host, &bridge, &keys(&["overlay"])).unwrap();
        assert_eq!(unlisted.len(), 1, "not listed: flagged");
        // Loaded: the module's own directory exists, so a typo inside it is flagged.
        std::fs::create_dir_all(dir.path().join("proc/sys/net/bridge")).unwrap();
        std::fs::write(
            dir.path()
                .join("proc/sys/net/bridge/bridge-nf-call-iptables"),
            "1\n",
        )
        .unwrap();
        let typo = unknown_keys(&host, &["net.bridge.bridge-nf-call-iptable"], &listed).unwrap();
        assert_eq!(
            typo[0].suggestion.as_deref(),
            Some("net.bridge.bridge-nf-call-iptables")
        );
        let group = unknown_keys(&host, &["net.ipv4"], &listed).unwrap();
        assert!(group[0].is_group, "{group:?}");
    }
}
