//! `[packages]`: how kubeadm, kubelet and kubectl (and cri-tools, and the CNI plugins when
//! asked) are installed at `[kubernetes] version`: from the pkgs.k8s.io apt repository, as
//! checksummed downloads from dl.k8s.io, from a local bundle, or not at all.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::kubeadm::Span;
use crate::values::{Invalid, KubeVersion};

/// Where release binaries are downloaded from (`/vX.Y.Z/bin/linux/<arch>/<name>`).
pub const DEFAULT_RELEASE_URL: &str = "https://dl.k8s.io/release";
/// The pkgs.k8s.io stable channel; one repository per minor below it (`/v1.31/deb/`).
pub const DEFAULT_APT_URL: &str = "https://pkgs.k8s.io/core:/stable:";
/// cri-tools release downloads (`/vX.Y.Z/crictl-vX.Y.Z-linux-<arch>.tar.gz`).
pub const DEFAULT_CRI_TOOLS_URL: &str =
    "https://github.com/kubernetes-sigs/cri-tools/releases/download";
/// CNI plugins release downloads (`/vX.Y.Z/cni-plugins-linux-<arch>-vX.Y.Z.tgz`).
pub const DEFAULT_CNI_PLUGINS_URL: &str =
    "https://github.com/containernetworking/plugins/releases/download";
/// How long apt-get, apt-mark (and containerd's package install) wait for dpkg's lock.
pub const DEFAULT_DPKG_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
/// Where the binary and bundle methods put kubeadm, kubelet, kubectl and crictl.
pub const DEFAULT_INSTALL_DIR: &str = "/usr/local/bin";

/// `[packages]` section. Used only when `[kubernetes]` is present.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// How to install: `apt` (default), `binary`, `bundle` or `none`.
    #[serde(default)]
    pub method: Method,
    /// Install crictl (apt: the `cri-tools` package). Default true.
    #[serde(default = "yes")]
    pub cri_tools: bool,
    /// The cri-tools version; default: the Kubernetes minor with patch 0 (1.31.0 for 1.31.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_tools_version: Option<ToolVersion>,
    /// Install the CNI plugins at this version into /opt/cni/bin (apt: `kubernetes-cni`
    /// pinned to it). Absent: not installed by this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_plugins: Option<ToolVersion>,
    /// Allow a downgrade or a jump of more than one minor (against the skew policy).
    #[serde(default)]
    pub force: bool,
    /// binary and bundle: the directory the binaries go to.
    #[serde(default = "default_install_dir")]
    pub install_dir: String,
    /// bundle: a directory or a `.tar`/`.tar.gz` on the node holding the files and a
    /// `SHA256SUMS` manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Base URL of Kubernetes release binaries (a mirror of dl.k8s.io/release).
    #[serde(default = "default_release_url")]
    pub release_url: BaseUrl,
    /// Base URL of the pkgs.k8s.io stable channel (a mirror of it).
    #[serde(default = "default_apt_url")]
    pub apt_url: BaseUrl,
    /// Base URL of cri-tools release downloads.
    #[serde(default = "default_cri_tools_url")]
    pub cri_tools_url: BaseUrl,
    /// Base URL of CNI plugins release downloads.
    #[serde(default = "default_cni_plugins_url")]
    pub cni_plugins_url: BaseUrl,
    /// HTTP(S) proxy for downloads; default: `HTTPS_PROXY` from the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<BaseUrl>,
    /// Hosts, domains (`.example.com`) and networks reached without the proxy; default:
    /// `NO_PROXY` from the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<Vec<String>>,
    /// How long apt-get and apt-mark wait for dpkg's lock when another package manager
    /// (unattended-upgrades, apt-daily) holds it; also used by containerd's package
    /// install, with or without `[kubernetes]`. Default 10m.
    #[serde(default = "default_dpkg_lock_timeout")]
    pub dpkg_lock_timeout: Span,
}

impl Default for Packages {
    fn default() -> Self {
        Packages {
            method: Method::default(),
            cri_tools: true,
            cri_tools_version: None,
            cni_plugins: None,
            force: false,
            install_dir: default_install_dir(),
            bundle: None,
            release_url: default_release_url(),
            apt_url: default_apt_url(),
            cri_tools_url: default_cri_tools_url(),
            cni_plugins_url: default_cni_plugins_url(),
            proxy: None,
            no_proxy: None,
            dpkg_lock_timeout: default_dpkg_lock_timeout(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_dpkg_lock_timeout() -> Span {
    Span(DEFAULT_DPKG_LOCK_TIMEOUT)
}

fn default_install_dir() -> String {
    DEFAULT_INSTALL_DIR.to_string()
}

fn default_release_url() -> BaseUrl {
    BaseUrl(DEFAULT_RELEASE_URL.to_string())
}

fn default_apt_url() -> BaseUrl {
    BaseUrl(DEFAULT_APT_URL.to_string())
}

fn default_cri_tools_url() -> BaseUrl {
    BaseUrl(DEFAULT_CRI_TOOLS_URL.to_string())
}

fn default_cni_plugins_url() -> BaseUrl {
    BaseUrl(DEFAULT_CNI_PLUGINS_URL.to_string())
}

/// How the Kubernetes binaries get onto the node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The pkgs.k8s.io apt repository for the minor, versions pinned and held.
    #[default]
    Apt,
    /// Checksummed downloads from dl.k8s.io (or `release_url`).
    Binary,
    /// The same files from a local directory or tarball with a sha256 manifest.
    Bundle,
    /// Leave them alone (preinstalled images).
    None,
}

impl Method {
    /// The value as written in the profile.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Apt => "apt",
            Method::Binary => "binary",
            Method::Bundle => "bundle",
            Method::None => "none",
        }
    }
}

/// An `http://` or `https://` URL with a host, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BaseUrl {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let expected = || {
            Invalid::new(
                format!("invalid URL `{text}`"),
                "an http:// or https:// URL with a host, such as https://dl.k8s.io/release",
            )
        };
        let url = reqwest::Url::parse(text.trim()).map_err(|e| expected().because(e))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none_or(str::is_empty)
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(expected());
        }
        Ok(BaseUrl(text.trim().trim_end_matches('/').to_string()))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Shown (`profile show`) without credentials: user information becomes `<redacted>`.
impl Serialize for BaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::values::redact_userinfo(&self.0))
    }
}

/// The release version of a tool other than Kubernetes itself (cri-tools, CNI plugins),
/// `MAJOR.MINOR.PATCH` with an optional leading `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolVersion(pub KubeVersion);

impl<'de> Deserialize<'de> for ToolVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(ToolVersion).map_err(|e| {
            serde::de::Error::custom(
                Invalid::new(
                    format!("invalid version `{text}`"),
                    "MAJOR.MINOR.PATCH such as 1.6.2",
                )
                .because(e),
            )
        })
    }
}

impl Serialize for ToolVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: BaseUrl = "http://127.0.0.1:8080/release/".parse().unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8080/release");
        assert_eq!(
            DEFAULT_APT_URL.parse::<BaseUrl>().unwrap().as_str(),
            DEFAULT_APT_URL
        );
        for bad in [
            "dl.k8s.io/release",
            "ftp://mirror/k8s",
            "https://",
            "http://h/x?y=1",
            "",
        ] {
            assert!(bad.parse::<BaseUrl>().is_err(), "{bad}");
        }
    }
}
