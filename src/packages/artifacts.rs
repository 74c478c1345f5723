//! The files a release is made of, where each comes from (URL, or path inside a bundle) and
//! where it goes on the node.

use crate::profile::packages::{BaseUrl, Packages};
use crate::values::KubeVersion;

use super::tools::{self, Tool};

/// Where CNI plugins go.
pub const CNI_BIN_DIR: &str = "/opt/cni/bin";

/// The release tree a file belongs to; each has a base URL and a directory in a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Kubernetes release binaries (dl.k8s.io/release).
    Release,
    /// cri-tools release downloads.
    CriTools,
    /// CNI plugins release downloads.
    CniPlugins,
}

impl Origin {
    /// The directory holding this tree in a bundle.
    pub fn bundle_dir(self) -> &'static str {
        match self {
            Origin::Release => "release",
            Origin::CriTools => "cri-tools",
            Origin::CniPlugins => "cni-plugins",
        }
    }

    fn base(self, packages: &Packages) -> &BaseUrl {
        match self {
            Origin::Release => &packages.release_url,
            Origin::CriTools => &packages.cri_tools_url,
            Origin::CniPlugins => &packages.cni_plugins_url,
        }
    }
}

/// What a file is and how it is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A program installed as is (mode 0755) at `path`.
    Program {
        /// The program.
        tool: Tool,
        /// Node path it is installed at.
        path: String,
    },
    /// A tarball holding `crictl`, installed at `path`.
    Crictl {
        /// Node path crictl is installed at.
        path: String,
    },
    /// A tarball of CNI plugins, unpacked into [`CNI_BIN_DIR`].
    CniPlugins,
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// File name, as shown (`kubeadm`, `crictl-v1.31.0-linux-amd64.tar.gz`).
    pub file: String,
    /// The release tree.
    pub origin: Origin,
    /// Path below the tree's base (`v1.31.4/bin/linux/amd64/kubeadm`).
    pub rel: String,
    /// The version it carries.
    pub version: KubeVersion,
    /// How it is installed.
    pub payload: Payload,
}

impl Artifact {
    /// Its download URL.
    pub fn url(&self, packages: &Packages) -> String {
        format!("{}/{}", self.origin.base(packages), self.rel)
    }

    /// The URL of its `.sha256` checksum file.
    pub fn checksum_url(&self, packages: &Packages) -> String {
        format!("{}.sha256", self.url(packages))
    }

    /// Its path inside a bundle, as named in the bundle's manifest.
    pub fn bundle_path(&self) -> String {
        format!("{}/{}", self.origin.bundle_dir(), self.rel)
    }

    /// Where it waits, verified, before it is installed (a node path).
    pub fn staging_path(&self) -> String {
        format!("{}/{}", super::STAGING_DIR, self.bundle_path())
    }
}

/// The Debian/Go name of this machine's architecture (the binary's own: it runs here).
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

/// The three Kubernetes programs at `version`, installed into `install_dir`.
pub fn kubernetes(version: KubeVersion, install_dir: &str) -> Vec<Artifact> {
    tools::KUBERNETES
        .iter()
        .map(|tool| Artifact {
            file: tool.name.to_string(),
            origin: Origin::Release,
            rel: format!("v{version}/bin/linux/{}/{}", arch(), tool.name),
            version,
            payload: Payload::Program {
                tool: *tool,
                path: program_path(install_dir, tool.name),
            },
        })
        .collect()
}

/// The cri-tools tarball at `version`.
pub fn crictl(version: KubeVersion, install_dir: &str) -> Artifact {
    let file = format!("crictl-v{version}-linux-{}.tar.gz", arch());
    Artifact {
        rel: format!("v{version}/{file}"),
        file,
        origin: Origin::CriTools,
        version,
        payload: Payload::Crictl {
            path: program_path(install_dir, tools::CRICTL.name),
        },
    }
}

/// The CNI plugins tarball at `version`.
pub fn cni_plugins(version: KubeVersion) -> Artifact {
    let file = format!("cni-plugins-linux-{}-v{version}.tgz", arch());
    Artifact {
        rel: format!("v{version}/{file}"),
        file,
        origin: Origin::CniPlugins,
        version,
        payload: Payload::CniPlugins,
    }
}

/// `dir/name` without a doubled slash.
pub fn program_path(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_release_layouts() {
        let packages = Packages::default();
        let v: KubeVersion = "1.31.4".parse().unwrap();
        let kubeadm = &kubernetes(v, "/usr/local/bin/")[0];
        assert_eq!(
            kubeadm.url(&packages),
            format!(
                "https://dl.k8s.io/release/v1.31.4/bin/linux/{}/kubeadm",
                arch()
            )
        );
        assert!(kubeadm.checksum_url(&packages).ends_with("/kubeadm.sha256"));
        assert_eq!(
            kubeadm.payload,
            Payload::Program {
                tool: tools::KUBEADM,
                path: "/usr/local/bin/kubeadm".into()
            }
        );
        let c = crictl("1.31.0".parse().unwrap(), "/usr/local/bin");
        assert_eq!(
            c.url(&packages),
            format!(
                "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.31.0/crictl-v1.31.0-linux-{}.tar.gz",
                arch()
            )
        );
        let n = cni_plugins("1.6.2".parse().unwrap());
        assert_eq!(
            n.bundle_path(),
            format!("cni-plugins/v1.6.2/cni-plugins-linux-{}-v1.6.2.tgz", arch())
        );
        assert!(
            n.staging_path()
                .starts_with("/var/lib/bootstrap/downloads/cni-plugins/")
        );
    }
}
