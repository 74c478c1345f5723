//! `bootstrap reset`: undo exactly what this agent changed on the node, from its journal and
//! backups, and nothing else. [`plan`] reads the journal and the node and decides (pure
//! rules in [`files`] and [`actions`]); [`carry_out`] runs `kubeadm reset -f` when the node
//! was initialised or joined, puts the live kernel parameters back, restores every file the
//! agent modified from its backup (bytes, mode, owner), removes the files and links it
//! created (masks included) without keeping a copy, unholds, disables, turns back on the swap
//! it turned off, unloads the modules it loaded that nothing uses, removes the directories it created when empty, and archives
//! the journal and backups under `STATE_DIR/archive/reset-TIME`.

pub mod actions;
mod carry;
pub mod files;

use std::collections::BTreeMap;

use crate::host::{Command, Entry, Found, Host, HostError, Saved};
pub use carry::{Outcome, carry_out};

/// Why reset could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// The node could not be read or changed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Files changed since the agent wrote them (or whose original is lost) and no
    /// `--keep-edited`.
    #[error(
        "reset refused, nothing was changed: {count} file(s) cannot be put back safely (listed above)"
    )]
    Refused {
        /// How many.
        count: usize,
    },
}

/// One file to put back.
#[derive(Debug, Clone)]
pub struct FileUndo {
    /// Node path.
    pub path: String,
    /// What to do.
    pub verdict: files::Verdict,
    /// Its original, when it is to be restored.
    pub saved: Option<Saved>,
    /// What is there now.
    pub found: Found,
}

impl FileUndo {
    /// Whether what is there now is private (no permission for group or others: keys,
    /// kubeconfigs, join secrets).
    pub fn private(&self) -> bool {
        matches!(self.found, Found::File { mode, .. } if mode & 0o077 == 0)
    }

    /// The unit a systemd mask at this path masks (a link to /dev/null in a unit directory).
    pub fn masked_unit(&self) -> Option<&str> {
        let (dir, unit) = self.path.rsplit_once('/')?;
        (dir.ends_with("/systemd/system") && self.found == Found::Link("/dev/null".into()))
            .then_some(unit)
    }
}

/// Everything reset would do, and what stays.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    /// How many journal lines were read.
    pub journaled: usize,
    /// Files, in the reverse order of the agent's first change to each.
    pub files: Vec<FileUndo>,
    /// Commands, parameters and directories.
    pub actions: actions::Actions,
    /// Modules to unload (loaded by the agent, used by nothing now).
    pub unload: Vec<String>,
    /// Swap areas to turn back on (turned off by the agent, still there, not active now).
    pub swapon: Vec<String>,
    /// Whether containerd runs and its configuration is put back: it is restarted to load it.
    pub restart_containerd: bool,
}

impl Undo {
    /// The files refused, with why.
    pub fn refused(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .filter_map(|f| match &f.verdict {
                files::Verdict::Refuse(why) => Some((f.path.as_str(), why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Whether anything is to be done (refused files count: they are pending).
    pub fn pending(&self) -> bool {
        let a = &self.actions;
        self.files
            .iter()
            .any(|f| !matches!(f.verdict, files::Verdict::AsBefore(_)))
            || a.member.is_some()
            || !a.held.is_empty()
            || !a.enabled.is_empty()
            || !a.params.is_empty()
            || !self.unload.is_empty()
            || !self.swapon.is_empty()
    }

    /// Whether a file under `dir` is restored or removed.
    fn touches(&self, dir: &str) -> bool {
        self.files.iter().any(|f| {
            f.path.starts_with(dir)
                && matches!(
                    f.verdict,
                    files::Verdict::Restore { .. } | files::Verdict::Remove
                )
        })
    }
}

/// Modules in use now (a use count above zero, or others depending on them), from
/// /proc/modules (proc(5): name, size, use count, dependents, state, address).
fn modules_in_use(host: &Host) -> Result<Vec<String>, HostError> {
    let text = host.read("/proc/modules")?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let used = f.get(2).is_some_and(|c| *c != "0") || f.get(3).is_some_and(|d| *d != "-");
            used.then(|| f[0].to_string())
        })
        .collect())
}

/// Reads the journal and the node and decides what reset does.
pub fn plan(host: &Host) -> Result<Undo, ResetError> {
    let entries: Vec<Entry> = host.read_journal()?;
    let mut histories: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for e in &entries {
        if files::FILE_ACTIONS.contains(&e.action.as_str()) {
            if !histories.contains_key(e.target.as_str()) {
                order.push(&e.target);
            }
            histories.entry(&e.target).or_default().push(e);
        }
    }
    let mut undo = Undo {
        journaled: entries.len(),
        actions: actions::analyse(&entries),
        ..Undo::default()
    };
    for path in order.into_iter().rev() {
        let history = &histories[path];
        let found = host.inspect(path)?;
        let saved = match history[0].backup.as_deref() {
            Some(b) => host.read_backup(b)?,
            None => None,
        };
        let verdict = files::verdict(history, &found, saved.as_ref());
        undo.files.push(FileUndo {
            path: path.to_string(),
            verdict,
            saved,
            found,
        });
    }
    live_settings(host, &mut undo)?;
    if undo.touches("/etc/containerd/") {
        let state = host.run(&Command::new("systemctl").args(["is-active", "containerd"]))?;
        undo.restart_containerd = state.stdout.trim() == "active";
    }
    Ok(undo)
}

/// Decides the live settings: modules to unload (unless in use), swap areas to turn back
/// on (unless active or gone), parameters to set back (unless changed since).
fn live_settings(host: &Host, undo: &mut Undo) -> Result<(), HostError> {
    let in_use = modules_in_use(host)?;
    let loaded = host.read("/proc/modules")?.unwrap_or_default();
    for module in &undo.actions.loaded {
        let name = module.replace('-', "_");
        let present = loaded
            .lines()
            .any(|l| l.split_whitespace().next() == Some(&name));
        if !present {
            continue;
        }
        if in_use.contains(&name) {
            undo.actions.stays.push(format!(
                "kernel module {module} stays loaded: it is in use (/proc/modules); it is not loaded at the next boot"
            ));
        } else {
            undo.unload.push(module.clone());
        }
    }
    let swaps = host.read("/proc/swaps")?.unwrap_or_default();
    for area in &undo.actions.swapped_off {
        let active = swaps
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(area));
        if active {
            continue;
        }
        if host.exists(area) {
            undo.swapon.push(area.clone());
        } else {
            undo.actions.stays.push(format!(
                "swap on {area} stays off: {area} is gone (its fstab line is restored)"
            ));
        }
    }
    let mut params = Vec::new();
    for p in std::mem::take(&mut undo.actions.params) {
        match host.read(&p.path)?.map(|v| v.trim().to_string()) {
            Some(now) if now == p.new => params.push(p),
            Some(now) if now != p.old => undo.actions.stays.push(format!(
                "{} stays {now}: changed since bootstrap set it to {} (it was {})",
                p.path, p.new, p.old
            )),
            _ => {}
        }
    }
    undo.actions.params = params;
    Ok(())
}
