//! Installing release files (the `binary` and `bundle` methods): one [`Stage`] change
//! fetches (in parallel) or unpacks a batch and verifies every file, then one [`Install`]
//! change per file puts it in place. Nothing is installed unless the whole batch verified.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::engine::{Change, Context, StepError, Work};
use crate::host::{Host, HostError, Mode};
use crate::profile::packages::{Method, Packages};
use crate::values::redact_userinfo;

use super::STAGING_DIR;
use super::artifacts::{Artifact, CNI_BIN_DIR, Payload};
use super::bundle::Bundle;
use super::download::{self, Checksum, Job};
use super::error::PackagesError;
use super::record::PROGRAMS_RECORD;
use super::tools::{self, Probe};
use super::work::downloader;

/// What this step recorded about the CNI plugins it unpacked.
pub const CNI_RECORD: &str = "/var/lib/bootstrap/packages/cni-plugins.json";

/// The files of the CNI plugins tarball this step unpacked, to tell later whether they are
/// still there unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniRecord {
    /// The plugins' version.
    pub version: String,
    /// File name in /opt/cni/bin → SHA-256.
    pub files: BTreeMap<String, String>,
}

/// Files a [`Stage`] verified, by file name: where each waits and its SHA-256, until its
/// [`Install`] takes it.
#[derive(Debug, Default)]
pub struct Staged(Mutex<BTreeMap<String, (PathBuf, String)>>);

impl Staged {
    fn put(&self, file: &str, path: PathBuf, sha256: String) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(file.to_string(), (path, sha256));
    }

    fn take(&self, file: &str) -> Option<(PathBuf, String)> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(file)
    }
}

/// Fetches (from the mirrors, in parallel) or unpacks (from the bundle) a batch of release
/// files into [`STAGING_DIR`], checks each against its checksum and each program's
/// reported version. Nothing is installed: the batch's [`Install`] changes follow.
#[derive(Debug)]
pub struct Stage {
    artifacts: Vec<Artifact>,
    staged: Arc<Staged>,
}

/// Installs one file a [`Stage`] verified: a program into place, crictl or the CNI plugins
/// out of their tarball, hashed again as it is read.
#[derive(Debug)]
pub struct Install {
    artifact: Artifact,
    staged: Arc<Staged>,
}

/// The changes that install `artifacts` (with what each replaces): one [`Stage`] naming
/// every file and where it comes from, then one [`Install`] per file.
pub fn install_changes(packages: &Packages, artifacts: Vec<(Artifact, String)>) -> Vec<Change> {
    install_changes_for(packages, artifacts, false)
}

/// [`install_changes`], for an `offline` root (where no program is asked its version) or not.
pub fn install_changes_for(
    packages: &Packages,
    artifacts: Vec<(Artifact, String)>,
    offline: bool,
) -> Vec<Change> {
    if artifacts.is_empty() {
        return Vec::new();
    }
    let staged = Arc::new(Staged::default());
    let names: Vec<String> = artifacts
        .iter()
        .map(|(a, _)| match packages.method {
            Method::Bundle => format!("{} {}", a.file, a.version),
            _ => format!(
                "{} {} from {}",
                a.file,
                a.version,
                redact_userinfo(&a.url(packages))
            ),
        })
        .collect();
    let n = artifacts.len();
    // An offline root runs no program: the versions are recorded, not asked.
    let versions = match offline {
        true => "; an offline root runs no program to ask the versions",
        false => ", and the version each program reports",
    };
    let summary = match (packages.method, &packages.bundle) {
        (Method::Bundle, Some(bundle)) => format!(
            "unpack {n} files from bundle {bundle} into {STAGING_DIR} and verify each (sha256 from the bundle's SHA256SUMS{versions}): {}",
            names.join(", ")
        ),
        _ => format!(
            "download {n} files in parallel into {STAGING_DIR} and verify each (sha256 from its .sha256 file{versions}): {}",
            names.join(", ")
        ),
    };
    let stage = Stage {
        artifacts: artifacts.iter().map(|(a, _)| a.clone()).collect(),
        staged: staged.clone(),
    };
    let mut changes = vec![Change::work(summary, stage)];
    for (artifact, was) in artifacts {
        let summary = match &artifact.payload {
            Payload::CniPlugins => format!(
                "unpack the verified {} {} into {CNI_BIN_DIR}/ and record its files in {CNI_RECORD}{was}",
                artifact.file, artifact.version
            ),
            Payload::Crictl { path } => format!(
                "install crictl {} from the verified {} to {path} and record it in {PROGRAMS_RECORD}{was}",
                artifact.version, artifact.file
            ),
            Payload::Program { path, .. } => format!(
                "install the verified {} {} to {path} and record it in {PROGRAMS_RECORD}{was}",
                artifact.file, artifact.version
            ),
        };
        let staged = staged.clone();
        changes.push(Change::work(summary, Install { artifact, staged }));
    }
    changes
}

