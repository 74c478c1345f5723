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

fn report_change(
    reporter: &mut dyn Reporter,
    step: &str,
    change: &Change,
    outcome: Option<ChangeOutcome>,
) {
    reporter.event(&Event::Change {
        step,
        summary: &change.summary,
        diff: change.diff.as_deref(),
        outcome,
    });
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

/// Why carrying out a plan stopped, and how many changes were made before.
struct Stopped {
    error: StepError,
    made: usize,
}

/// Plans `step` again at a re-plan point (see [`Action::Replan`]): the new plan's notes
/// not seen before are reported, and its changes are returned to be carried out next.
fn replan(
    step: &dyn Step,
    ctx: &Context,
    point: &Change,
    seen: &[Note],
    reporter: &mut dyn Reporter,
) -> Result<Vec<Change>, StepError> {
    let next = step.plan(ctx)?;
    if next
        .changes
        .iter()
        .any(|c| matches!(c.action, Action::Replan))
    {
        return Err(StepError::Replan {
            summary: point.summary.clone(),
        });
    }
    let fresh = Plan {
        notes: next
            .notes
            .iter()
            .filter(|n| !seen.contains(n))
            .cloned()
            .collect(),
        ..Plan::default()
    };
    report_notes(reporter, step.name(), &fresh);
    Ok(next.changes)
}

/// Carries out a plan, change by change and nothing else, reporting each as it ends: done,
/// failed (the first error stops the step), then not attempted for the rest. At a re-plan
/// point the step is planned again, the point is reported as re-planned and the new changes
/// take the place of the rest of the plan. Returns how many changes were made.
fn carry_out(
    step: &dyn Step,
    ctx: &Context,
    plan: &Plan,
    reporter: &mut dyn Reporter,
) -> Result<usize, Stopped> {
    let name = step.name();
    let mut queue: Vec<Change> = plan.changes.clone();
    let mut made = 0;
    let mut i = 0;
    while i < queue.len() {
        let result = match queue[i].action {
            Action::Replan => replan(step, ctx, &queue[i], &plan.notes, reporter).map(|next| {
                queue.truncate(i + 1);
                queue.extend(next);
                ChangeOutcome::Replanned
            }),
            _ => queue[i].apply(ctx, name).map(|()| ChangeOutcome::Done),
        };
        match result {
            Ok(outcome) => {
                made += usize::from(outcome == ChangeOutcome::Done);
                report_change(reporter, name, &queue[i], Some(outcome));
            }
            Err(error) => {
                report_change(reporter, name, &queue[i], Some(ChangeOutcome::Failed));
                for rest in &queue[i + 1..] {
                    report_change(reporter, name, rest, Some(ChangeOutcome::NotAttempted));
                }
                return Err(Stopped { error, made });
            }
        }
        i += 1;
    }
    Ok(made)
}

/// Carries out a plan and verifies; returns how many changes were made.
fn apply_and_verify(
    step: &dyn Step,
    ctx: &Context,
    plan: &Plan,
    reporter: &mut dyn Reporter,
) -> Result<usize, Stopped> {
    let made = carry_out(step, ctx, plan, reporter)?;
    step.verify(ctx).map_err(|error| Stopped { error, made })?;
    Ok(made)
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
        for change in &plan.changes {
            report_change(reporter, step.name(), change, None);
        }
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
            Err(Stopped { error, made }) => failed(error, made),
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
