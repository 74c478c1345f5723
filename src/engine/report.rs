//! Reporters: a live line per step and a recap for people, or one JSON object per line.

use std::io::Write;

use super::event::{ChangeOutcome, Event, Mode, Status, Summary};

/// Receives the events of a run.
pub trait Reporter {
    /// Handles one event.
    fn event(&mut self, event: &Event);
}

/// A writer that passes whole lines on with the credentials of any URL in them
/// (`https://user:password@host`) replaced: the last guard, after every caller's own
/// redaction, so no report line can show a mirror's or proxy's password.
pub struct ScrubbedLines<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> ScrubbedLines<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> Self {
        ScrubbedLines {
            out,
            line: Vec::new(),
        }
    }

    fn pass_on(&mut self) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.line);
        let scrubbed = crate::values::redact_userinfo(&text);
        self.line.clear();
        self.out.write_all(scrubbed.as_bytes())
    }
}

impl<W: Write> Write for ScrubbedLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &byte in buf {
            self.line.push(byte);
            if byte == b'\n' {
                self.pass_on()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.line.is_empty() {
            self.pass_on()?;
        }
        self.out.flush()
    }
}

/// One JSON object per line on standard output.
pub struct JsonReporter<W: Write> {
    out: ScrubbedLines<W>,
}

impl<W: Write> JsonReporter<W> {
    /// Writes events to `out`.
    pub fn new(out: W) -> Self {
        JsonReporter {
            out: ScrubbedLines::new(out),
        }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn event(&mut self, event: &Event) {
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }
}

/// Lines for people: one per step as it finishes, details indented below, then a recap.
pub struct HumanReporter<W: Write> {
    out: ScrubbedLines<W>,
    mode: Mode,
    profile: String,
    details: Vec<String>,
    quiet: bool,
    apply_command: Option<String>,
}

impl<W: Write> HumanReporter<W> {
    /// Writes to `out`; `quiet` keeps only failures, warnings and the recap.
    pub fn new(out: W, quiet: bool) -> Self {
        HumanReporter {
            out: ScrubbedLines::new(out),
            mode: Mode::Plan,
            profile: String::new(),
            details: Vec::new(),
            quiet,
            apply_command: None,
        }
    }

    /// The `bootstrap apply ...` command the recap advises, repeating the run's options
    /// (`--root`, `--profile`, `--only`, `--skip`); without it the advice names the profile only.
    pub fn with_apply_command(mut self, command: String) -> Self {
        self.apply_command = Some(command);
        self
    }

    fn apply_command(&self) -> String {
        self.apply_command
            .clone()
            .unwrap_or_else(|| format!("bootstrap apply --profile {}", self.profile))
    }
}

/// A duration the way people read it: `12 ms` or `1.25 s`.
pub fn human_duration(ms: u128) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

impl<W: Write> HumanReporter<W> {
    fn run_started(&mut self, mode: Mode, profile: &str, root: &str) {
        self.mode = mode;
        self.profile = profile.to_string();
        if !self.quiet {
            let verb = serde_json::to_value(mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(self.out, "bootstrap {verb}: profile {profile}, root {root}");
        }
    }

    fn change(&mut self, summary: &str, diff: Option<&str>, outcome: Option<ChangeOutcome>) {
        let line = match outcome {
            None => format!("  ~ {summary}"),
            Some(ChangeOutcome::Done) => format!("  + {summary}"),
            Some(ChangeOutcome::Failed) => format!("  x {summary} (failed)"),
            Some(ChangeOutcome::NotAttempted) => format!("  - {summary} (not attempted)"),
            Some(ChangeOutcome::Replanned) => {
                format!("  > {summary} (planned again now: the changes below)")
            }
        };
        self.details.push(line);
        if self.mode != Mode::Apply
            && let Some(diff) = diff
        {
            self.details
                .extend(diff.lines().map(|l| format!("      {l}")));
        }
    }

    fn step_finished(
        &mut self,
        step: &str,
        status: Status,
        duration_ms: u128,
        changes: usize,
        reason: Option<&str>,
    ) {
        let interesting =
            matches!(status, Status::Failed) || self.details.iter().any(|d| d.starts_with("  ! "));
        if self.quiet && !interesting {
            return;
        }
        let mut line = format!(
            "{step:<12} {:<8} {:>9}",
            status.word(),
            human_duration(duration_ms)
        );
        if changes > 0 {
            line.push_str(&format!("  {}", plural(changes, "change")));
        }
        if let Some(reason) = reason {
            line.push_str(&format!("  ({reason})"));
        }
        let _ = writeln!(self.out, "{line}");
        for detail in self.details.drain(..) {
            let _ = writeln!(self.out, "{detail}");
        }
    }

    fn summary(&mut self, mode: Mode, summary: &Summary) {
        let _ = writeln!(
            self.out,
            "\nrecap: ok={} changed={} {}={} failed={} skipped={}  {} in {}",
            summary.ok,
            summary.changed,
            if mode == Mode::Check {
                "drift"
            } else {
                "pending"
            },
            summary.pending,
            summary.failed,
            summary.skipped,
            plural(summary.changes, "change"),
            human_duration(summary.duration_ms)
        );
        let advice = match (mode, summary.failed, summary.pending) {
            (_, f, _) if f > 0 => None,
            (Mode::Plan, _, p) if p > 0 => Some(format!(
                "changes pending: run `{}` to make them",
                self.apply_command()
            )),
            (Mode::Check, _, p) if p > 0 => Some(format!(
                "the node has drifted from the profile: `{}` restores it",
                self.apply_command()
            )),
            (Mode::Apply, _, _) if summary.changes == 0 => {
                Some("the node already matched the profile; nothing was changed".into())
            }
            _ => None,
        };
        if let Some(advice) = advice {
            let _ = writeln!(self.out, "{advice}");
        }
    }
}

impl<W: Write> Reporter for HumanReporter<W> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                mode,
                profile,
                root,
                ..
            } => self.run_started(*mode, profile, root),
            Event::StepStarted { .. } => self.details.clear(),
            Event::Change {
                summary,
                diff,
                outcome,
                ..
            } => self.change(summary, *diff, *outcome),
            Event::Note { level, message, .. } => {
                let mark = if *level == "warning" {
                    "! warning"
                } else {
                    "i"
                };
                self.details.push(format!("  {mark}: {message}"));
            }
            Event::StepFinished {
                step,
                status,
                duration_ms,
                changes,
                reason,
            } => self.step_finished(step, *status, *duration_ms, *changes, *reason),
            Event::Summary { mode, summary } => self.summary(*mode, summary),
            Event::Error { message, .. } => {
                eprintln!("error: {message}");
            }
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn credentials_in_urls_never_reach_a_report_line() {
        let mut out = ScrubbedLines::new(Vec::new());
        write!(out, "fetch https://bob:s3cret@mirror.example/k8s ").unwrap();
        writeln!(out, "and http://who@proxy:3128 then").unwrap();
        write!(out, "partial https://u:pw@h/x").unwrap();
        out.flush().unwrap();
        let text = String::from_utf8(out.out).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("bob"), "{text}");
        assert!(!text.contains("who@") && !text.contains(":pw@"), "{text}");
        assert!(
            text.contains("https://<redacted>@mirror.example/k8s"),
            "{text}"
        );
        assert!(text.ends_with("partial https://<redacted>@h/x"), "{text}");
    }
}
