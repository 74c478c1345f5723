//! External programs: found where the host's [`Programs`] says (on `PATH` for the real
//! root, only in a declared stand-in directory for a sandbox root, nowhere for an offline
//! root), run with a timeout, output captured, secrets marked.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};

use super::redact::REDACTED;

/// Default time a program may run before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long output is still collected after a program exited, for pipes a process it
/// started keeps open.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// How long an interrupted program gets to exit after the forwarded signal, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The variable a test sets, with a non-`/` root only, to a directory of stand-in
/// programs: the agent then runs programs from that directory and nowhere else.
pub const TEST_PROGRAMS_VAR: &str = "BOOTSTRAP_TEST_PROGRAMS";

/// Where the agent finds the programs it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Programs {
    /// On `PATH`: the real root `/`, a live node.
    Path,
    /// Only in this directory of stand-ins declared by a test (`BOOTSTRAP_TEST_PROGRAMS`),
    /// never on `PATH`; a program named by path must lie under `root` or this directory.
    /// The sandbox root then behaves as a simulated live node.
    StandIns {
        /// The stand-in directory.
        dir: PathBuf,
        /// The sandbox root (programs the agent installed there may be run by path).
        root: PathBuf,
    },
    /// Nowhere: an offline root (an image tree). No program of this machine is run.
    Offline,
}

impl Programs {
    /// The policy for `root`: `PATH` for `/`; for any other root, the stand-in directory
    /// `stand_ins` when a test declared one, else offline.
    pub fn for_root(root: &Path, stand_ins: Option<PathBuf>) -> Self {
        match stand_ins {
            _ if root == Path::new("/") => Programs::Path,
            Some(dir) => Programs::StandIns {
                dir,
                root: root.to_path_buf(),
            },
            None => Programs::Offline,
        }
    }

