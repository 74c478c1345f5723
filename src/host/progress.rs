//! Progress of waits: one helper for every wait that can last (a join waiting for the API
//! server, the node becoming Ready, dpkg's lock, containerd's socket, a download). While a
//! wait lasts it says, at least every [`EVERY`], what is awaited, how long it has waited and
//! the deadline: a line on stderr for people (ANSI only on a terminal and without
//! `NO_COLOR`), and with `--output json` also a `progress` event on stdout.
//!
//! The clock is passed in, so tests run long waits on a fake one.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest time between two progress lines of one wait.
pub const EVERY: Duration = Duration::from_secs(10);

/// With a sandbox `--root` (never `/`), this environment variable shortens [`EVERY`] (a
/// humantime duration such as `200ms`), so tests see several lines in a short wait.
pub const EVERY_VAR: &str = "BOOTSTRAP_TEST_PROGRESS_EVERY";

/// Where and how progress is shown; `main` decides from the output mode and the terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Human lines on stderr: `None` for none (`--quiet`), `Some(true)` with ANSI colour.
    pub human: Option<bool>,
    /// JSON `progress` events on stdout (`--output json`).
    pub json: bool,
}

/// What bounds a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// It gives up after this long in all.
    Total(Duration),
    /// It gives up after this long without progress (a download stalling), however long
    /// it takes in all.
    Stall(Duration),
}

/// The time source of waits.
pub trait Clock: Send + Sync {
    /// Time since the clock was made (monotonic).
    fn now(&self) -> Duration;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration);
}

/// The machine's monotonic clock.
struct RealClock(Instant);

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

type Sink = Arc<Mutex<dyn Write + Send>>;

/// Reports waits; one per [`super::Host`].
pub struct Progress {
    style: Style,
    every: Duration,
    clock: Box<dyn Clock>,
    human_out: Sink,
    json_out: Sink,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("style", &self.style)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new(Style::default(), EVERY)
    }
}

impl Progress {
    /// Progress in `style`, a line at least every `every`, on stderr and stdout.
    pub fn new(style: Style, every: Duration) -> Self {
        Progress {
            style,
            every,
            clock: Box::new(RealClock(Instant::now())),
            human_out: Arc::new(Mutex::new(std::io::stderr())),
            json_out: Arc::new(Mutex::new(std::io::stdout())),
        }
    }

    /// The same, with another clock and sinks (tests).
    pub fn with_parts(mut self, clock: Box<dyn Clock>, human: Sink, json: Sink) -> Self {
        self.clock = clock;
        self.with_sinks(human, json)
    }

    /// The same, writing to these sinks instead of stderr and stdout (tests).
    pub fn with_sinks(mut self, human: Sink, json: Sink) -> Self {
        self.human_out = human;
        self.json_out = json;
        self
    }

    /// The clock waits use (also for pauses between retries).
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Starts a wait of up to `deadline`; `setting` names the profile key or flag that sets
    /// the deadline. Nothing is printed until the first [`Waiting::tick`].
    pub fn start(&self, setting: &str, deadline: Duration) -> Waiting<'_> {
        self.start_with(setting, Limit::Total(deadline))
    }

    /// Starts a wait bounded by `limit`.
    pub fn start_with(&self, setting: &str, limit: Limit) -> Waiting<'_> {
        Waiting {
            progress: self,
            setting: setting.to_string(),
            started: self.clock.now(),
            limit,
            next: None,
        }
    }

    fn emit(&self, subject: &str, elapsed: Duration, limit: Limit, setting: &str) {
        let whole = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
        let (deadline, kind) = match limit {
            Limit::Total(d) => (d, "total"),
            Limit::Stall(d) => (d, "stall"),
        };
        if let Some(colour) = self.style.human {
            let text = match limit {
                Limit::Total(_) => format!(
                    "waiting for {subject}: {} of up to {} waited ({setting})",
                    whole(elapsed),
                    whole(deadline)
                ),
                Limit::Stall(_) => format!(
                    "waiting for {subject}: {} so far; gives up after {} without progress ({setting})",
                    whole(elapsed),
                    whole(deadline)
                ),
            };
            let line = if colour {
                format!("\x1b[1mbootstrap:\x1b[0m {text}\n")
            } else {
                format!("bootstrap: {text}\n")
            };
            if let Ok(mut out) = self.human_out.lock() {
                let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
            }
        }
        if self.style.json {
            let event = serde_json::json!({
                "event": "progress",
                "waiting_for": subject,
                "elapsed_s": elapsed.as_secs(),
                "deadline_s": deadline.as_secs(),
                "deadline_kind": kind,
                "setting": setting,
            });
            if let Ok(mut out) = self.json_out.lock() {
                let _ = writeln!(out, "{event}").and_then(|()| out.flush());
            }
        }
    }
}

/// One wait in progress.
pub struct Waiting<'a> {
    progress: &'a Progress,
    setting: String,
    started: Duration,
    limit: Limit,
    next: Option<Duration>,
}

