//! Events the engine emits while it runs; reporters turn them into lines for people or JSON.

use serde::Serialize;

/// What the run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Show what apply would change; touch nothing.
    Plan,
    /// Make the changes.
    Apply,
    /// Report drift from the profile as findings; touch nothing.
    Check,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Already as the profile wants.
    Ok,
    /// Changed by this apply, and verified.
    Changed,
    /// Plan: changes would be made.
    Pending,
    /// Check: the node differs from the profile.
    Drift,
    /// Could not observe, apply or verify.
    Failed,
    /// Not run (deselected, not applicable, or an earlier step failed).
    Skipped,
}

impl Status {
    /// The word shown to people.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Pending => "pending",
            Status::Drift => "drift",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// What became of one change in apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOutcome {
    /// Carried out.
    Done,
    /// Tried, and it failed (the step's reason says why).
    Failed,
    /// Not tried: an earlier change of the step failed.
    NotAttempted,
    /// A re-plan point: the step was planned again here, and the changes reported after
    /// it are that new plan.
    Replanned,
}

/// Counts and time of a whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Steps already converged.
    pub ok: usize,
    /// Steps changed by apply.
    pub changed: usize,
    /// Steps with changes pending (plan) or drift (check).
    pub pending: usize,
    /// Steps that failed.
    pub failed: usize,
    /// Steps not run.
    pub skipped: usize,
    /// Individual changes planned or made.
    pub changes: usize,
    /// Wall time of the run.
    pub duration_ms: u128,
    /// The process exit code this run maps to: 0 done/converged, 2 changes pending, 1 error.
    pub exit_code: i32,
}

/// One event of a run, serialised as one JSON object per line with an `event` field.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// The run begins.
    RunStarted {
        /// Plan, apply or check.
        mode: Mode,
        /// The profile file.
        profile: &'a str,
        /// The root directory.
        root: &'a str,
        /// Steps in order.
        steps: Vec<&'a str>,
    },
    /// A step begins.
    StepStarted {
        /// Step name.
        step: &'a str,
    },
    /// A change planned (plan, check), or, in apply, reported as soon as it was carried
    /// out, failed or was given up, with what became of it.
    Change {
        /// Step name.
        step: &'a str,
        /// What changes.
        summary: &'a str,
        /// Unified diff for files.
        #[serde(skip_serializing_if = "Option::is_none")]
        diff: Option<&'a str>,
        /// Apply only: carried out, failed, or not attempted.
        #[serde(skip_serializing_if = "Option::is_none")]
        outcome: Option<ChangeOutcome>,
    },
    /// A warning or information from a step.
    Note {
        /// Step name.
        step: &'a str,
        /// `warning` or `info`.
        level: &'a str,
        /// The text.
        message: &'a str,
    },
    /// A step ended.
    StepFinished {
        /// Step name.
        step: &'a str,
        /// How it ended.
        status: Status,
        /// Wall time.
        duration_ms: u128,
        /// Number of changes planned or made.
        changes: usize,
        /// Why it failed or was skipped.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    /// The run ended.
    Summary {
        /// Plan, apply or check.
        mode: Mode,
        /// Counts and time.
        #[serde(flatten)]
        summary: &'a Summary,
    },
    /// The run could not start (invalid profile, lock held, not root).
    Error {
        /// What went wrong, with its location and fix.
        message: &'a str,
        /// For an invalid profile: every problem as data (file, line, column, key, message,
        /// expected, help).
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        diagnostics: &'a [crate::profile::structured::Located],
    },
}
