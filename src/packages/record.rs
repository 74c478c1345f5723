//! The programs this step installed, with their version and SHA-256, in
//! [`PROGRAMS_RECORD`]: how an offline root (an image tree, where no program runs, so none
//! can be asked its version) tells that a program is the one installed, unchanged. On a
//! live node the programs are asked instead; the record is kept there too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::download::file_sha256;
use super::tools::{self, Probe, Tool};
use crate::host::{Host, HostError, Mode};
use crate::values::KubeVersion;

/// Node path of the record.
pub const PROGRAMS_RECORD: &str = "/var/lib/bootstrap/packages/programs.json";

/// One installed program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The version it was installed at.
    pub version: String,
    /// The SHA-256 of its bytes.
    pub sha256: String,
}

fn read(host: &Host) -> Result<BTreeMap<String, Installed>, HostError> {
    Ok(host
        .read(PROGRAMS_RECORD)?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

/// Records that the program at node path `path` was installed at `version` with `sha256`.
pub fn remember(
    host: &Host,
    step: &str,
    path: &str,
    version: KubeVersion,
    sha256: &str,
) -> Result<(), HostError> {
    let mut record = read(host)?;
    let entry = Installed {
        version: version.to_string(),
        sha256: sha256.to_string(),
    };
    if record.get(path) == Some(&entry) {
        return Ok(());
    }
    record.insert(path.to_string(), entry);
    let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
    host.write_file(step, PROGRAMS_RECORD, text.as_bytes(), Mode::KeepOr(0o644))
}

/// What is installed at node path `path` for `tool`: on a live node the version the
/// program reports; on an offline root the recorded version when its bytes are the ones
/// recorded (else it counts as broken, and is replaced).
pub fn probe(host: &Host, tool: Tool, path: &str) -> Result<Probe, HostError> {
    let real = host.path(path);
    if !host.is_offline() {
        return tools::probe(host, tool, &real);
    }
    if std::fs::symlink_metadata(&real).is_err() {
        return Ok(Probe::Missing);
    }
    let recorded = read(host)?.remove(path);
    let version = recorded
        .filter(|r| file_sha256(&real).as_deref() == Some(r.sha256.as_str()))
        .and_then(|r| r.version.parse().ok());
    Ok(match version {
        Some(v) => Probe::Version(v),
        None => Probe::Broken(format!(
            "not recorded in {PROGRAMS_RECORD} as installed by bootstrap, and an offline root runs no program to ask `{} {}`",
            tool.name,
            tool.version_args.join(" ")
        )),
    })
}
