//! Restarts and reloads owed to the node. A change that only takes effect once a service is
//! restarted (containerd's config) or systemd reloads its units (anything under
//! /etc/systemd/) records the command that makes it effective *before* the file is replaced,
//! in `STATE_DIR/pending.json` (written atomically). The record is removed when that
//! command succeeds; a run killed in between leaves it, and the next run's plan shows the
//! command again and carries it out.

use serde::{Deserialize, Serialize};

use super::atomic::NewFile;
use super::paths::{STATE_DIR, io_err};
use super::{Command, Host, HostError};

/// Node paths under which a change needs `systemctl daemon-reload` (unit files, drop-ins,
/// masks, generator configs) when systemd runs.
const UNIT_PREFIX: &str = "/etc/systemd/";

/// The pending-commands file's node path.
fn pending_path() -> String {
    format!("{STATE_DIR}/pending.json")
}

/// One command owed to the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// The program and its arguments.
    command: Vec<String>,
    /// The node path whose change needs it.
    because: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Pending {
    pending: Vec<Entry>,
}

/// `systemctl daemon-reload`.
pub fn daemon_reload() -> Command {
    Command::new("systemctl").arg("daemon-reload")
}

impl Host {
    /// Declares that a change to `node_path` takes effect only once `command` has run (for
    /// example `systemctl restart containerd` after its config): a later write, link or
    /// removal of that path records the command as pending before it replaces anything.
    pub fn effective_after(&self, node_path: &str, command: &Command) {
        let Some(argv) = command.plain_argv() else {
            return;
        };
        let path = super::resolve::lexical(node_path);
        let mut triggers = self.triggers.lock().unwrap_or_else(|e| e.into_inner());
        if !triggers.iter().any(|(p, a)| *p == path && *a == argv) {
            triggers.push((path, argv));
        }
    }

    /// Whether `command` is owed to the node: an earlier change recorded it and it has not
    /// succeeded since (a run was interrupted between the change and the command).
    pub fn is_pending(&self, command: &Command) -> bool {
        let Some(argv) = command.plain_argv() else {
            return false;
        };
        self.load_pending()
            .pending
            .iter()
            .any(|e| e.command == argv)
    }

    fn load_pending(&self) -> Pending {
        self.read_bytes(&pending_path())
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The commands a change to `node_path` owes, from the declared triggers and the
    /// systemd unit directory.
    fn owed_by(&self, node_path: &str) -> Vec<Vec<String>> {
        let mut owed: Vec<Vec<String>> = self
            .triggers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(p, _)| p == node_path)
            .map(|(_, a)| a.clone())
            .collect();
        if node_path.starts_with(UNIT_PREFIX)
            && self.is_dir("/run/systemd/system")
            && let Some(argv) = daemon_reload().plain_argv()
        {
            owed.push(argv);
        }
        owed
    }

    /// Records the commands a change to `node_path` owes, before the change is made.
    pub(super) fn record_pending(&self, node_path: &str) -> Result<(), HostError> {
        let owed = self.owed_by(node_path);
        if owed.is_empty() {
            return Ok(());
        }
        let mut state = self.load_pending();
        let before = state.pending.len();
        for command in owed {
            if !state.pending.iter().any(|e| e.command == command) {
                state.pending.push(Entry {
                    command,
                    because: node_path.to_string(),
                });
            }
        }
        if state.pending.len() == before {
            return Ok(());
        }
        self.store_pending(&state)
    }

    /// Forgets `command` once it has succeeded.
    pub(super) fn clear_pending(&self, command: &Command) {
        let Some(argv) = command.plain_argv() else {
            return;
        };
        let mut state = self.load_pending();
        let before = state.pending.len();
        state.pending.retain(|e| e.command != argv);
        if state.pending.len() != before
            && let Err(e) = self.store_pending(&state)
        {
            tracing::warn!(
                "{e}: `{}` may be run again by the next apply",
                command.display()
            );
        }
    }

    fn store_pending(&self, state: &Pending) -> Result<(), HostError> {
        let node = pending_path();
        let path = self.path_nofollow(&node);
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| io_err("cannot encode", &path)(std::io::Error::other(e)))?;
        let new = NewFile {
            contents: text.as_bytes(),
            mode: 0o600,
            owner: None,
        };
        self.replace_state(&node, &path, &new, "cannot record a pending restart in")
    }
}
