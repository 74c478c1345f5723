//! Step `hosts`: a marked block in /etc/hosts with the profile's entries and this node's
//! name, and listed names taken off the lines outside it. Touches only `/etc/hosts`.

use super::error::StepsError;
use crate::engine::{Context, Plan, Step, StepError};
use crate::formats::hosts::{self, Entry};
use crate::host::Mode;

/// The file this step owns a block of.
pub const HOSTS_FILE: &str = "/etc/hosts";

/// The `hosts` step.
pub struct HostsStep;

/// Whether this node's name and address are known: not on an offline root (an image) whose
/// profile leaves them to the booted node (hostname, `address = "auto"`).
fn knows_itself(ctx: &Context) -> bool {
    !ctx.profile.node.name.is_empty() && !ctx.address.is_unspecified()
}

/// The block's entries: this node first (merged with an entry for the same address), then
/// the profile's entries in order.
pub fn desired_entries(ctx: &Context) -> Vec<Entry> {
    let node = &ctx.profile.node.name;
    let mut entries: Vec<Entry> = ctx
        .profile
        .hosts
        .entries
        .iter()
        .map(|e| Entry {
            address: e.address.0,
            names: e.names.clone(),
        })
        .collect();
    let named = entries
        .iter()
        .any(|e| e.names.iter().any(|n| n.eq_ignore_ascii_case(node)));
    if !named && knows_itself(ctx) {
        match entries.iter_mut().find(|e| e.address == ctx.address) {
            Some(entry) => entry.names.insert(0, node.clone()),
            None => entries.insert(
                0,
                Entry {
                    address: ctx.address,
                    names: vec![node.clone()],
                },
            ),
        }
    }
    entries
}

impl Step for HostsStep {
    fn name(&self) -> &'static str {
        "hosts"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        let old = ctx.host.read(HOSTS_FILE)?;
        let entries = desired_entries(ctx);
        let edit = hosts::edit(
            old.as_deref().unwrap_or(""),
            &entries,
            &ctx.profile.hosts.remove_names,
        )
        .map_err(|source| StepsError::Hosts {
            path: HOSTS_FILE,
            source,
        })?;
        let mut plan = Plan::default();
        if !knows_itself(ctx) {
            plan.at_first_boot(format!(
                "this node's own name and address are added to {HOSTS_FILE} by the apply on the booted node (the image does not know them)"
            ));
        }
        let mut removed = edit.removed.clone();
        removed.dedup();
        for (line, name) in &removed {
            plan.info(format!("remove `{name}` from {HOSTS_FILE} line {line}"));
        }
        for line in &edit.merged {
            plan.info(format!(
                "{HOSTS_FILE} has a second bootstrap block at line {line}; it is removed and its place taken by the first block (every line outside the blocks is kept)"
            ));
        }
        for c in &edit.conflicts {
            plan.warn(format!(
                "{HOSTS_FILE} line {} maps `{}` to {} outside the bootstrap block; lookups may find that line first. Add `{}` to hosts.remove_names to take it off",
                c.line, c.name, c.address, c.name
            ));
        }
        plan.update_file(HOSTS_FILE, old.as_deref(), edit.text, Mode::KeepOr(0o644));
        Ok(plan)
    }
}
