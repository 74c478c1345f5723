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
