//! What a step plans: changes (each printable, each carried out through the host) and notes.

use crate::formats::diff;
use crate::host::{Command, Host, HostError, Mode};

/// One change a step wants to make.
#[derive(Debug, Clone)]
pub struct Change {
    /// One line saying what changes, e.g. "load kernel module br_netfilter".
    pub summary: String,
    /// A unified diff for file changes (empty for actions, or hidden for secret files).
    pub diff: Option<String>,
    /// What carrying it out does.
    pub action: Action,
}

/// How a change is carried out.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace a file's content atomically.
    WriteFile {
        /// Node path.
        path: String,
        /// New content.
        contents: Vec<u8>,
        /// Permission bits.
        mode: Mode,
    },
    /// Write a kernel parameter under /proc/sys in place.
    SetKernelParam {
        /// Node path under /proc/sys.
        path: String,
        /// The value.
        value: String,
    },
    /// Make a symlink (for example a systemd mask).
    Symlink {
        /// Node path of the link.
        path: String,
        /// What it points to.
        target: String,
    },
    /// Run a program that changes the node.
    Run(Command),
    /// Work only the step that planned it knows how to do (downloads run in parallel, for
    /// example): that step's [`super::Step::apply`] carries it out. The engine itself does
    /// nothing with it, so a step that plans one overrides `apply` (and `verify` would
    /// catch the omission).
    Custom(std::sync::Arc<dyn std::any::Any + Send + Sync>),
}

/// Something a step wants the operator to know that is not a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Works now but is fragile or surprising (an override, a conflict).
    Warning(String),
    /// Plain information.
    Info(String),
}

/// A step's plan: the changes to make, and notes. Empty changes mean converged.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Changes, in the order they must be carried out.
    pub changes: Vec<Change>,
    /// Warnings and information found while observing.
    pub notes: Vec<Note>,
    /// Set when the step does not apply to this node or profile, with the reason.
    pub skipped: Option<String>,
}

impl Plan {
    /// A plan for a step with nothing to do here, and why.
    pub fn skip(reason: impl Into<String>) -> Self {
        Plan {
            skipped: Some(reason.into()),
            ..Plan::default()
        }
    }

    /// Adds a change.
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Adds a warning.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.notes.push(Note::Warning(text.into()));
    }

    /// Adds information.
    pub fn info(&mut self, text: impl Into<String>) {
        self.notes.push(Note::Info(text.into()));
    }
}

impl Change {
    /// A whole-file change from `old` (absent when `None`) to `new`, shown as a diff.
    pub fn file(path: &str, old: Option<&str>, new: String, mode: Mode) -> Self {
        let summary = match old {
            None => format!("create {path}"),
            Some(_) => format!("update {path}"),
        };
        Change {
            summary,
            diff: Some(diff::unified(path, old, &new)),
            action: Action::WriteFile {
                path: path.to_string(),
                contents: new.into_bytes(),
                mode,
            },
        }
    }

    /// A file holding secrets: no diff is ever shown, and it is written 0600.
    pub fn secret_file(path: &str, existed: bool, contents: Vec<u8>) -> Self {
        let verb = if existed { "update" } else { "create" };
        Change {
            summary: format!("{verb} {path} (holds secrets: contents not shown)"),
            diff: None,
            action: Action::WriteFile {
                path: path.to_string(),
                contents,
                mode: Mode::Exact(0o600),
            },
        }
    }

    /// Runs a command, described by `summary`.
    pub fn run(summary: impl Into<String>, command: Command) -> Self {
        Change {
            summary: summary.into(),
            diff: None,
            action: Action::Run(command),
        }
    }

    /// Sets a kernel parameter live.
    pub fn kernel_param(key: &str, path: String, old: Option<&str>, value: &str) -> Self {
        let was = old.map_or(
            "not present yet: appears once its module is loaded".to_string(),
            |o| format!("was {o}"),
        );
        Change {
            summary: format!("set {key} = {value} ({was})"),
            diff: None,
            action: Action::SetKernelParam {
                path,
                value: value.to_string(),
            },
        }
    }

    /// Makes a symlink.
    pub fn symlink(summary: impl Into<String>, path: &str, target: &str) -> Self {
        Change {
            summary: summary.into(),
            diff: None,
            action: Action::Symlink {
                path: path.to_string(),
                target: target.to_string(),
            },
        }
    }

    /// A change carried out by the planning step itself (see [`Action::Custom`]).
    pub fn custom(summary: impl Into<String>, work: impl std::any::Any + Send + Sync) -> Self {
        Change {
            summary: summary.into(),
            diff: None,
            action: Action::Custom(std::sync::Arc::new(work)),
        }
    }

    /// Carries the change out through the host on behalf of `step`.
    pub fn apply(&self, host: &Host, step: &str) -> Result<(), HostError> {
        match &self.action {
            Action::WriteFile {
                path,
                contents,
                mode,
            } => host.write_file(step, path, contents, *mode),
            Action::SetKernelParam { path, value } => host.write_kernel_param(step, path, value),
            Action::Symlink { path, target } => host.symlink(step, path, target),
            Action::Run(command) => host.run_change(step, command).map(|_| ()),
            Action::Custom(_) => Ok(()),
        }
    }
}
