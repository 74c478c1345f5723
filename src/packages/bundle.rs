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
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<bool, String>,
) -> Result<(), String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let gz = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| format!("{} is not a tar archive: {e}", path.display()))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| format!("{} is damaged or truncated: {e}", path.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| entry_name(&p))
            .map_err(|e| format!("{}: bad entry name: {e}", path.display()))?;
        if !visit(&name, &mut entry)? {
            break;
        }
    }
    Ok(())
}

impl Bundle {
    /// Reads the manifest of the bundle at `node_path` (a directory or a tarball). Nothing is
    /// written.
    pub fn open(host: &Host, node_path: &str) -> Result<Bundle, String> {
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
                    .map_err(|e| format!("{node_path}: cannot read {MANIFEST}: {e}"))?;
                found = Some(text);
                Ok(false)
            })?;
            found.ok_or(format!(
                "the bundle {node_path} has no {MANIFEST} manifest at its top"
            ))?
        } else if real.is_dir() {
            std::fs::read_to_string(real.join(MANIFEST)).map_err(|e| {
                format!("the bundle {node_path} has no readable {MANIFEST} manifest: {e}")
            })?
        } else {
            return Err(format!(
                "the bundle {node_path} (packages.bundle) does not exist on the node; copy it there first (cloud-init write_files or scp)"
            ));
        };
        let manifest =
            checksums::parse_manifest(&text).map_err(|e| format!("{node_path}/{MANIFEST}: {e}"))?;
        Ok(Bundle {
            node_path: node_path.to_string(),
            real,
            archive,
            manifest,
        })
    }

    /// The manifest digest of an artifact, or what is missing.
    pub fn digest(&self, artifact: &Artifact) -> Result<&str, String> {
        let path = artifact.bundle_path();
        self.manifest.get(&path).map(String::as_str).ok_or(format!(
            "the bundle {} has no {path} in its {MANIFEST}; add the file and its checksum",
            self.node_path
        ))
    }

    /// Copies (or unpacks) every artifact to its [`Artifact::staging_path`] and checks it
    /// against the manifest there; the bundle itself is left as it is. Nothing is installed.
    pub fn stage(&self, host: &Host, artifacts: &[Artifact]) -> Result<Vec<Staged>, String> {
        let mut wanted: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
        for a in artifacts {
            let target = host.path(&a.staging_path());
            wanted.insert(a.bundle_path(), (target, self.digest(a)?.to_string()));
        }
        if !self.archive {
            for (name, (target, _)) in &wanted {
                let source = self.real.join(name);
                if let Ok(mut file) = std::fs::File::open(&source) {
                    unpack(&mut file, target).map_err(|e| {
                        format!(
                            "cannot copy {}/{name} to {}: {e}",
                            self.node_path,
                            target.display()
                        )
                    })?;
                }
            }
        } else {
            for_each_entry(&self.real, |name, reader| {
                if let Some((target, _)) = wanted.get(name) {
                    unpack(reader, target).map_err(|e| {
                        format!("cannot unpack {name} from {}: {e}", self.node_path)
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
                    None => Err(format!("{shown} is missing from the bundle")),
                    Some(actual) if actual != *sha256 => Err(format!(
                        "{shown} does not match {MANIFEST}: expected sha256 {sha256}, got {actual}; the bundle is corrupt or incomplete"
                    )),
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
