//! The programs this step installs (how each reports its version is in
//! [`crate::node::facts::versions`], re-exported here); and the host
//! tools kubeadm's preflight looks for on `PATH` ([`host_tools`]), with the Debian package
//! shipping each.

use crate::host::Host;
use crate::values::KubeVersion;

pub use crate::node::facts::versions::{
    CRICTL, KUBEADM, KUBECTL, KUBELET, KUBERNETES, Probe, Tool, parse_version, probe,
};

/// How kubeadm's preflight treats a missing host tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `[ERROR FileExisting-NAME]`: kubeadm stops.
    Required,
    /// `[WARNING FileExisting-NAME]`: kubeadm goes on.
    Warned,
}

/// An executable kubeadm's preflight looks for on `PATH` (its `InPathCheck`), and the Debian
/// / Ubuntu package that ships it (`None`: installed by this step itself, like crictl).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostTool {
    /// The executable's name.
    pub name: &'static str,
    /// The Debian package shipping it.
    pub package: Option<&'static str>,
    /// Error or warning when missing.
    pub need: Need,
}

impl HostTool {
    /// kubeadm's name for the check (`FileExisting-conntrack`), as `--ignore-preflight-errors`
    /// takes it.
    pub fn check_name(&self) -> String {
        format!("FileExisting-{}", self.name)
    }
}

/// Directories searched for host tools, under the root: Debian's default `PATH` for root
/// (/etc/login.defs `ENV_SUPATH`, and what systemd gives units), which is where kubeadm,
/// run by bootstrap, cloud-init or a person with sudo, finds them. The node's files are
/// read, never this process's `PATH`, so a sandbox root is judged by its own files.
pub const SEARCH_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

const fn tool(name: &'static str, package: Option<&'static str>, need: Need) -> HostTool {
    HostTool {
        name,
        package,
        need,
    }
}

/// The executables kubeadm `version`'s preflight checks (`addExecChecks` in
/// kubernetes/kubernetes cmd/kubeadm/app/preflight/checks_linux.go): `ip`, `iptables`,
/// `mount`, `nsenter` required; `ebtables`, `ethtool`, `socat`, `tc`, `touch` warned about.
/// `conntrack` is required below 1.32 and no longer checked from 1.32 (kube-proxy stopped
/// calling it, kubernetes/kubernetes#126952): bootstrap still warns, as kube-proxy's
/// conntrack cleanup and debugging use it. `crictl` was required while kubeadm drove the
/// runtime through it (below 1.31, `InPathCheck{executable: "crictl", mandatory: true}`);
/// from 1.31 kubeadm talks CRI itself and bootstrap only warns (its diagnosis uses crictl).
pub fn host_tools(version: KubeVersion) -> Vec<HostTool> {
    use Need::{Required, Warned};
    let below = |minor: u32| {
        if version.minor < minor {
            Required
        } else {
            Warned
        }
    };
    vec![
        tool("crictl", None, below(31)),
        tool("conntrack", Some("conntrack"), below(32)),
        tool("ip", Some("iproute2"), Required),
        tool("iptables", Some("iptables"), Required),
        tool("mount", Some("mount"), Required),
        tool("nsenter", Some("util-linux"), Required),
        tool("ebtables", Some("ebtables"), Warned),
        tool("ethtool", Some("ethtool"), Warned),
        tool("socat", Some("socat"), Warned),
        tool("tc", Some("iproute2"), Warned),
        tool("touch", Some("coreutils"), Warned),
    ]
}

/// Where `name` is on the node (a node path), searching [`SEARCH_PATH`] then `extra`.
pub fn find_executable(host: &Host, name: &str, extra: &[&str]) -> Option<String> {
    SEARCH_PATH
        .iter()
        .chain(extra)
        .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
        .find(|path| host.exists(path))
}

/// The host tools of `version` missing on the node, with their presence decided by
/// [`find_executable`] (`extra`: more directories, such as the binary method's install dir).
pub fn missing_host_tools(host: &Host, version: KubeVersion, extra: &[&str]) -> Vec<HostTool> {
    host_tools(version)
        .into_iter()
        .filter(|t| find_executable(host, t.name, extra).is_none())
        .collect()
}

/// The Debian packages that bring `tools`, each once, in order.
pub fn packages_for(tools: &[HostTool]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for package in tools.iter().filter_map(|t| t.package) {
        if !out.contains(&package) {
            out.push(package);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(version: &str, name: &str) -> Need {
        host_tools(version.parse().unwrap())
            .into_iter()
            .find(|t| t.name == name)
            .unwrap()
            .need
    }

    #[test]
    fn conntrack_and_crictl_follow_the_version() {
        assert_eq!(need("1.31.4", "conntrack"), Need::Required);
        assert_eq!(need("1.32.0", "conntrack"), Need::Warned);
        assert_eq!(need("1.30.2", "crictl"), Need::Required);
        assert_eq!(need("1.31.0", "crictl"), Need::Warned);
        for name in ["ip", "iptables", "mount", "nsenter"] {
            assert_eq!(need("1.35.2", name), Need::Required, "{name}");
        }
        for name in ["ebtables", "ethtool", "socat", "tc"] {
            assert_eq!(need("1.26.0", name), Need::Warned, "{name}");
        }
    }

    #[test]
    fn packages_once_each() {
        let tools = host_tools("1.31.4".parse().unwrap());
        assert_eq!(
            packages_for(&tools),
            [
                "conntrack",
                "iproute2",
                "iptables",
                "mount",
                "util-linux",
                "ebtables",
                "ethtool",
                "socat",
                "coreutils"
            ]
        );
    }
}
