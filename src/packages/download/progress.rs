//! The progress display of downloads: a bar per file on a terminal ([`Progress::Bars`]), a
//! plain line per finished file otherwise ([`Progress::Lines`]), or nothing.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{DownloadError, Fetched, Job};
use crate::engine::Progress;

/// Shows one file's progress.
pub enum Meter {
    /// Nothing shown while it downloads.
    None,
    /// A bar.
    Bar(ProgressBar),
}

impl Meter {
    /// A (new) attempt starts; `length` is the announced size.
    pub fn start(&self, length: Option<u64>) {
        if let Meter::Bar(bar) = self {
            bar.reset();
            if let Some(n) = length {
                bar.set_length(n);
            }
        }
    }

    /// `n` more bytes arrived.
    pub fn advance(&self, n: u64) {
        if let Meter::Bar(bar) = self {
            bar.inc(n);
        }
    }
}

/// The display of one `fetch_all`: its bars (on a terminal) and how finished files are told.
pub struct Display {
    progress: Progress,
    bars: Option<MultiProgress>,
    style: ProgressStyle,
}

impl Display {
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
        }
    }

    /// The meter of the file `job` downloads into.
    pub fn meter(&self, job: &Job) -> Meter {
        match &self.bars {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(self.style.clone());
                bar.set_message(job.file.clone());
                Meter::Bar(bar)
            }
            None => Meter::None,
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
            (Meter::None, Progress::Lines) => eprintln!("download {line}"),
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
