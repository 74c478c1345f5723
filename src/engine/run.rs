//! Runs steps in order: plan for every step, and for apply, apply then verify each one.

use std::time::Instant;

use super::change::{Action, Change, Note, Plan};
use super::event::{ChangeOutcome, Event, Mode, Status, Summary};
use super::report::Reporter;
use super::step::{Context, Step, StepError};

/// Which steps to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Run only these (all when empty).
    pub only: Vec<String>,
    /// Never run these.
    pub skip: Vec<String>,
}

impl Selection {
    /// Whether `step` is selected.
    pub fn includes(&self, step: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|s| s == step))
            && !self.skip.iter().any(|s| s == step)
    }

    /// Names in `--only`/`--skip` that are not steps, with the nearest real step name.
    pub fn unknown(&self, known: &[&str]) -> Vec<(String, Option<String>)> {
        self.only
            .iter()
            .chain(&self.skip)
            .filter(|name| !known.contains(&name.as_str()))
            .map(|name| {
                let near = crate::profile::diagnostic::suggest(name, known.iter().copied());
                (name.clone(), near.map(str::to_string))
            })
            .collect()
    }
}

struct Outcome {
    status: Status,
    changes: usize,
    reason: Option<String>,
}

fn report_notes(reporter: &mut dyn Reporter, step: &str, plan: &Plan) {
    for note in &plan.notes {
        let (level, message) = match note {
            Note::Warning(m) => ("warning", m),
            Note::Info(m) => ("info", m),
        };
        reporter.event(&Event::Note {
            step,
            level,
            message,
        });
    }
}

fn report_changes(
    reporter: &mut dyn Reporter,
    step: &str,
    changes: &[Change],
    outcome: impl Fn(usize) -> Option<ChangeOutcome>,
) {
    for (i, change) in changes.iter().enumerate() {
        reporter.event(&Event::Change {
            step,
            summary: &change.summary,
            diff: change.diff.as_deref(),
            outcome: outcome(i),
        });
    }
}

/// What became of each change of a plan whose apply failed, found by observing again: a
/// change no longer planned was carried out; of the others, the first failed and the rest
/// were not attempted (apply stops at the first failure).
fn after_failure(step: &dyn Step, ctx: &Context, plan: &Plan) -> Vec<ChangeOutcome> {
    let again: Option<Vec<String>> = step
        .plan(ctx)
        .ok()
        .map(|p| p.changes.into_iter().map(|c| c.summary).collect());
    let mut outcomes = Vec::new();
    let mut failed = false;
    for change in &plan.changes {
        let gone = match (&again, &change.action) {
            (None, _) => false,
            (Some(now), Action::Replan) => now.is_empty(),
            (Some(now), _) => !now.contains(&change.summary),
        };
        outcomes.push(match (gone, failed) {
            (true, false) => ChangeOutcome::Done,
            (false, false) => {
                failed = true;
                ChangeOutcome::Failed
            }
            (_, true) => ChangeOutcome::NotAttempted,
        });
    }
    if !failed && let Some(last) = outcomes.last_mut() {
        // Every change looks made, yet apply failed: the last one did not finish.
        *last = ChangeOutcome::Failed;
    }
    outcomes
}

impl Outcome {
    fn new(status: Status, changes: usize, reason: Option<String>) -> Self {
        Outcome {
            status,
            changes,
            reason,
        }
    }
}

/// Applies a plan, reports the changes found by re-planning, and verifies; returns how many
/// changes were made in all.
fn apply_and_verify(
    step: &dyn Step,
    ctx: &Context,
    plan: &Plan,
    reporter: &mut dyn Reporter,
) -> Result<usize, StepError> {
    let name = step.name();
    let extra = match step.apply(ctx, plan) {
        Ok(extra) => extra,
        Err(e) => {
            let outcomes = after_failure(step, ctx, plan);
            report_changes(reporter, name, &plan.changes, |i| outcomes.get(i).copied());
            return Err(e);
        }
    };
    let done = |_| Some(ChangeOutcome::Done);
    report_changes(reporter, name, &plan.changes, done);
    report_changes(reporter, name, &extra, done);
    step.verify(ctx)?;
    Ok(plan.changes.len() + extra.len())
}

fn run_step(step: &dyn Step, ctx: &Context, mode: Mode, reporter: &mut dyn Reporter) -> Outcome {
    let failed = |e: StepError, changes| {
        Outcome::new(
            Status::Failed,
            changes,
            Some(ctx.host.redact(&e.to_string())),
        )
    };
    let plan = match step.plan(ctx) {
        Ok(plan) => plan,
        Err(e) => return failed(e, 0),
    };
    report_notes(reporter, step.name(), &plan);
    if mode != Mode::Apply {
        report_changes(reporter, step.name(), &plan.changes, |_| None);
    }
    if let Some(reason) = plan.skipped.clone() {
        return Outcome::new(Status::Skipped, 0, Some(reason));
    }
    let changes = plan.changes.len();
    match (changes, mode) {
        (0, _) => Outcome::new(Status::Ok, 0, None),
        (_, Mode::Plan) => Outcome::new(Status::Pending, changes, None),
        (_, Mode::Check) => Outcome::new(Status::Drift, changes, None),
        (_, Mode::Apply) => match apply_and_verify(step, ctx, &plan, reporter) {
            Ok(made) => Outcome::new(Status::Changed, made, None),
            Err(e) => failed(e, changes),
        },
    }
}

/// Runs the selected `steps` in order and reports every event. In apply mode a failed step
/// stops the run: later steps are reported as skipped.
pub fn run(
    steps: &[Box<dyn Step>],
    ctx: &Context,
    mode: Mode,
    selection: &Selection,
    profile_file: &str,
    reporter: &mut dyn Reporter,
) -> Summary {
    let started = Instant::now();
    let root = ctx.host.root().display().to_string();
    reporter.event(&Event::RunStarted {
        mode,
        profile: profile_file,
        root: &root,
        steps: steps.iter().map(|s| s.name()).collect(),
    });
    let mut summary = Summary::default();
    let mut stopped = false;
    for step in steps {
        let name = step.name();
        reporter.event(&Event::StepStarted { step: name });
        let begin = Instant::now();
        let outcome = if !selection.includes(name) {
            Outcome {
                status: Status::Skipped,
                changes: 0,
                reason: Some("not selected by --only/--skip".into()),
            }
        } else if stopped {
            Outcome {
                status: Status::Skipped,
                changes: 0,
                reason: Some("not run: an earlier step failed".into()),
            }
        } else {
            run_step(step.as_ref(), ctx, mode, reporter)
        };
        match outcome.status {
            Status::Ok => summary.ok += 1,
            Status::Changed => summary.changed += 1,
            Status::Pending | Status::Drift => summary.pending += 1,
            Status::Failed => {
                summary.failed += 1;
                stopped |= mode == Mode::Apply;
            }
            Status::Skipped => summary.skipped += 1,
        }
        summary.changes += outcome.changes;
        reporter.event(&Event::StepFinished {
            step: name,
            status: outcome.status,
            duration_ms: begin.elapsed().as_millis(),
            changes: outcome.changes,
            reason: outcome.reason.as_deref(),
        });
    }
    summary.duration_ms = started.elapsed().as_millis();
    summary.exit_code = if summary.failed > 0 {
        1
    } else if summary.pending > 0 {
        2
    } else {
        0
    };
    reporter.event(&Event::Summary {
        mode,
        summary: &summary,
    });
    summary
}
