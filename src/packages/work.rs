//! The work the `packages` step plans beyond files and commands, each a [`Work`] whose
//! change's summary says exactly what it does: [`Stage`] fetches (or unpacks from a bundle)
//! and verifies a batch of release files in parallel, each [`Install`] then puts one staged
//! file in place, [`FetchKey`] writes the apt repository's signing key, [`Completion`]
//! writes kubectl's bash completion once kubectl is installed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::engine::{Change, Context, StepError, Work};
use crate::formats::armor;
use crate::host::{Command, Mode};
use crate::profile::packages::{Method, Packages};
use crate::values::redact_userinfo;

use super::artifacts::{Artifact, CNI_BIN_DIR, Payload};
use super::bundle::Bundle;
use super::download::{self, Checksum, Downloader, Job};
use super::error::PackagesError;
use super::{COMPLETION, STAGING_DIR, apt, binary};

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
    let summary = match (packages.method, &packages.bundle) {
        (Method::Bundle, Some(bundle)) => format!(
            "unpack {n} files from bundle {bundle} into {STAGING_DIR} and verify each (sha256 from the bundle's SHA256SUMS, and the version each program reports): {}",
            names.join(", ")
        ),
        _ => format!(
            "download {n} files in parallel into {STAGING_DIR} and verify each (sha256 from its .sha256 file, and the version each program reports): {}",
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
                "unpack the verified {} {} into {CNI_BIN_DIR}/{was}",
                artifact.file, artifact.version
            ),
            Payload::Crictl { path } => format!(
                "install crictl {} from the verified {} to {path}{was}",
                artifact.version, artifact.file
            ),
            Payload::Program { path, .. } => format!(
                "install the verified {} {} to {path}{was}",
                artifact.file, artifact.version
            ),
        };
        let staged = staged.clone();
        changes.push(Change::work(summary, Install { artifact, staged }));
    }
    changes
}

/// A downloader honouring the profile's proxy, or the environment's when the profile has none.
fn downloader(ctx: &Context) -> Result<Downloader, PackagesError> {
    let packages = &ctx.profile.packages;
    Ok(Downloader::new(download::Options {
        proxy: packages
            .proxy
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| ctx.env.https_proxy.clone()),
        no_proxy: packages
            .no_proxy
            .as_ref()
            .map(|list| list.join(","))
            .or_else(|| ctx.env.no_proxy.clone()),
        progress: ctx.env.progress,
        ..download::Options::default()
    })?)
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
            binary::check_staged(ctx.host, artifact, path)?;
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
        binary::install(ctx.host, step, &self.artifact, &path, &sha256)?;
        if path.starts_with(ctx.host.path(STAGING_DIR)) {
            let _ = std::fs::remove_file(&path);
        }
        Ok(())
    }
}

/// Fetches the apt repository's signing key from `url` into [`apt::KEYRING`] (dearmored).
#[derive(Debug)]
pub struct FetchKey {
    /// The key's URL.
    pub url: String,
}

impl Work for FetchKey {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let url = &self.url;
        let body = downloader(ctx)?
            .fetch_small("Release.key", url)
            .map_err(PackagesError::from)?;
        let key = armor::dearmor(&body).map_err(|why| PackagesError::Key {
            url: url.clone(),
            why,
        })?;
        ctx.host
            .write_file(step, apt::KEYRING, &key, Mode::KeepOr(0o644))?;
        Ok(())
    }
}

/// `kubectl completion bash`, run with the kubectl at this node path.
pub fn completion_command(ctx: &Context, kubectl: &str) -> Command {
    Command::new(ctx.host.path(kubectl).display().to_string()).args(["completion", "bash"])
}

/// Writes what `kubectl completion bash` prints into [`COMPLETION`], for a kubectl the
/// changes before it install.
#[derive(Debug)]
pub struct Completion {
    /// kubectl's node path.
    pub kubectl: String,
}

impl Work for Completion {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let command = completion_command(ctx, &self.kubectl);
        let output = ctx.host.run(&command)?;
        if !output.success() {
            return Err(PackagesError::Completion {
                command: command.display(),
                tail: output.tail(3),
            }
            .into());
        }
        ctx.host.write_file(
            step,
            COMPLETION,
            output.stdout.as_bytes(),
            Mode::KeepOr(0o644),
        )?;
        Ok(())
    }
}
