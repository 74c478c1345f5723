//! Step `sysctl`: kernel parameters set live (/proc/sys, read back) and persisted in our own
//! file in /etc/sysctl.d; warns when a later-sorting file would override ours at boot.
//! Runs after `modules`: the bridge keys exist only once br_netfilter is loaded.

use super::sysctl_typos;
use crate::engine::{Change, Context, Mode as RunMode, Plan, Step, StepError};
use crate::formats::sysctl_conf::{self, normalize_value, proc_path};
use crate::host::{Host, HostError, Mode};

/// The file this step owns.
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/99-bootstrap.conf";

const HEADER: &str = "Kernel parameters for Kubernetes, applied at boot by systemd-sysctl.\nManaged by bootstrap: changes here are overwritten.";

/// Directories systemd-sysctl reads, highest priority first: a file name in an earlier
/// directory hides the same name in later ones.
const SYSCTL_DIRS: [&str; 5] = [
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// The `sysctl` step.
pub struct SysctlStep;

/// A setting in another file that wins over ours at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The node path of the file.
    pub file: String,
    /// Line in it.
    pub line: usize,
    /// The key.
    pub key: String,
    /// The value it sets.
    pub value: String,
}

/// Files applied after ours at boot, in order: later-sorting names across the sysctl.d
/// directories, then /etc/sysctl.conf (applied last by `sysctl --system`).
fn later_files(host: &Host) -> Result<Vec<String>, HostError> {
    let ours = SYSCTL_FILE.rsplit('/').next().unwrap_or_default();
    let mut chosen: Vec<(String, String)> = Vec::new();
    for dir in SYSCTL_DIRS {
        for name in host.list_dir(dir)? {
            if name.ends_with(".conf") && !chosen.iter().any(|(n, _)| *n == name) {
                chosen.push((name.clone(), format!("{dir}/{name}")));
            }
        }
    }
    chosen.sort();
    let mut files: Vec<String> = chosen
        .into_iter()
        .filter(|(name, path)| {
            let is_sysctl_conf_link = host
                .read_link(path)
                .is_some_and(|t| t.ends_with("sysctl.conf"));
            name.as_str() > ours && !is_sysctl_conf_link
        })
        .map(|(_, path)| path)
        .collect();
    files.push("/etc/sysctl.conf".into());
    Ok(files)
}

/// Settings in files applied after ours that give one of `wanted` keys another value, and a
/// note for each such file that is not UTF-8 (read lossily: we never write those files, so a
/// stray byte in one must not stop the step).
pub fn overrides(
    host: &Host,
    wanted: &[(String, String)],
) -> Result<(Vec<Override>, Vec<String>), HostError> {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for file in later_files(host)? {
        let Some(bytes) = host.read_bytes(&file)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if std::str::from_utf8(&bytes).is_err() {
            notes.push(format!(
                "{file} is not valid UTF-8; read with the invalid bytes replaced (it is not ours and is left as it is)"
            ));
        }
        for setting in sysctl_conf::parse(&text) {
            let differs = wanted
                .iter()
                .any(|(k, v)| *k == setting.key && normalize_value(v) != setting.value);
            if differs {
                found.push(Override {
                    file: file.clone(),
                    line: setting.line,
                    key: setting.key,
                    value: setting.value,
                });
            }
        }
    }
    Ok((found, notes))
}

/// The profile's settings the kernel has (or will have once a listed module loads). The
/// others are left out with a did-you-mean: warnings in plan and check, an error in apply
/// (nothing later can make a misspelt parameter exist). On an offline root every key is
/// kept: its /proc/sys is not the kernel the image will boot.
fn known_settings(ctx: &Context, plan: &mut Plan) -> Result<Vec<(String, String)>, StepError> {
    let settings = &ctx.profile.sysctl.settings;
    if ctx.host.is_offline() {
        // The root's /proc/sys is not the kernel the image will boot.
        return Ok(settings.clone());
    }
    let keys: Vec<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
    let unknown = sysctl_typos::unknown_keys(ctx.host, &keys, &ctx.profile.modules.load)?;
    let messages: Vec<String> = unknown.iter().map(sysctl_typos::Unknown::message).collect();
    if !unknown.is_empty() && ctx.mode == RunMode::Apply {
        return Err(StepError::Blocked(format!(
            "{}; nothing was written by this step: fix the profile's [sysctl]",
            messages.join("; ")
        )));
    }
    messages.into_iter().for_each(|m| plan.warn(m));
    Ok(settings
        .iter()
        .filter(|(k, _)| !unknown.iter().any(|u| u.key == *k))
        .cloned()
        .collect())
}

impl Step for SysctlStep {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let mut plan = Plan::default();
        let wanted = &known_settings(ctx, &mut plan)?;
        let old = ctx.host.read(SYSCTL_FILE)?;
        let new = sysctl_conf::render(HEADER, wanted);
        plan.update_file(SYSCTL_FILE, old.as_deref(), new, Mode::KeepOr(0o644));
        if ctx.host.is_offline() && !wanted.is_empty() {
            plan.at_first_boot(format!(
                "systemd-sysctl sets {} kernel parameters from {SYSCTL_FILE} (the names are not checked against a kernel here)",
                wanted.len()
            ));
        }
        for (key, value) in wanted.iter().filter(|_| !ctx.host.is_offline()) {
            let path = format!("/proc/sys/{}", proc_path(key));
            let live = ctx.host.read(&path)?;
            let live = live.as_deref().map(normalize_value);
            if live.as_deref() != Some(normalize_value(value).as_str()) {
                plan.push(Change::kernel_param(key, path, live.as_deref(), value));
            }
        }
        let (found, notes) = overrides(ctx.host, wanted)?;
        notes.into_iter().for_each(|n| plan.info(n));
        for o in found {
            plan.warn(format!(
                "{} line {} sets {} = {}, and is applied after {SYSCTL_FILE} at boot, so it wins; remove that line or give it the profile's value",
                o.file, o.line, o.key, o.value
            ));
        }
        Ok(plan)
    }
}
