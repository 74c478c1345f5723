//! The programs this step installs and how each reports its version: `kubeadm version -o
//! short`, `kubelet --version`, `kubectl version --client`, `crictl --version`.

use std::path::Path;

use crate::host::{Command, Host, HostError};
use crate::profile::values::KubeVersion;

/// A program and the arguments that make it print its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// File name.
    pub name: &'static str,
    /// Arguments printing the version.
    pub version_args: &'static [&'static str],
}

/// kubeadm.
pub const KUBEADM: Tool = Tool {
    name: "kubeadm",
    version_args: &["version", "-o", "short"],
};
/// kubelet.
pub const KUBELET: Tool = Tool {
    name: "kubelet",
    version_args: &["--version"],
};
/// kubectl.
pub const KUBECTL: Tool = Tool {
    name: "kubectl",
    version_args: &["version", "--client"],
};
/// crictl (cri-tools).
pub const CRICTL: Tool = Tool {
    name: "crictl",
    version_args: &["--version"],
};
/// The three Kubernetes binaries, in install order.
pub const KUBERNETES: [Tool; 3] = [KUBEADM, KUBELET, KUBECTL];

/// What a version probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No such file.
    Missing,
    /// The program reported this version.
    Version(KubeVersion),
    /// The file is there but did not report a version; why.
    Broken(String),
}

impl Probe {
    /// The version, when one was reported.
    pub fn version(&self) -> Option<KubeVersion> {
        match self {
            Probe::Version(v) => Some(*v),
            _ => None,
        }
    }

    /// Short text for messages: `1.31.4`, `not installed`, or why it is broken.
    pub fn describe(&self) -> String {
        match self {
            Probe::Missing => "not installed".into(),
            Probe::Version(v) => v.to_string(),
            Probe::Broken(why) => format!("present but broken ({why})"),
        }
    }
}

/// The first `vMAJOR.MINOR.PATCH` word of a version output (a `-rc.1` or `+meta` suffix is
/// ignored): `Client Version: v1.31.4` → 1.31.4.
pub fn parse_version(output: &str) -> Option<KubeVersion> {
    output.split_whitespace().find_map(|word| {
        let rest = word.strip_prefix('v')?;
        let core = rest.split(['-', '+']).next()?;
        core.parse().ok()
    })
}

/// Runs the program at `real` (a real path, under the root) with the tool's version
/// arguments.
pub fn probe(host: &Host, tool: Tool, real: &Path) -> Result<Probe, HostError> {
    if std::fs::symlink_metadata(real).is_err() {
        return Ok(Probe::Missing);
    }
    let command = Command::new(real.display().to_string())
        .args(tool.version_args.iter().copied())
        .timeout(std::time::Duration::from_secs(20));
    let output = match host.run(&command) {
        Ok(output) => output,
        Err(HostError::Run(e)) => return Ok(Probe::Broken(e.to_string())),
        Err(e) => return Err(e),
    };
    let text = format!("{}\n{}", output.stdout, output.stderr);
    Ok(match (output.success(), parse_version(&text)) {
        (true, Some(v)) => Probe::Version(v),
        _ => Probe::Broken(format!(
            "`{} {}` printed no version: {}",
            tool.name,
            tool.version_args.join(" "),
            output.tail(2)
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_outputs() {
        let v = |s: &str| parse_version(s).map(|v| v.to_string());
        assert_eq!(v("v1.31.4\n").as_deref(), Some("1.31.4"));
        assert_eq!(v("Kubernetes v1.30.2").as_deref(), Some("1.30.2"));
        assert_eq!(
            v("Client Version: v1.31.4\nKustomize Version: v5.4.2\n").as_deref(),
            Some("1.31.4")
        );
        assert_eq!(v("crictl version v1.31.1").as_deref(), Some("1.31.1"));
        assert_eq!(v("v1.32.0-rc.1").as_deref(), Some("1.32.0"));
        assert_eq!(v("command not found"), None);
    }
}
