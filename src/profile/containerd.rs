//! `[containerd]`: how the container runtime is installed and configured.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[containerd]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Containerd {
    /// `package` (default): install the distribution package with apt when missing.
    /// `none`: containerd must already be installed (prebuilt images).
    #[serde(default)]
    pub install: Install,
    /// The apt package (Debian/Ubuntu `containerd`; Docker's repository calls it `containerd.io`).
    #[serde(default = "default_package")]
    pub package: String,
    /// The config file.
    #[serde(default = "default_config_path")]
    pub config_path: String,
    /// The runtime socket, written to /etc/crictl.yaml.
    #[serde(default = "default_socket")]
    pub socket: String,
    /// The pause image; default: the one the profile's Kubernetes version uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_image: Option<String>,
    /// Where CNI plugins live (the kubernetes-cni package and the CNI tarball use /opt/cni/bin).
    #[serde(default = "default_cni_bin_dir")]
    pub cni_bin_dir: String,
    /// Registry mirrors: `"docker.io" = ["https://mirror.example"]`, written as
    /// `certs.d/<registry>/hosts.toml` with `config_path` pointing there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mirrors: BTreeMap<String, Vec<String>>,
}

/// How containerd gets onto the node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Install {
    /// apt-get install the package when containerd is missing.
    #[default]
    Package,
    /// Never install; fail clearly when it is missing.
    None,
}

/// The directory of registry host files.
pub const CERTS_DIR: &str = "/etc/containerd/certs.d";

fn default_package() -> String {
    "containerd".into()
}

fn default_config_path() -> String {
    "/etc/containerd/config.toml".into()
}

fn default_socket() -> String {
    "/run/containerd/containerd.sock".into()
}

fn default_cni_bin_dir() -> String {
    "/opt/cni/bin".into()
}

impl Default for Containerd {
    fn default() -> Self {
        Containerd {
            install: Install::default(),
            package: default_package(),
            config_path: default_config_path(),
            socket: default_socket(),
            sandbox_image: None,
            cni_bin_dir: default_cni_bin_dir(),
            mirrors: BTreeMap::new(),
        }
    }
}

/// Why `name` is not a registry host as containerd names its `certs.d` directories
/// (`host[:port]`, or `_default`), or `None` when it is one. The name becomes a directory
/// and a TOML string, so nothing else may pass: no `/`, `..`, quotes, spaces or control
/// characters (containerd docs/hosts.md, "Registry Host Namespace").
pub fn registry_problem(name: &str) -> Option<String> {
    if name == "_default" {
        return None;
    }
    let (host, port) = match name.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (name, None),
    };
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Some(format!("port `{port}` is not a number from 1 to 65535"));
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_err()
            .then(|| format!("`{v6}` is not an IPv6 address"));
    }
    if host.is_empty() || host.len() > 253 {
        return Some("the host name is empty or longer than 253 characters".into());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (`..`, or a dot at an end)".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Some(format!("it contains {c:?}"));
        }
        if label.starts_with('-') || label.ends_with('-') || label.len() > 63 {
            return Some(format!(
                "label `{label}` starts or ends with `-`, or is longer than 63 characters"
            ));
        }
    }
    None
}

/// Why `url` cannot be a mirror in `hosts.toml`, or `None`: an http(s) URL with a host and
/// nothing that would break the TOML string it is written into; credentials are refused
/// (hosts.toml is world-readable and containerd takes registry credentials elsewhere).
pub fn mirror_problem(url: &str) -> Option<String> {
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "\"\\".contains(c))
    {
        return Some("it contains a space, quote, backslash or control character".into());
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("it is not a URL".into());
    };
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Some("it is not an http:// or https:// URL with a host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some(
            "it holds credentials (user:password@), which hosts.toml would show to every user"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names() {
        for good in [
            "docker.io",
            "registry.example:5000",
            "localhost:5000",
            "_default",
            "[fd00::1]:5000",
            "10.0.0.5",
        ] {
            assert_eq!(registry_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "..",
            "../../etc",
            "a..b",
            "docker.io\"\nx",
            "a b",
            "a/b",
            "host:0",
            "host:99999",
            "[zz]:1",
            "-a.io",
            "ré.io",
        ] {
            assert!(registry_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn mirror_urls() {
        assert_eq!(mirror_problem("https://mirror.gcr.io"), None);
        assert_eq!(mirror_problem("http://10.0.0.1:5000/v2"), None);
        for bad in [
            "https://u:p@m.io",
            "https://m.io\"]\nx = 1",
            "ftp://m.io",
            "m.io",
            "https://m .io",
        ] {
            assert!(mirror_problem(bad).is_some(), "{bad:?}");
        }
    }
}