    /// What to execute for `program`: the name itself (looked up on `PATH` by the OS) on
    /// the real root, the stand-in's path in a stand-in directory; refused offline.
    pub fn resolve(&self, program: &str) -> Result<OsString, RunError> {
        match self {
            Programs::Path => Ok(program.into()),
            Programs::Offline => Err(RunError::Offline {
                program: program.to_string(),
            }),
            Programs::StandIns { dir, root } => {
                let by_path = Path::new(program);
                let found = if program.contains('/') {
                    let inside = by_path.is_absolute()
                        && !program.split('/').any(|c| c == "..")
                        && (by_path.starts_with(root) || by_path.starts_with(dir));
                    inside.then(|| by_path.to_path_buf())
                } else {
                    Some(dir.join(program))
                };
                match found {
                    Some(path) if path.exists() => Ok(path.into_os_string()),
                    _ => Err(RunError::NotFound {
                        program: program.to_string(),
                    }),
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Arg {
    Plain(String),
    Secret(String),
}

/// A program invocation. Build with [`Command::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct Command {
    program: String,
    args: Vec<Arg>,
    envs: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    dpkg_lock_wait: Option<Duration>,
}

/// What a finished program returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// Whether the program exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last `n` non-empty lines of stderr (or stdout when stderr is empty), for messages.
    pub fn tail(&self, n: usize) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// How running a program failed before it could report an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not on `PATH`.
    #[error("`{program}` was not found on PATH; install it or fix PATH")]
    NotFound {
        /// Program name.
        program: String,
    },
    /// Not run: the root is an offline root, where no program of this machine runs.
    #[error(
        "`{program}` was not run: a --root other than / is an offline root, where bootstrap runs no program of this machine"
    )]
    Offline {
        /// Program name.
        program: String,
    },
    /// Killed after its timeout.
    #[error("`{command}` did not finish within {seconds} s and was stopped")]
    Timeout {
        /// Command line, secrets redacted.
        command: String,
        /// The timeout.
        seconds: u64,
    },
    /// Stopped because the agent was interrupted (Ctrl-C, SIGTERM, SIGHUP).
    #[error("`{command}` was interrupted: signal {signal} forwarded to it, it ended with {status}")]
    Interrupted {
        /// Command line, secrets redacted.
        command: String,
        /// The signal received and forwarded.
        signal: i32,
        /// How it ended.
        status: String,
    },
    /// Could not be started or waited for.
    #[error("`{command}` could not be run: {source}")]
    Io {
        /// Command line, secrets redacted.
        command: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Command {
    /// A command running `program` (looked up on `PATH`).
    pub fn new(program: impl Into<String>) -> Self {
        Command {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            dpkg_lock_wait: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(Arg::Plain(arg.into()));
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args
            .extend(args.into_iter().map(|a| Arg::Plain(a.into())));
        self
    }

    /// Adds an argument that is never shown: logs, journal and errors print `<redacted>`.
    pub fn secret_arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(Arg::Secret(arg.into()));
        self
    }

    /// Sets an environment variable for the program.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Feeds `input` to the program's standard input.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Sets how long the program may run.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Marks a program that takes dpkg's lock (apt-get, apt-mark, dpkg): before it runs as a
    /// change, the lock is waited for, up to `wait` (see [`super::dpkg_lock`]).
    pub fn waits_for_dpkg_lock(mut self, wait: Duration) -> Self {
        self.dpkg_lock_wait = Some(wait);
        self
    }

    /// How long to wait for dpkg's lock before running, when the program takes it.
    pub fn dpkg_lock_wait(&self) -> Option<Duration> {
        self.dpkg_lock_wait
    }

    /// The program name.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The command line as it may be shown: secret arguments replaced by `<redacted>`.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(|a| match a {
                Arg::Plain(s) => s.as_str(),
                Arg::Secret(_) => REDACTED,
            }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How long the program may run before it is killed.
    pub fn time_limit(&self) -> Duration {
        self.timeout
    }

    /// Runs the program (found on `PATH`) to completion or its timeout; for this module's
    /// tests.
    #[cfg(test)]
    fn run(&self) -> Result<Output, RunError> {
        self.run_reporting(&Programs::Path, &mut || {})
    }

    /// Runs the program, found where `programs` says, to completion (or its timeout) and
    /// captures its output, calling `report` every few milliseconds while it runs (the
    /// caller's progress reporter decides when to say so). Only the host calls this.
    pub(super) fn run_reporting(
        &self,
        programs: &Programs,
        report: &mut dyn FnMut(),
    ) -> Result<Output, RunError> {
        let mut command = std::process::Command::new(programs.resolve(&self.program)?);
        command
            .args(self.args.iter().map(|a| match a {
                Arg::Plain(s) | Arg::Secret(s) => s,
            }))
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let io = |source| RunError::Io {
            command: self.display(),
            source,
        };
        let running = super::signals::Running::start();
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RunError::NotFound {
                program: self.program.clone(),
            },
            _ => io(e),
        })?;
        if let (Some(input), Some(mut pipe)) = (self.stdin.clone(), child.stdin.take()) {
            std::thread::spawn(move || pipe.write_all(&input));
        }
        let stdout = Capture::start(child.stdout.take());
        let stderr = Capture::start(child.stderr.take());
        let deadline = Instant::now() + self.timeout;
        let status = self.wait(&mut child, deadline, report)?;
        drop(running);
        // The deadline holds for the process, not for its pipes: a daemon the program
        // started may keep them open long after it exited.
        let pipes = deadline.min(Instant::now() + PIPE_GRACE);
        Ok(Output {
            code: status.code(),
            stdout: stdout.finish(pipes),
            stderr: stderr.finish(pipes),
        })
    }

    /// Waits for `child` until `deadline`; forwards Ctrl-C, SIGTERM or SIGHUP to its
    /// process group and waits for it to exit.
    fn wait(
        &self,
        child: &mut std::process::Child,
        deadline: Instant,
        report: &mut dyn FnMut(),
    ) -> Result<std::process::ExitStatus, RunError> {
        let io = |source| RunError::Io {
            command: self.display(),
            source,
        };
        let group = nix::unistd::Pid::from_raw(child.id() as i32);
        loop {
            if let Some(status) = child.try_wait().map_err(io)? {
                return Ok(status);
            }
            if let Some(signal) = super::signals::received() {
                let _ = killpg(group, signal);
                let grace = Instant::now() + STOP_GRACE;
                while child.try_wait().map_err(io)?.is_none() && Instant::now() < grace {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = killpg(group, Signal::SIGKILL);
                let status = child.wait().map_err(io)?;
                return Err(RunError::Interrupted {
                    command: self.display(),
                    signal: signal as i32,
                    status: status.to_string(),
                });
            }
            if Instant::now() >= deadline {
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait();
                return Err(RunError::Timeout {
                    command: self.display(),
                    seconds: self.timeout.as_secs(),
                });
            }
            report();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The program and its arguments when none is secret and nothing is fed on stdin: a
    /// command that may be stored (a pending restart).
    pub fn plain_argv(&self) -> Option<Vec<String>> {
        if self.stdin.is_some() || !self.envs.is_empty() {
            return None;
        }
        let mut argv = vec![self.program.clone()];
        for arg in &self.args {
            match arg {
                Arg::Plain(s) => argv.push(s.clone()),
                Arg::Secret(_) => return None,
            }
        }
        Some(argv)
    }
}

/// Output of one pipe, read by a thread into a buffer that can be taken at any time.
struct Capture {
    done: std::thread::JoinHandle<()>,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    fn start<R: Read + Send + 'static>(pipe: Option<R>) -> Capture {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        let done = std::thread::spawn(move || {
            let Some(mut pipe) = pipe else { return };
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
        });
        Capture { done, buffer }
    }

