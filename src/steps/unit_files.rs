//! systemd units enabled as files in the root, the way `systemctl --root=ROOT enable` does
//! it without a running systemd (systemctl(1), `--root=`: "use the specified root path
//! when looking for unit files ... operations are performed on the files", and `enable`:
//! "the symlinks ... encoded in the [Install] section of the indicated unit files"), for an
//! offline root (an image tree). Masks are links to /dev/null in /etc/systemd/system
//! (systemctl(1), `mask`), which the `swap` step makes the same way on every root.

use std::path::{Path, PathBuf};

use crate::engine::{Change, Plan, StepError};
use crate::formats::unit_install;
use crate::host::{Host, HostError};

/// Where `systemctl enable` and `mask` put their links.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// The system unit search path, highest priority first (systemd.unit(5), "System Unit
/// Search Path"; /lib for Debian before the /usr merge).
pub const UNIT_PATH: [&str; 4] = [
    UNIT_DIR,
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Whether `unit` is masked (a link to /dev/null in [`UNIT_DIR`]).
pub fn is_masked(host: &Host, unit: &str) -> bool {
    host.read_link(&format!("{UNIT_DIR}/{unit}"))
        .is_some_and(|t| t == Path::new("/dev/null"))
}

/// The node path of `unit`'s file: the first one on the search path.
fn unit_file(host: &Host, unit: &str) -> Option<String> {
    UNIT_PATH
        .iter()
        .map(|dir| format!("{dir}/{unit}"))
        .find(|path| host.exists(path))
}

/// The unit files with names ending in `suffix` (`.swap`) on the search path.
pub fn unit_files_ending(host: &Host, suffix: &str) -> Result<Vec<String>, HostError> {
    let mut units = Vec::new();
    for dir in UNIT_PATH {
        for name in host.list_dir(dir)? {
            if name.ends_with(suffix) && !units.contains(&name) {
                units.push(name);
            }
        }
    }
    Ok(units)
}

/// Plans the links `systemctl enable UNIT` makes, as files in the root: one in the
/// `.wants/` (`.requires/`, `.upholds/`) directory of each unit its `[Install]` section
/// names, and one per alias, each pointing at the unit file. A missing or masked unit is
/// refused with the reason.
pub fn plan_enable(host: &Host, unit: &str, plan: &mut Plan) -> Result<(), StepError> {
    if is_masked(host, unit) {
        return Err(StepError::Blocked(format!(
            "{UNIT_DIR}/{unit} masks {unit} (a link to /dev/null), so it cannot be enabled: remove the mask (`systemctl --root=ROOT unmask {unit}`) if it should run"
        )));
    }
    let Some(path) = unit_file(host, unit) else {
        return Err(StepError::Blocked(format!(
            "{unit} has no unit file in {}: it is not installed in this root",
            UNIT_PATH.join(", ")
        )));
    };
    let install = unit_install::parse(&host.read(&path)?.unwrap_or_default());
    if install.dependents.is_empty() && install.aliases.is_empty() {
        plan.info(format!(
            "{path} has no [Install] section: {unit} is started by other units, there is nothing to enable"
        ));
    }
    let links = install
        .dependents
        .iter()
        .map(|(kind, target)| {
            let summary = format!("enable {unit} (a link in {target}.{kind}/)");
            (format!("{UNIT_DIR}/{target}.{kind}/{unit}"), summary)
        })
        .chain(install.aliases.iter().map(|alias| {
            let summary = format!("enable {unit} under its alias {alias}");
            (format!("{UNIT_DIR}/{alias}"), summary)
        }));
    // A link the package made may name the file by another path of the search path
    // (/lib/systemd/system on a merged /usr): it counts when it reaches the same file.
    let unit = host.path(&path);
    let reaches_unit = |target: PathBuf| host.path(&target.to_string_lossy()) == unit;
    for (link, summary) in links {
        if !host.read_link(&link).is_some_and(reaches_unit) {
            plan.push(Change::symlink(summary, &link, &path));
        }
    }
    Ok(())
}
