//! The host seam: every effect on the node goes through one [`Host`] value, built once in
//! `main`. Files resolve under `--root`; programs are found on `PATH` for the real root,
//! only in a test's declared stand-in directory for a sandbox root, and nowhere for an
//! offline root (see [`Programs`]); secrets are redacted here and nowhere else.

mod artifacts;
mod atomic;
mod backup;
pub mod dpkg_lock;
mod faults;
mod files;
mod journal;
mod lock;
mod owned;
mod paths;
mod pending;
mod programs;
pub mod progress;
mod redact;
mod resolve;
mod signals;
mod undo;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use atomic::{NewFilesError, create_new_files};
pub use faults::{Disk, ENOSPC_VAR};
pub use files::Mode;
pub use journal::{Entry, digest};
pub use lock::{LockError, NodeLock};
pub use owned::Owner;
pub use paths::STATE_DIR;
pub use pending::daemon_reload;
pub use programs::{Command, Output, Programs, RunError, TEST_PROGRAMS_VAR};
pub use redact::REDACTED;
pub use undo::{Found, Saved};

/// The node lock file.
pub const LOCK_FILE: &str = "/run/bootstrap.lock";

/// The node as the agent sees it: a root directory and the programs on `PATH`.
#[derive(Debug)]
pub struct Host {
    root: PathBuf,
    redactor: redact::Redactor,
    disk: Disk,
    /// Journal lines of changes already made that could not be appended yet.
    unjournaled: Mutex<Vec<String>>,
    /// Node paths whose change takes effect only after a command (see `pending`).
    triggers: Mutex<Vec<(String, Vec<String>)>>,
    /// Reports waits (and holds the clock they sleep on).
    progress: std::sync::Arc<progress::Progress>,
    /// Where programs are found (nowhere for an offline root).
    programs: Programs,
}

/// What can go wrong touching the node.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The real path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file the agent must edit is not UTF-8 text.
    #[error("{path} is not UTF-8 text; bootstrap will not edit it (fix its encoding first)")]
    NotText {
        /// The real path.
        path: String,
    },
    /// A program could not be run.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A program that changes the node exited with an error.
    #[error("`{command}` failed with exit code {code}: {tail}")]
    Failed {
        /// The command line, secrets redacted.
        command: String,
        /// The exit code, or `signal`.
        code: String,
        /// The last lines it printed, secrets redacted.
        tail: String,
    },
    /// A path under a directory someone else controls is not what bootstrap may write
    /// through (a symlink, a hard link, not a regular file or directory).
    #[error(
        "{path} {found}; bootstrap does not follow links or write through them where a user controls the directory: remove it (or fix it by hand) and run again"
    )]
    Unsafe {
        /// The real path.
        path: String,
        /// What was found there.
        found: String,
    },
    /// The node lock is held or unusable.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// dpkg's lock stayed held (another package manager is running).
    #[error(transparent)]
    DpkgLock(#[from] dpkg_lock::WaitError),
    /// A change to the real root was asked for without root privileges.
    #[error(
        "this command changes the system and must run as root (running as uid {uid}); use sudo, or pass --root DIR to work on a sandbox copy"
    )]
    NotRoot {
        /// The effective uid.
        uid: u32,
    },
}

impl Host {
    /// A host whose files live under `root` (`/` for the real node).
    pub fn new(root: PathBuf) -> Self {
        Host::with_disk(root, Disk::default())
    }

    /// A host whose writes go through `disk` (a simulated full disk in sandbox tests).
    pub fn with_disk(root: PathBuf, disk: Disk) -> Self {
        let root_for_programs = root.clone();
        Host {
            root,
            redactor: redact::Redactor::default(),
            disk,
            unjournaled: Mutex::new(Vec::new()),
            triggers: Mutex::new(Vec::new()),
            progress: std::sync::Arc::default(),
            programs: Programs::for_root(&root_for_programs, None),
        }
    }

    /// This host, running programs only from the stand-in directory `dir` (a test's
    /// `BOOTSTRAP_TEST_PROGRAMS`); ignored on the real root `/`.
    pub fn with_stand_ins(mut self, dir: PathBuf) -> Self {
        self.programs = Programs::for_root(&self.root, Some(dir));
        self
    }

    /// Whether this is an offline root: a `--root` other than `/` without declared
    /// stand-ins (an image tree). No program runs there, and live changes (loading
    /// modules, live sysctls, swapoff, restarts) are left to its first boot, where the
    /// persisted configuration makes them happen.
    pub fn is_offline(&self) -> bool {
        self.programs == Programs::Offline
    }

    /// This host, reporting its waits through `progress`.
    pub fn with_progress(mut self, progress: progress::Progress) -> Self {
        self.progress = std::sync::Arc::new(progress);
        self
    }

    /// Reports waits: every wait that can last goes through it (see [`progress`]).
    pub fn progress(&self) -> &progress::Progress {
        &self.progress
    }

    /// The same reporter, for work that runs on other threads (downloads).
    pub fn progress_handle(&self) -> std::sync::Arc<progress::Progress> {
        self.progress.clone()
    }