impl Stage {
    fn fetch(&self, ctx: &Context) -> Result<Vec<(PathBuf, String)>, PackagesError> {
        let host = ctx.host;
        let packages = &ctx.profile.packages;
        if let (Method::Bundle, Some(path)) = (packages.method, &packages.bundle) {
            let staged = Bundle::open(host, path)
                .and_then(|b| b.stage(host, &self.artifacts))
                .map_err(PackagesError::Bundle)?;
            return Ok(staged.into_iter().map(|s| (s.path, s.sha256)).collect());
        }
        let jobs: Vec<Job> = self
            .artifacts
            .iter()
            .map(|a| Job {
                file: a.file.clone(),
                url: a.url(packages),
                checksum: Checksum::Url(a.checksum_url(packages)),
                dest: host.path(&a.staging_path()),
            })
            .collect();
        let fetched = downloader(ctx)?.fetch_all(&jobs, download::PARALLEL)?;
        Ok(fetched
            .into_iter()
            .zip(jobs)
            .map(|(fetched, job)| (job.dest, fetched.sha256))
            .collect())
    }
}

impl Work for Stage {
    fn run(&self, ctx: &Context, _step: &str) -> Result<(), StepError> {
        let staged = self.fetch(ctx)?;
        for (artifact, (path, _)) in self.artifacts.iter().zip(&staged) {
            check_staged(ctx.host, artifact, path)?;
        }
        for (artifact, (path, sha256)) in self.artifacts.iter().zip(staged) {
            self.staged.put(&artifact.file, path, sha256);
        }
        Ok(())
    }
}

impl Work for Install {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let file = &self.artifact.file;
        let (path, sha256) = self
            .staged
            .take(file)
            .ok_or_else(|| PackagesError::NotStaged { file: file.clone() })?;
        install_file(ctx.host, step, &self.artifact, &path, &sha256)?;
        if path.starts_with(ctx.host.path(STAGING_DIR)) {
            let _ = std::fs::remove_file(&path);
        }
        Ok(())
    }
}

/// Checks that a staged program reports the version the profile asks for, before it is
/// installed (a mirror or bundle holding another release is refused).
pub fn check_staged(host: &Host, artifact: &Artifact, staged: &Path) -> Result<(), PackagesError> {
    let Payload::Program { tool, .. } = &artifact.payload else {
        return Ok(());
    };
    set_mode(staged, 0o755).map_err(|source| PackagesError::Executable {
        path: staged.display().to_string(),
        source,
    })?;
    if host.is_offline() {
        // No program runs for an offline root: the checksum verified the bytes, and the
        // version is recorded on install (see `super::record`).
        return Ok(());
    }
    match tools::probe(host, *tool, staged)? {
        Probe::Version(v) if v == artifact.version => Ok(()),
        other => Err(PackagesError::WrongRelease {
            file: artifact.file.clone(),
            found: other.describe(),
            wanted: artifact.version.to_string(),
        }),
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Installs a verified staged file: a program into place, crictl or the CNI plugins out of
/// their tarball. The bytes are hashed again as they are read.
pub fn install_file(
    host: &Host,
    step: &str,
    artifact: &Artifact,
    staged: &Path,
    sha256: &str,
) -> Result<(), PackagesError> {
    let bytes = std::fs::read(staged).map_err(|e| HostError::Io {
        op: "cannot read",
        path: staged.display().to_string(),
        source: e,
    })?;
    let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if actual != sha256 {
        return Err(PackagesError::Changed {
            path: staged.display().to_string(),
            actual,
            expected: sha256.to_string(),
        });
    }
    match &artifact.payload {
        Payload::Program { path, .. } => {
            host.write_file(step, path, &bytes, Mode::Exact(0o755))?;
            super::record::remember(host, step, path, artifact.version, sha256)?;
        }
        Payload::Crictl { path } => {
            let files = tarball_files(&bytes, &artifact.file)?;
            let crictl = files
                .iter()
                .find(|(name, _, _)| name == tools::CRICTL.name)
                .ok_or_else(|| PackagesError::NoCrictl {
                    file: artifact.file.clone(),
                })?;
            host.write_file(step, path, &crictl.2, Mode::Exact(0o755))?;
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&crictl.2));
            super::record::remember(host, step, path, artifact.version, &sha256)?;
        }
        Payload::CniPlugins => {
            let mut record = CniRecord {
                version: artifact.version.to_string(),
                files: BTreeMap::new(),
            };
            for (name, mode, data) in tarball_files(&bytes, &artifact.file)? {
                let path = format!("{CNI_BIN_DIR}/{name}");
                host.write_file(step, &path, &data, Mode::Exact(mode))?;
                record.files.insert(
                    name,
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)),
                );
            }
            let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
            host.write_file(step, CNI_RECORD, text.as_bytes(), Mode::KeepOr(0o644))?;
        }
    }
    Ok(())
}

/// The regular files of a gzip-compressed tarball: base name, permission bits (0755 when
/// the archive has none), contents.
fn tarball_files(bytes: &[u8], file: &str) -> Result<Vec<(String, u32, Vec<u8>)>, PackagesError> {
    let bad = |source: std::io::Error| PackagesError::Tarball {
        file: file.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(bad)?.into_owned();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let mode = match entry.header().mode().map_err(bad)? & 0o7777 {
            0 => 0o755,
            m => m,
        };
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(bad)?;
        out.push((name, mode, data));
    }
    Ok(out)
}
