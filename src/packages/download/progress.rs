//! The progress display of downloads: a bar per file on a terminal ([`Progress::Bars`]), a
//! plain line per finished file otherwise ([`Progress::Lines`]), or nothing; without bars, a
//! download that lasts also says how far it is through the host's wait reporter.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{DownloadError, Fetched, Job};
use crate::engine::Progress;
use crate::host::progress::{self as waits, Limit, Waiting};

/// Shows one file's progress.
pub enum Meter<'a> {
    /// Nothing shown while it downloads.
    None,
    /// A bar.
    Bar(ProgressBar),
    /// Through the host's wait reporter: the file, the wait, bytes so far and announced.
    Waits(String, Mutex<(Waiting<'a>, u64, Option<u64>)>),
}

impl Meter<'_> {
    /// A (new) attempt starts; `length` is the announced size.
    pub fn start(&self, length: Option<u64>) {
        match self {
            Meter::Bar(bar) => {
                bar.reset();
                if let Some(n) = length {
                    bar.set_length(n);
                }
            }
            Meter::Waits(_, state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                (state.1, state.2) = (0, length);
            }
            Meter::None => {}
        }
    }

    /// `n` more bytes arrived.
    pub fn advance(&self, n: u64) {
        match self {
            Meter::Bar(bar) => bar.inc(n),
            Meter::Waits(file, state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                state.1 += n;
                let got = indicatif::HumanBytes(state.1);
                let subject = match state.2 {
                    Some(total) => {
                        format!("download {file}: {got} of {}", indicatif::HumanBytes(total))
                    }
                    None => format!("download {file}: {got}"),
                };
                state.0.tick(&subject);
            }
            Meter::None => {}
        }
    }
}

/// The display of one `fetch_all`: its bars (on a terminal) and how finished files are told.
pub struct Display<'a> {
    progress: Progress,
    bars: Option<MultiProgress>,
    style: ProgressStyle,
    waits: Option<(&'a waits::Progress, Duration)>,
}

impl<'a> Display<'a> {
    /// A display for `progress` (bars are drawn on stderr).
    pub fn new(progress: Progress) -> Self {
        let bars = (progress == Progress::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let style = ProgressStyle::with_template(
            "{msg:<40!} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        Display {
            progress,
            bars,
            style,
            waits: None,
        }
    }

    /// Without bars, a download that lasts says how far it is through `waits`, bounded by
    /// `stall` without data.
    pub fn with_waits(mut self, waits: Option<&'a waits::Progress>, stall: Duration) -> Self {
        self.waits = waits.map(|w| (w, stall));
        self
    }

    /// The meter of the file `job` downloads into.
    pub fn meter(&self, job: &Job) -> Meter<'a> {
        match (&self.bars, self.waits) {
            (Some(multi), _) => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(self.style.clone());
                bar.set_message(job.file.clone());
                Meter::Bar(bar)
            }
            (None, Some((waits, stall))) => {
                let wait = (waits.start_with("the download stall limit", Limit::Stall(stall)))
                    .after_grace();
                Meter::Waits(job.file.clone(), Mutex::new((wait, 0, None)))
            }
            (None, None) => Meter::None,
        }
    }

    /// Tells how `job` ended after `took`: its bar becomes the line, or the line is printed.
    pub fn finish(
        &self,
        job: &Job,
        result: &Result<Fetched, DownloadError>,
        took: Duration,
        meter: &Meter,
    ) {
        let line = outcome_line(job, result, took);
        match (meter, self.progress) {
            (Meter::Bar(bar), _) => {
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                bar.finish_with_message(format!("download {line}"));
            }
            (Meter::None | Meter::Waits(..), Progress::Lines) => eprintln!("download {line}"),
            _ => {}
        }
    }
}

/// `kubelet: 100 MiB in 2.0 s (50 MiB/s), sha256 ok`, or that a verified copy was there, or
/// that it failed (the error itself is reported by the caller).
pub fn outcome_line(job: &Job, result: &Result<Fetched, DownloadError>, took: Duration) -> String {
    match result {
        Ok(f) if f.downloaded == 0 => format!("{}: verified copy already here", job.file),
        Ok(f) => format!(
            "{}: {} in {:.1} s ({}/s), sha256 ok",
            job.file,
            indicatif::HumanBytes(f.downloaded),
            took.as_secs_f64(),
            indicatif::HumanBytes((f.downloaded as f64 / took.as_secs_f64().max(1e-3)) as u64)
        ),
        Err(_) => format!("{}: failed", job.file),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Checksum;
    use super::*;

    #[test]
    fn outcome_lines() {
        let job = Job {
            file: "kubelet".into(),
            url: "https://dl.example/kubelet".into(),
            checksum: Checksum::Sha256("00".into()),
            dest: "/tmp/kubelet".into(),
        };
        let fetched = |downloaded| {
            Ok(Fetched {
                downloaded,
                size: 4 << 20,
                sha256: "00".into(),
            })
        };
        let two = Duration::from_secs(2);
        assert_eq!(
            outcome_line(&job, &fetched(4 << 20), two),
            "kubelet: 4.00 MiB in 2.0 s (2.00 MiB/s), sha256 ok"
        );
        assert_eq!(
            outcome_line(&job, &fetched(0), two),
            "kubelet: verified copy already here"
        );
        let failed = Err(DownloadError::Setup("x".into()));
        assert_eq!(outcome_line(&job, &failed, two), "kubelet: failed");
    }
}
