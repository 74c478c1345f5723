//! Runs steps in order: plan for every step, and for apply, apply then verify each one.

use std::time::Instant;

use super::change::{Note, Plan};
use super::event::{Event, Mode, Status, Summary};
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

fn report_plan(reporter: &mut dyn Reporter, step: &str, plan: &Plan) {
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
    for change in &plan.changes {
        reporter.event(&Event::Change {
            step,
            summary: &change.summary,
            diff: change.diff.as_deref(),
        });
    }
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
    let extra = Plan {
        changes: step.apply(ctx, plan)?,
        ..Plan::default()
    };
    report_plan(reporter, step.name(), &extra);
    step.verify(ctx)?;
    Ok(plan.changes.len() + extra.changes.len())
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
    report_plan(reporter, step.name(), &plan);
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
