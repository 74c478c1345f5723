//! Air-gapped installs: the release files from a directory or a `.tar`/`.tar.gz` on the node,
//! laid out like the download trees (`release/v1.31.4/bin/linux/amd64/kubeadm`,
//! `cri-tools/v1.31.0/crictl-v1.31.0-linux-amd64.tar.gz`,
//! `cni-plugins/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz`) with a `SHA256SUMS` manifest at
//! the top. Every file is checked against the manifest before it is used.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::formats::checksums;
use crate::host::Host;

use super::artifacts::Artifact;
use super::download::file_sha256;

/// The manifest's file name at the top of a bundle.
pub const MANIFEST: &str = "SHA256SUMS";

/// Why a bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle path does not exist.
    #[error(
        "the bundle {0} (packages.bundle) does not exist on the node; copy it there first (cloud-init write_files or scp)"
    )]
    Missing(String),
    /// A file of the bundle could not be opened or read.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The tarball is not a tar archive, or is damaged.
    #[error("{path} {what}: {source}")]
    Archive {
        /// The tarball.
        path: String,
        /// `is not a tar archive`, `is damaged or truncated`, `has a bad entry name`.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bundle has no manifest.
    #[error("the bundle {0} has no {MANIFEST} manifest at its top")]
    NoManifest(String),
    /// The manifest does not parse.
    #[error("{path}/{MANIFEST}: {why}")]
    Manifest {
        /// The bundle.
        path: String,
        /// What is wrong.
        #[source]
        why: checksums::ManifestError,
    },
    /// A file the profile needs is not in the manifest.
    #[error("the bundle {bundle} has no {file} in its {MANIFEST}; add the file and its checksum")]
    NotListed {
        /// The bundle.
        bundle: String,
        /// The file.
        file: String,
    },
    /// A file listed in the manifest is not in the bundle.
    #[error("{0} is missing from the bundle")]
    NotThere(String),
    /// A file does not match the manifest.
    #[error(
        "{file} does not match {MANIFEST}: expected sha256 {expected}, got {actual}; the bundle is corrupt or incomplete"
    )]
    Mismatch {
        /// The file.
        file: String,
        /// The manifest's digest.
        expected: String,
        /// Its digest.
        actual: String,
    },
}

/// A bundle whose manifest has been read.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The node path, as in the profile.
    pub node_path: String,
    real: PathBuf,
    archive: bool,
    /// File → SHA-256, from the manifest.
    pub manifest: BTreeMap<String, String>,
}

/// A bundle file checked against the manifest and ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// Real path of the verified file.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
}

fn entry_name(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// The entries of a tar or gzip-compressed tar, with a reader for each, in archive order.
fn for_each_entry(
    path: &Path,
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<bool, BundleError>,
) -> Result<(), BundleError> {
    let shown = path.display().to_string();
    let open = || {
        std::fs::File::open(path).map_err(|source| BundleError::Io {
            op: "open",
            path: shown.clone(),
            source,
        })
    };
    let mut file = open()?;
    let mut magic = [0u8; 2];
    let gz = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let file = open()?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    let archive_error = |what: &'static str| {
        let path = shown.clone();
        move |source| BundleError::Archive { path, what, source }
    };
    let entries = archive
        .entries()
        .map_err(archive_error("is not a tar archive"))?;
    for entry in entries {
        let mut entry = entry.map_err(archive_error("is damaged or truncated"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| entry_name(&p))
            .map_err(archive_error("has a bad entry name"))?;
        if !visit(&name, &mut entry)? {
            break;
        }
    }
    Ok(())
}

impl Bundle {
    /// Reads the manifest of the bundle at `node_path` (a directory or a tarball). Nothing is
    /// written.
    pub fn open(host: &Host, node_path: &str) -> Result<Bundle, BundleError> {
        let real = host.path(node_path);
        let archive = real.is_file();
        let text = if archive {
            let mut found = None;
            for_each_entry(&real, |name, reader| {
                if name != MANIFEST {
                    return Ok(true);
                }
                let mut text = String::new();
                reader
                    .read_to_string(&mut text)
                    .map_err(|source| BundleError::Io {
                        op: "read",
                        path: format!("{node_path}/{MANIFEST}"),
                        source,
                    })?;
                found = Some(text);
                Ok(false)
            })?;
            found.ok_or_else(|| BundleError::NoManifest(node_path.to_string()))?
        } else if real.is_dir() {
            std::fs::read_to_string(real.join(MANIFEST)).map_err(|source| BundleError::Io {
                op: "read the manifest",
                path: format!("{node_path}/{MANIFEST}"),
                source,
            })?
        } else {
            return Err(BundleError::Missing(node_path.to_string()));
        };
        let manifest = checksums::parse_manifest(&text).map_err(|why| BundleError::Manifest {
            path: node_path.to_string(),
            why,
        })?;
        Ok(Bundle {
            node_path: node_path.to_string(),
            real,
            archive,
            manifest,
        })
    }

    /// The manifest digest of an artifact, or what is missing.
    pub fn digest(&self, artifact: &Artifact) -> Result<&str, BundleError> {
        let path = artifact.bundle_path();
        self.manifest
            .get(&path)
            .map(String::as_str)
            .ok_or_else(|| BundleError::NotListed {
                bundle: self.node_path.clone(),
                file: path,
            })
    }

    /// Copies (or unpacks) every artifact to its [`Artifact::staging_path`] and checks it
    /// against the manifest there; the bundle itself is left as it is. Nothing is installed.
    pub fn stage(&self, host: &Host, artifacts: &[Artifact]) -> Result<Vec<Staged>, BundleError> {
        let mut wanted: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
        for a in artifacts {
            let target = host.path(&a.staging_path());
            wanted.insert(a.bundle_path(), (target, self.digest(a)?.to_string()));
        }
        if !self.archive {
            for (name, (target, _)) in &wanted {
                let source = self.real.join(name);
                if let Ok(mut file) = std::fs::File::open(&source) {
                    unpack(&mut file, target).map_err(|source| BundleError::Io {
                        op: "copy",
                        path: format!("{}/{name} to {}", self.node_path, target.display()),
                        source,
                    })?;
                }
            }
        } else {
            for_each_entry(&self.real, |name, reader| {
                if let Some((target, _)) = wanted.get(name) {
                    unpack(reader, target).map_err(|source| BundleError::Io {
                        op: "unpack",
                        path: format!("{name} from {}", self.node_path),
                        source,
                    })?;
                }
                Ok(true)
            })?;
        }
        artifacts
            .iter()
            .map(|a| {
                let (path, sha256) = &wanted[&a.bundle_path()];
                let shown = format!("{}/{}", self.node_path, a.bundle_path());
                match file_sha256(path) {
                    None => Err(BundleError::NotThere(shown)),
                    Some(actual) if actual != *sha256 => Err(BundleError::Mismatch {
                        file: shown,
                        expected: sha256.clone(),
                        actual,
                    }),
                    Some(_) => Ok(Staged {
                        path: path.clone(),
                        sha256: sha256.clone(),
                    }),
                }
            })
            .collect()
    }
}

/// Copies an archive entry to `target` through a temporary file and a rename.
fn unpack(reader: &mut dyn Read, target: &Path) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempfile_in(dir)?;
    std::io::copy(reader, &mut temp)?;
    temp.persist(target).map_err(|e| e.error)?;
    Ok(())
}
