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

fn run_step(step: &dyn Step, ctx: &Context, mode: Mode, reporter: &mut dyn Reporter) -> Outcome {
    let failed = |e: StepError| Outcome {
        status: Status::Failed,
        changes: 0,
        reason: Some(ctx.host.redact(&e.to_string())),
    };
    let plan = match step.plan(ctx) {
        Ok(plan) => plan,
        Err(e) => return failed(e),
    };
    if let Some(reason) = plan.skipped.clone() {
        report_plan(reporter, step.name(), &plan);
        return Outcome {
            status: Status::Skipped,
            changes: 0,
            reason: Some(reason),
        };
    }
    report_plan(reporter, step.name(), &plan);
    let changes = plan.changes.len();
    if changes == 0 {
        return Outcome {
            status: Status::Ok,
            changes,
            reason: None,
        };
    }
    let status = match mode {
        Mode::Plan => Status::Pending,
        Mode::Check => Status::Drift,
        Mode::Apply => {
            let done = step.apply(ctx, &plan).and_then(|extra| {
                let more = Plan {
                    changes: extra,
                    ..Plan::default()
                };
                report_plan(reporter, step.name(), &more);
                step.verify(ctx).map(|()| more.changes.len())
            });
            match done {
                Ok(extra) => {
                    return Outcome {
                        status: Status::Changed,
                        changes: changes + extra,
                        reason: None,
                    };
                }
                Err(e) => {
                    return Outcome {
                        changes,
                        ..failed(e)
                    };
                }
            }
        }
    };
    Outcome {
        status,
        changes,
        reason: None,
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
