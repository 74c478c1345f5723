//! Facts about the node's runtime that the `cgroup` and `containerd` steps and the kubeadm
//! failure diagnosis all need, read one way: containerd's CRI settings from the config file
//! the profile names (`containerd.config_path`, never an assumed path), and the kubelet's
//! cgroup driver from the kubelet config kubeadm wrote.

use crate::formats::containerd_config::{self, ConfigError, RuntimeFacts};
use crate::host::{Host, HostError};

/// The kubelet configuration kubeadm writes in its kubelet-start phase.
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";

/// containerd's CRI settings from the config file at node path `path`: `None` when the
/// file does not exist, the parse error when it is not a containerd config.
pub fn containerd(
    host: &Host,
    path: &str,
) -> Result<Option<Result<RuntimeFacts, ConfigError>>, HostError> {
    Ok(host.read(path)?.map(|text| containerd_config::facts(&text)))
}

/// The `cgroupDriver:` of a kubelet config file (a top-level YAML scalar).
pub fn kubelet_config_driver(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("cgroupDriver:"))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
}

/// The kubelet's cgroup driver on this node: `None` when the kubelet config or the field is
/// absent.
pub fn kubelet_driver(host: &Host) -> Result<Option<String>, HostError> {
    Ok(host
        .read(KUBELET_CONFIG)?
        .as_deref()
        .and_then(kubelet_config_driver))
}
