//! Command-line definitions (clap). No behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The default profile location on a node.
pub const DEFAULT_PROFILE: &str = "/etc/bootstrap/profile.toml";

/// Turn a fresh Linux machine into a Kubernetes node from one declarative profile.
#[derive(Debug, Parser)]
#[command(name = "bootstrap", version, about, long_about = None)]
pub struct Cli {
    /// Root directory every node path resolves under, /proc and /sys included.
    #[arg(long, global = true, default_value = "/", value_name = "DIR")]
    pub root: PathBuf,
    /// Output format: lines for people, or one JSON event per line.
    #[arg(long, global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// More log detail on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only failures, warnings and the recap.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A line per step and a recap.
    Human,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show what apply would change (diffs and actions); change nothing.
    /// Exit 0: nothing to do, 2: changes pending, 1: error.
    Plan(RunArgs),
    /// Make the node match the profile; a second run changes nothing.
    Apply(ApplyArgs),
    /// Report drift from the profile as findings; change nothing. Exit 0/2/1 like plan.
    Check(RunArgs),
    /// Validate or show a profile.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Print configuration rendered from a profile.
    #[command(subcommand)]
    Render(RenderCmd),
    /// Create cluster join secrets ahead of time.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Arguments shared by plan, apply and check.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The profile (TOML).
    #[arg(long, short = 'p', default_value = DEFAULT_PROFILE, value_name = "FILE")]
    pub profile: PathBuf,
    /// Run only this step (repeatable).
    #[arg(long, value_name = "STEP")]
    pub only: Vec<String>,
    /// Do not run this step (repeatable).
    #[arg(long, value_name = "STEP")]
    pub skip: Vec<String>,
}

/// Arguments of apply.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Profile and step selection.
    #[command(flatten)]
    pub run: RunArgs,
    /// Wait this many seconds for another run holding the node lock.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub lock_wait: u64,
}

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Check a profile; exit 0 when valid, 1 with located errors when not.
    Validate {
        /// The profile (TOML).
        file: PathBuf,
    },
    /// Print the effective profile with every default filled in.
    Show {
        /// The profile (TOML).
        file: PathBuf,
    },
}

/// Render subcommands.
#[derive(Debug, Subcommand)]
pub enum RenderCmd {
    /// The kubeadm --config YAML this node would use (secrets shown as <redacted>).
    Kubeadm {
        /// The profile (TOML).
        #[arg(long, short = 'p', default_value = DEFAULT_PROFILE, value_name = "FILE")]
        profile: PathBuf,
        /// Print the token and certificate key instead of <redacted>.
        #[arg(long)]
        show_secrets: bool,
    },
}

/// Secrets subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Create a bundle: CA certificate and key, bootstrap token, certificate key, CA hash.
    /// Every node's profile then references it (kubeadm.secrets.bundle), so all nodes can
    /// boot at once. Secret files are 0600; secret values are never printed.
    Generate {
        /// A new or empty directory for the bundle (a local path, not under --root).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}