    /// What was read once the pipe closed, or by `until` (the reader is then left behind).
    fn finish(self, until: Instant) -> String {
        while !self.done.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        let bytes = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_code() {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .run()
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.tail(1), "err");
    }

    #[test]
    fn secrets_are_not_displayed() {
        let c = Command::new("kubeadm").arg("--token").secret_arg("abc.def");
        assert_eq!(c.display(), "kubeadm --token <redacted>");
    }

    #[test]
    fn missing_program_and_timeout() {
        let err = Command::new("no-such-program-xyz").run().unwrap_err();
        assert!(matches!(err, RunError::NotFound { .. }));
        let err = Command::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(100))
            .run()
            .unwrap_err();
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
    }

    #[test]
    fn a_daemon_keeping_the_pipes_open_does_not_hold_the_caller() {
        // The program exits at once; the daemon it started keeps stdout and stderr open.
        let started = Instant::now();
        let out = Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; echo started >&2"])
            .timeout(Duration::from_secs(60))
            .run()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(out.success() && out.stderr == "started\n", "{out:?}");
        let daemon: i32 = out.stdout.trim().parse().unwrap();
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon), Signal::SIGKILL);
        // Past its deadline, with a daemon in a session of its own holding the pipes.
        let started = Instant::now();
        let err = Command::new("sh")
            .args(["-c", "setsid sleep 30 & echo $!; sleep 30"])
            .timeout(Duration::from_millis(300))
            .run()
            .unwrap_err();
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn stand_ins_are_found_only_in_their_directory_and_offline_nothing_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, root) = (dir.path().join("bin"), dir.path().join("root"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(bin.join("modprobe"), "").unwrap();
        std::fs::write(root.join("usr/bin/kubectl"), "").unwrap();
        let programs = Programs::for_root(&root, Some(bin.clone()));
        assert_eq!(
            programs.resolve("modprobe").unwrap(),
            bin.join("modprobe").into_os_string()
        );
        // On PATH but not declared: not found, never taken from PATH.
        for absent in ["sh", "cat", "../bin/modprobe", "/usr/bin/env", "/bin/sh"] {
            let err = programs.resolve(absent).unwrap_err();
            assert!(matches!(err, RunError::NotFound { .. }), "{absent}: {err}");
        }
        let inside = root.join("usr/bin/kubectl");
        assert!(programs.resolve(inside.to_str().unwrap()).is_ok());
        let escape = format!("{}/../bin/modprobe", root.display());
        assert!(
            programs.resolve(&escape).is_err(),
            "no `..` out of the root"
        );
        let offline = Programs::for_root(&root, None);
        for any in ["modprobe", "sh", inside.to_str().unwrap()] {
            let err = offline.resolve(any).unwrap_err();
            assert!(matches!(err, RunError::Offline { .. }), "{any}: {err}");
        }
        let real = Programs::for_root(Path::new("/"), Some(bin));
        assert_eq!(
            real,
            Programs::Path,
            "the variable is ignored on the real root"
        );
        assert_eq!(real.resolve("sh").unwrap(), OsString::from("sh"));
    }

    #[test]
    fn feeds_stdin() {
        let out = Command::new("cat").stdin("hello").run().unwrap();
        assert_eq!(out.stdout, "hello");
    }
}
