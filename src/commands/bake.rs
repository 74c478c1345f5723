//! `bootstrap bake --root DIR --profile FILE`: an apply on an offline root (an image tree or
//! a mounted disk image), so that at its first boot only the cluster step remains, and a
//! record of what was baked in [`BAKED_RECORD`] inside the image.
//!
//! The record is read by every later run on that image (the apply at first boot, `check`):
//! each step the bake left converged is named as baked, and is still observed and verified
//! like any other step: a baked step is recognised, never trusted blindly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::report::Reporter;
use crate::engine::run::{Selection, run};
use crate::engine::{AT_FIRST_BOOT, Context, Event, Mode, Status, Step};
use crate::host::{Host, HostError, Mode as FileMode};

/// Where the record of a bake is kept in the image.
pub const BAKED_RECORD: &str = "/var/lib/bootstrap/baked.json";

/// What a bake left in the image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baked {
    /// The bootstrap version that baked it.
    pub bootstrap: String,
    /// When (seconds since the Unix epoch, the baking machine's clock).
    pub baked_at: i64,
    /// SHA-256 of the profile file it was baked with.
    pub profile_sha256: String,
    /// Each step's outcome: `ok` or `changed` (baked), `skipped` (with the reason).
    pub steps: BTreeMap<String, BakedStep>,
    /// The live changes left to the first boot.
    pub at_first_boot: Vec<String>,
}

/// One step's outcome in the bake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BakedStep {
    /// `ok`, `changed` or `skipped`.
    pub status: String,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl BakedStep {
    /// Whether the step's work is in the image (converged or changed by the bake).
    pub fn baked(&self) -> bool {
        self.status == Status::Ok.word() || self.status == Status::Changed.word()
    }
}

/// The SHA-256 of a profile's bytes, in hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The record of the image under `host`, when there is one (an unreadable one counts as
/// none: it only adds notes).
pub fn read(host: &Host) -> Option<Baked> {
    let text = host.read(BAKED_RECORD).ok()??;
    serde_json::from_str(&text).ok()
}

/// A reporter that passes every event on and keeps what the record needs.
struct Recorder<'r> {
    inner: &'r mut dyn Reporter,
    baked: Baked,
}

impl Reporter for Recorder<'_> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::StepFinished {
                step,
                status,
                reason,
                ..
            } => {
                let entry = BakedStep {
                    status: status.word().to_string(),
                    reason: reason.map(str::to_string),
                };
                self.baked.steps.insert(step.to_string(), entry);
            }
            Event::Note { step, message, .. } if message.starts_with(AT_FIRST_BOOT) => {
                let what = message.trim_start_matches(AT_FIRST_BOOT);
                self.baked.at_first_boot.push(format!("{step}: {what}"));
            }
            _ => {}
        }
        self.inner.event(event);
    }
}

/// Bakes: applies every selected step to the offline root, and when the run succeeded
/// records it in [`BAKED_RECORD`]. Returns the run's exit code (1 when the record cannot be
/// written).
pub fn bake(
    steps: &[Box<dyn Step>],
    ctx: &Context,
    selection: &Selection,
    profile: (&str, &[u8]),
    reporter: &mut dyn Reporter,
) -> Result<i32, HostError> {
    let mut recorder = Recorder {
        inner: reporter,
        baked: Baked {
            bootstrap: super::version::VERSION.to_string(),
            baked_at: ctx.host.unix_time(),
            profile_sha256: digest(profile.1),
            ..Baked::default()
        },
    };
    let summary = run(steps, ctx, Mode::Apply, selection, profile.0, &mut recorder);
    if summary.exit_code != 0 {
        return Ok(summary.exit_code);
    }
    let text = serde_json::to_string_pretty(&recorder.baked).unwrap_or_default() + "\n";
    ctx.host.write_file(
        "bake",
        BAKED_RECORD,
        text.as_bytes(),
        FileMode::KeepOr(0o644),
    )?;
    Ok(0)
}

/// A reporter for runs on a baked image: a note before each step the bake left in the
/// image, saying so, and on the first step a warning when the profile is not the one baked
/// with. The steps are observed and verified as always.
pub struct Recognise<'r> {
    inner: &'r mut dyn Reporter,
    baked: Baked,
    profile_sha256: String,
    warned: bool,
}

impl<'r> Recognise<'r> {
    /// Wraps `inner` for a run with the profile of digest `profile_sha256` on an image
    /// baked as `baked` says.
    pub fn new(inner: &'r mut dyn Reporter, baked: Baked, profile_sha256: String) -> Self {
        Recognise {
            inner,
            baked,
            profile_sha256,
            warned: false,
        }
    }

    fn note(&mut self, step: &str, level: &str, message: &str) {
        self.inner.event(&Event::Note {
            step,
            level,
            message,
        });
    }
}

impl Reporter for Recognise<'_> {
    fn event(&mut self, event: &Event) {
        if let Event::StepStarted { step } = event {
            self.inner.event(event);
            if !self.warned && self.baked.profile_sha256 != self.profile_sha256 {
                self.warned = true;
                let message = format!(
                    "this image was baked with another profile (sha256 {}, this one is {}): every step is planned from this profile",
                    self.baked.profile_sha256, self.profile_sha256
                );
                self.note(step, "warning", &message);
            }
            if self.baked.steps.get(*step).is_some_and(BakedStep::baked) {
                let message = format!(
                    "baked into the image by bootstrap {} ({BAKED_RECORD}); observed and verified again here",
                    self.baked.bootstrap
                );
                self.note(step, "info", &message);
            }
            return;
        }
        self.inner.event(event);
    }
}

/// Runs plan, apply or check; on a baked image (a [`BAKED_RECORD`] in the root) through
/// [`Recognise`]. Returns the exit code.
pub fn run_recognised(
    steps: &[Box<dyn Step>],
    ctx: &Context,
    mode: Mode,
    selection: &Selection,
    profile: (&str, &[u8]),
    reporter: &mut dyn Reporter,
) -> i32 {
    match read(ctx.host) {
        Some(baked) => {
            let mut recognise = Recognise::new(reporter, baked, digest(profile.1));
            run(steps, ctx, mode, selection, profile.0, &mut recognise).exit_code
        }
        None => run(steps, ctx, mode, selection, profile.0, reporter).exit_code,
    }
}