impl Waiting<'_> {
    /// Stays silent for the first 3/10 of the interval (3 s): a wait that ends quickly, as
    /// most do, prints nothing.
    pub fn after_grace(mut self) -> Self {
        self.next = Some(self.progress.every * 3 / 10);
        self
    }

    /// How long this wait has lasted.
    pub fn elapsed(&self) -> Duration {
        self.progress.clock.now().saturating_sub(self.started)
    }

    /// Says what is awaited now (`subject`, e.g. "node n1 to be Ready (last: Ready=False)")
    /// when a line is due: at the first tick, then at least every [`EVERY`].
    pub fn tick(&mut self, subject: &str) {
        let elapsed = self.elapsed();
        if self.next.is_some_and(|next| elapsed < next) {
            return;
        }
        self.progress
            .emit(subject, elapsed, self.limit, &self.setting);
        self.next = Some(elapsed + self.progress.every);
    }

    /// Sleeps `duration` in slices, saying `subject` whenever a line is due, so a long pause
    /// between retries is not silent.
    pub fn sleep(&mut self, duration: Duration, subject: &str) {
        let clock = self.progress.clock();
        let end = clock.now() + duration;
        loop {
            self.tick(subject);
            let now = clock.now();
            if now >= end {
                return;
            }
            let due = self.started + self.next.unwrap_or_default();
            let slice = end
                .saturating_sub(now)
                .min(due.saturating_sub(now).max(Duration::from_millis(1)));
            clock.sleep(slice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A clock that only moves when slept on.
    struct FakeClock(Mutex<Duration>);

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            *self.0.lock().unwrap()
        }
        fn sleep(&self, duration: Duration) {
            *self.0.lock().unwrap() += duration;
        }
    }

    type Buffer = Arc<Mutex<Vec<u8>>>;

    fn progress(style: Style) -> (Progress, Buffer, Buffer) {
        let human = Arc::new(Mutex::new(Vec::new()));
        let json = Arc::new(Mutex::new(Vec::new()));
        let p = Progress::new(style, EVERY).with_parts(
            Box::new(FakeClock(Mutex::new(Duration::from_secs(1000)))),
            human.clone(),
            json.clone(),
        );
        (p, human, json)
    }

    fn text(sink: &Buffer) -> String {
        String::from_utf8(sink.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_long_pause_between_retries_says_so_at_least_every_ten_seconds() {
        let style = Style {
            human: Some(false),
            json: true,
        };
        let (p, human, json) = progress(style);
        let mut wait = p.start("kubeadm.discovery", Duration::from_secs(300));
        wait.sleep(Duration::from_secs(30), "the API server to answer");
        wait.sleep(Duration::from_secs(30), "the API server to answer");
        let lines: Vec<String> = text(&human).lines().map(str::to_string).collect();
        assert_eq!(
            lines
                .iter()
                .map(|l| l.split(": ").nth(2).unwrap().split(' ').next().unwrap())
                .collect::<Vec<_>>(),
            ["0s", "10s", "20s", "30s", "40s", "50s", "1m"],
            "{lines:?}"
        );
        assert_eq!(
            lines[2],
            "bootstrap: waiting for the API server to answer: 20s of up to 5m waited (kubeadm.discovery)"
        );
        assert!(
            !text(&human).contains('\x1b'),
            "no ANSI when not a terminal"
        );
        let events: Vec<serde_json::Value> = text(&json)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 7);
        assert_eq!(events[1]["event"], "progress");
        assert_eq!(events[1]["elapsed_s"], 10);
        assert_eq!(events[1]["deadline_s"], 300);
        assert_eq!(events[1]["waiting_for"], "the API server to answer");
    }

    #[test]
    fn ticks_are_throttled_and_styles_respected() {
        let (p, human, json) = progress(Style {
            human: Some(true),
            json: false,
        });
        let mut wait = p.start("x", Duration::from_secs(60));
        for _ in 0..50 {
            wait.tick("a");
            p.clock().sleep(Duration::from_millis(500));
        }
        assert_eq!(
            text(&human).lines().count(),
            3,
            "25 s of ticks: at 0, 10 and 20 s"
        );
        assert!(text(&human).contains("\x1b[1m"), "colour on a terminal");
        assert!(text(&json).is_empty());
        let (p, human, _) = progress(Style {
            human: Some(false),
            json: false,
        });
        let mut quick = p.start("x", Duration::from_secs(60)).after_grace();
        quick.sleep(Duration::from_secs(2), "a quick wait");
        assert!(text(&human).is_empty(), "a 2 s wait is silent");
        quick.sleep(Duration::from_secs(2), "a longer wait");
        assert_eq!(text(&human).lines().count(), 1, "said once past 3 s");
        let (quiet, human, json) = progress(Style::default());
        quiet.start("x", Duration::from_secs(1)).tick("a");
        assert!(text(&human).is_empty() && text(&json).is_empty());
    }

    #[test]
    fn a_long_command_says_it_is_still_running_with_its_time_limit() {
        let human: Buffer = Arc::new(Mutex::new(Vec::new()));
        let json: Buffer = Arc::new(Mutex::new(Vec::new()));
        let style = Style {
            human: Some(false),
            json: false,
        };
        let progress =
            Progress::new(style, Duration::from_millis(200)).with_sinks(human.clone(), json);
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for name in ["sleep", "true"] {
            let script = format!("#!/bin/sh\nexec {name} \"$@\"\n");
            std::fs::write(bin.join(name), script).unwrap();
            std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let host = super::super::Host::new(dir.path().to_path_buf())
            .with_stand_ins(bin)
            .with_progress(progress);
        let sleep = super::super::Command::new("sleep")
            .arg("1")
            .timeout(Duration::from_secs(30));
        assert!(host.run(&sleep).unwrap().success());
        let said = text(&human);
        let lines: Vec<&str> = said.lines().collect();
        assert!(lines.len() >= 3, "about every 200 ms of a 1 s run: {said}");
        assert!(
            lines.iter().all(
                |l| l.starts_with("bootstrap: waiting for `sleep 1` to finish: ")
                    && l.ends_with(" of up to 30s waited (the command's time limit)")
            ),
            "{said}"
        );
        let quick = super::super::Command::new("true");
        human.lock().unwrap().clear();
        host.run(&quick).unwrap();
        assert!(text(&human).is_empty(), "a quick command says nothing");
    }
}
