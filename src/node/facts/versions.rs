//! Installed program versions, one way: an executable at a known path (the Kubernetes
//! binaries the `packages` step installs, judged by [`probe`]) or a program found on `PATH`
//! (`bootstrap version`, by [`program_version`]), each asked with its own version flag.

use std::path::Path;

use crate::host::{Command, Host, HostError, RunError};
use crate::values::KubeVersion;

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
/// containerd.
pub const CONTAINERD: Tool = Tool {
    name: "containerd",
    version_args: &["--version"],
};
/// runc.
pub const RUNC: Tool = Tool {
    name: "runc",
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

/// Runs the program at `real` (a real path, under the root or a staging directory) with the
/// tool's version arguments.
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

/// The first word that looks like a version (`v1.35.0`, `1.7.27`, `2.1.4`), without the `v`:
/// containerd.io prints `containerd containerd.io 1.7.27 <commit>`, runc `runc version 1.2.5`.
pub fn version_word(output: &str) -> Option<String> {
    output.split_whitespace().find_map(|word| {
        let bare = word.trim_start_matches('v');
        let mut parts = bare.split(['-', '+', '~']).next()?.split('.');
        let numeric = parts
            .by_ref()
            .take(3)
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        (numeric && bare.contains('.')).then(|| bare.to_string())
    })
}

/// The version `tool` (found on `PATH`) reports: `None` when it is not installed, the reason
/// when it printed no version.
pub fn program_version(host: &Host, tool: Tool) -> Result<Option<String>, String> {
    let command = Command::new(tool.name)
        .args(tool.version_args.iter().copied())
        .timeout(std::time::Duration::from_secs(10));
    match host.run(&command) {
        // 127: the shell's "command not found" (a wrapper whose program is absent).
        Ok(out) if out.code == Some(127) => Ok(None),
        Ok(out) => version_word(out.stdout.lines().next().unwrap_or(""))
            .or_else(|| version_word(&format!("{}\n{}", out.stdout, out.stderr)))
            .map(Some)
            .ok_or_else(|| format!("printed no version: {}", out.tail(1))),
        Err(HostError::Run(RunError::NotFound { .. })) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_version_outputs() {
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

    #[test]
    fn version_words_of_each_program() {
        let v = |s: &str| version_word(s);
        assert_eq!(v("v1.35.0").as_deref(), Some("1.35.0"));
        assert_eq!(v("Kubernetes v1.34.2").as_deref(), Some("1.34.2"));
        assert_eq!(
            v("containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da")
                .as_deref(),
            Some("1.7.27")
        );
        assert_eq!(
            v("containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376").as_deref(),
            Some("2.1.4")
        );
        assert_eq!(
            v("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3")
                .as_deref(),
            Some("1.6.20~ds1")
        );
        assert_eq!(v("runc version 1.2.5").as_deref(), Some("1.2.5"));
        assert_eq!(v("crictl version v1.35.0").as_deref(), Some("1.35.0"));
        assert_eq!(v("command not found"), None);
        assert_eq!(v("containerd/v2"), None);
    }

    #[test]
    fn a_missing_executable_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path().to_path_buf());
        assert_eq!(
            probe(&host, KUBEADM, &dir.path().join("usr/bin/kubeadm")).unwrap(),
            Probe::Missing
        );
    }
}
