//! The node name when the profile leaves `node.name` out: the machine's hostname, lowercased
//! and trimmed, as kubeadm defaults it (`nodeutil.GetHostname`, k8s.io/component-helpers:
//! `strings.ToLower(strings.TrimSpace(os.Hostname()))`). Read from /proc/sys/kernel/hostname
//! under the root (the live hostname, which cloud-init sets from the instance metadata before
//! `runcmd`), else /etc/hostname.

use crate::host::Host;
use crate::values::name::rfc1123_problem;

/// Why the node name could not be defaulted.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// Neither file gives a hostname.
    #[error(
        "node.name is not set and no hostname was found in /proc/sys/kernel/hostname or /etc/hostname: set node.name in the profile"
    )]
    NoHostname,
    /// The hostname is not a valid node name.
    #[error(
        "node.name is not set and the hostname `{hostname}` is not a valid node name ({problem}): set node.name in the profile, or fix the hostname"
    )]
    Invalid {
        /// The hostname, lowercased.
        hostname: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The machine's hostname as kubeadm would use it for the node name.
pub fn from_hostname(host: &Host) -> Result<String, NameError> {
    let hostname = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| host.read(path).ok().flatten())
        .map(|text| text.trim().to_lowercase())
        .find(|name| !name.is_empty())
        .ok_or(NameError::NoHostname)?;
    match rfc1123_problem(&hostname) {
        Some(problem) => Err(NameError::Invalid { hostname, problem }),
        None => Ok(hostname),
    }
}