    /// The root directory every node path resolves under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this host is the real machine (`--root /`).
    pub fn is_real_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Refuses to go on when changes to the real root are asked for without root privileges.
    pub fn require_privileges(&self) -> Result<(), HostError> {
        let uid = nix::unistd::geteuid();
        if self.is_real_root() && !uid.is_root() {
            return Err(HostError::NotRoot { uid: uid.as_raw() });
        }
        Ok(())
    }

    /// Takes the node lock, waiting up to `wait` for another run to finish.
    pub fn lock(&self, wait: Duration) -> Result<NodeLock, HostError> {
        let path = self.path_nofollow(LOCK_FILE);
        if let Some(dir) = path.parent() {
            self.make_dirs(dir, files::DIR_MODE)?;
        }
        let mut waiting = self.progress.start("--lock-wait", wait).after_grace();
        let report = |holder: &str| {
            waiting.tick(&format!(
                "the node lock {LOCK_FILE}, held by process {holder} (another bootstrap run)"
            ));
        };
        Ok(lock::acquire(&path, wait, std::process::id(), report)?)
    }

    /// Registers a secret: from now on it is redacted from every command line, output,
    /// journal line and error this host produces.
    pub fn add_secret(&self, secret: &str) {
        self.redactor.add(secret);
    }

    /// `text` with every registered secret replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// Waits `duration`: the pause between retries of an operation that waits for another
    /// node (a join waiting for the API server, a wait for the node to be Ready).
    pub fn sleep(&self, duration: Duration) {
        self.progress.clock().sleep(duration);
    }

    /// The node's clock: seconds since the Unix epoch (negative before it).
    pub fn unix_time(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Runs a program that only reads the node. Any exit code is returned as is.
    pub fn run(&self, command: &Command) -> Result<Output, HostError> {
        self.run_for("-", command)
    }

    /// Runs a program for `step`. When the agent is interrupted while it runs, the signal
    /// was forwarded to it and it has exited: the interruption is journaled and the agent
    /// dies of the same signal.
    fn run_for(&self, step: &str, command: &Command) -> Result<Output, HostError> {
        let shown = self.redact(&command.display());
        tracing::debug!(command = %shown, "run");
        let limit = command.time_limit();
        let mut waiting = self
            .progress
            .start("the command's time limit", limit)
            .after_grace();
        let subject = format!("`{shown}` to finish");
        let mut output = match command.run_reporting(&self.programs, &mut || waiting.tick(&subject))
        {
            Err(RunError::Interrupted { signal, status, .. }) => {
                let line = self.redact(&command.display());
                eprintln!(
                    "bootstrap: interrupted by signal {signal} while `{line}` ran; the signal was forwarded to it and it ended with {status}"
                );
                self.journal_after(journal::Record {
                    time: self.now(),
                    step,
                    action: "interrupted",
                    target: &line,
                    detail: Some(&format!("signal {signal}; {status}")),
                    ..journal::Record::default()
                });
                signals::die_of(signal)
            }
            other => other?,
        };
        output.stdout = self.redact(&output.stdout);
        output.stderr = self.redact(&output.stderr);
        tracing::debug!(code = ?output.code, "finished");
        Ok(output)
    }

    /// Polls `ready` every `interval` until it returns true or `timeout` has passed; returns
    /// whether it became ready. For waits on services the agent just (re)started; a wait
    /// past a few seconds says `subject` and `setting` (what bounds it) with its progress.
    pub fn wait_until(
        &self,
        subject: &str,
        setting: &str,
        timeout: Duration,
        interval: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> bool {
        let mut waiting = self.progress.start(setting, timeout).after_grace();
        loop {
            if ready() {
                return true;
            }
            let elapsed = waiting.elapsed();
            if elapsed >= timeout {
                return false;
            }
            waiting.sleep(interval.min(timeout - elapsed), subject);
        }
    }

    /// Waits until no other process holds dpkg's locks, up to `wait`, saying so on stderr
    /// while it waits; `line` is the command that needs them.
    fn wait_for_dpkg_lock(&self, line: &str, wait: Duration) -> Result<(), HostError> {
        let locks: Vec<(&str, PathBuf)> = dpkg_lock::LOCK_FILES
            .iter()
            .map(|p| (*p, self.path(p)))
            .collect();
        let mut waiting = self.progress.start("packages.dpkg_lock_timeout", wait);
        dpkg_lock::wait(&locks, wait, |path, holder, _waited| {
            waiting.tick(&format!(
                "{path}, held by {holder} (another package manager), before `{line}`"
            ));
        })?;
        Ok(())
    }

    /// Runs a program that changes the node: journaled, and a non-zero exit is an error.
    pub fn run_change(&self, step: &str, command: &Command) -> Result<Output, HostError> {
        let line = self.redact(&command.display());
        if let Some(wait) = command.dpkg_lock_wait() {
            self.wait_for_dpkg_lock(&line, wait)?;
        }
        tracing::info!(step, command = %line, "run");
        let output = self.run_for(step, command)?;
        self.journal_run(step, &line, output.code);
        if !output.success() {
            return Err(HostError::Failed {
                command: line,
                code: output.code.map_or("signal".into(), |c| c.to_string()),
                tail: output.tail(5),
            });
        }
        self.clear_pending(command);
        Ok(output)
    }
}
