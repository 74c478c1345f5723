//! Step `modules`: kernel modules loaded now (modprobe) and at every boot
//! (`/etc/modules-load.d/bootstrap.conf`). Reads /proc/modules, /sys/module and the
//! kernel's modules.builtin list.

use std::collections::BTreeSet;

use procfs_core::{FromRead, KernelModules};

use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::formats::modules_load::{self, canonical_name};
use crate::host::{Command, Host, HostError, Mode};

/// The file this step owns.
pub const MODULES_FILE: &str = "/etc/modules-load.d/bootstrap.conf";

const HEADER: &str = "Kernel modules for Kubernetes, loaded at boot by systemd-modules-load.\nManaged by bootstrap: changes here are overwritten.";

/// The `modules` step.
pub struct ModulesStep;

/// Modules the kernel has now: loaded (/proc/modules, /sys/module) or built in.
pub fn loaded_modules(host: &Host) -> Result<BTreeSet<String>, HostError> {
    let mut loaded = BTreeSet::new();
    if let Some(bytes) = host.read_bytes("/proc/modules")? {
        let modules = KernelModules::from_read(bytes.as_slice()).map_err(|e| HostError::Io {
            op: "cannot parse",
            path: host.path("/proc/modules").display().to_string(),
            source: std::io::Error::other(e),
        })?;
        loaded.extend(modules.0.keys().map(|k| canonical_name(k)));
    }
    loaded.extend(
        host.list_dir("/sys/module")?
            .iter()
            .map(|m| canonical_name(m)),
    );
    if let Some(release) = host.read("/proc/sys/kernel/osrelease")? {
        let builtin = format!("/lib/modules/{}/modules.builtin", release.trim());
        if let Some(text) = host.read(&builtin)? {
            loaded.extend(modules_load::parse_builtin(&text));
        }
    }
    Ok(loaded)
}

impl Step for ModulesStep {
    fn name(&self) -> &'static str {
        "modules"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let wanted = &ctx.profile.modules.load;
        let mut plan = Plan::default();
        if wanted.is_empty() {
            return Ok(Plan::skip("modules.load is empty"));
        }
        plan_load(ctx.host, MODULES_FILE, HEADER, wanted, &mut plan)?;
        Ok(plan)
    }
}

/// Plans `wanted` loaded now (modprobe of each missing one) and listed in the
/// modules-load.d file `path` (our own file, with `header`) for systemd-modules-load. On an
/// offline root only the file: loading is left to its first boot.
pub fn plan_load(
    host: &Host,
    path: &str,
    header: &str,
    wanted: &[String],
    plan: &mut Plan,
) -> Result<(), StepError> {
    let old = host.read(path)?;
    let new = modules_load::render(header, wanted);
    plan.update_file(path, old.as_deref(), new, Mode::KeepOr(0o644));
    if host.is_offline() {
        plan.at_first_boot(format!(
            "systemd-modules-load loads {} (listed in {path}); nothing is loaded into this machine's kernel",
            wanted.join(", ")
        ));
        return Ok(());
    }
    let loaded = loaded_modules(host)?;
    for module in wanted {
        if !loaded.contains(&canonical_name(module)) {
            plan.push(Change::run(
                format!("load kernel module {module}"),
                Command::new("modprobe").arg("--").arg(module),
            ));
        }
    }
    Ok(())
}
