//! Step `swap`: swap off now (swapoff every area in /proc/swaps) and at every boot (fstab
//! swap lines commented out, swap.target and swap units masked, zram swap disabled).

use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::formats::fstab;
use crate::host::{Command, Host, HostError, Mode};
use crate::profile::swap::SwapPolicy;

use super::unit_files::{UNIT_DIR, is_masked};

/// The fstab path.
pub const FSTAB: &str = "/etc/fstab";
/// zram-generator's configuration in /etc (an empty one turns zram swap off).
const ZRAM_GENERATOR_CONF: &str = "/etc/systemd/zram-generator.conf";
/// The generator's default configurations, read when /etc has none.
const ZRAM_GENERATOR_DEFAULTS: [&str; 2] = [
    "/usr/lib/systemd/zram-generator.conf",
    "/usr/local/lib/systemd/zram-generator.conf",
];
/// zram-tools' service (Debian, Ubuntu).
const ZRAMSWAP_UNITS: [&str; 2] = [
    "/lib/systemd/system/zramswap.service",
    "/usr/lib/systemd/system/zramswap.service",
];

/// The `swap` step.
pub struct SwapStep;

/// Swap units systemd knows about (from fstab, GPT auto-discovery, zram, or unit files).
/// On an offline root (no systemd to ask), the `.swap` unit files in its unit path: fstab's
/// lines are commented out and swap.target is masked, which covers the generated ones.
fn swap_units(host: &Host) -> Result<Vec<String>, HostError> {
    if host.is_offline() {
        return super::unit_files::unit_files_ending(host, ".swap");
    }
    let output = host.run(&Command::new("systemctl").args([
        "list-units",
        "--type=swap",
        "--all",
        "--plain",
        "--no-legend",
        "--no-pager",
    ]))?;
    Ok(output
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|u| u.ends_with(".swap"))
        .map(str::to_string)
        .collect())
}

/// Whether zram-generator would create a swap device at boot.
fn zram_generator_active(host: &Host) -> Result<bool, HostError> {
    let config = match host.read(ZRAM_GENERATOR_CONF)? {
        Some(text) => Some(text),
        None => {
            let mut found = None;
            for path in ZRAM_GENERATOR_DEFAULTS {
                if let Some(text) = host.read(path)? {
                    found = Some(text);
                    break;
                }
            }
            found
        }
    };
    Ok(config.is_some_and(|text| text.lines().any(|l| l.trim_start().starts_with("[zram"))))
}

fn plan_boot_units(host: &Host, plan: &mut Plan) -> Result<(), StepError> {
    let before = plan.changes.len();
    let mask = |unit: &str, why: &str| {
        Change::symlink(
            format!("mask {unit} ({why})"),
            &format!("{UNIT_DIR}/{unit}"),
            "/dev/null",
        )
    };
    if !is_masked(host, "swap.target") {
        plan.push(mask("swap.target", "no swap is activated at boot"));
    }
    for unit in swap_units(host)? {
        if !is_masked(host, &unit) {
            plan.push(mask(&unit, "swap unit"));
        }
    }
    if ZRAMSWAP_UNITS.iter().any(|u| host.exists(u)) && !is_masked(host, "zramswap.service") {
        plan.push(mask("zramswap.service", "zram-tools swap"));
    }
    if zram_generator_active(host)? {
        let old = host.read(ZRAM_GENERATOR_CONF)?;
        plan.push(Change::file(
            ZRAM_GENERATOR_CONF,
            old.as_deref(),
            "# zram swap disabled by bootstrap: the kubelet needs swap off.\n".into(),
            Mode::KeepOr(0o644),
        ));
    }
    if host.is_offline() {
        plan.at_first_boot("no swap is activated: systemd reads the masks when it starts");
    } else if plan.changes.len() > before || host.is_pending(&crate::host::daemon_reload()) {
        plan.push(Change::run(
            "reload systemd units",
            crate::host::daemon_reload(),
        ));
    }
    Ok(())
}

impl Step for SwapStep {
    fn name(&self) -> &'static str {
        "swap"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        if ctx.profile.swap.policy == SwapPolicy::Keep {
            return Ok(Plan::skip("swap.policy = \"keep\""));
        }
        let host = ctx.host;
        let mut plan = Plan::default();
        let areas = match host.is_offline() {
            // The root's /proc/swaps is not the booted image's: nothing is on yet.
            true => Vec::new(),
            false => crate::node::facts::swap::active(host)?,
        };
        for area in &areas {
            plan.push(Change::run(
                format!("turn off swap on {} ({})", area.path, area.kind),
                Command::new("swapoff").arg(&area.path),
            ));
        }
        if let Some(old) = host.read(FSTAB)? {
            let lines = fstab::swap_lines(&old);
            if !lines.is_empty() {
                let at: Vec<String> = lines
                    .iter()
                    .map(|l| format!("{} (line {})", l.source, l.line))
                    .collect();
                let mut change = Change::file(
                    FSTAB,
                    Some(&old),
                    fstab::disable_swap(&old),
                    Mode::KeepOr(0o644),
                );
                change.summary = format!("comment out swap in {FSTAB}: {}", at.join(", "));
                plan.push(change);
            }
        }
        if crate::node::facts::systemd::is_init(host) || host.is_offline() {
            plan_boot_units(host, &mut plan)?;
        } else {
            plan.info("systemd is not running here: swap units were not checked");
        }
        Ok(plan)
    }
}
