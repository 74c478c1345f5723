//! What `main` read from the process environment for the steps. Nothing below `main` reads
//! the environment itself; it gets this value through the [`super::Context`].

/// Settings taken from the process environment and the terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// `HTTPS_PROXY` (or `https_proxy`, then `HTTP_PROXY`/`http_proxy`), when set.
    pub https_proxy: Option<String>,
    /// `NO_PROXY` (or `no_proxy`), when set.
    pub no_proxy: Option<String>,
    /// How long-running work (downloads) shows progress.
    pub progress: Progress,
}

/// How long-running work shows progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    /// Not at all (JSON output, `--quiet`).
    #[default]
    Quiet,
    /// A plain line on stderr when each piece finishes (logs, cloud-init).
    Lines,
    /// Live progress bars on a terminal (stderr).
    Bars,
}
