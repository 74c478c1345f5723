//! Command-line definitions (clap). No behaviour here.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// The default profile location on a node.
pub const DEFAULT_PROFILE: &str = "/etc/bootstrap/profile.toml";

/// Exit code of a usage error (unknown flag, missing argument): `EX_USAGE` from sysexits(3).
pub const EXIT_USAGE: i32 = 64;

/// The exit codes, shown at the end of every command's `--help` and in the man page.
pub const EXIT_CODES: &str = "Exit codes:
  0   done, or nothing to do
  1   error (invalid profile, a step failed, lock held, ...)
  2   changes pending (plan) or drift found (check)
  64  usage error (unknown flag or value, missing argument)";

/// The clap command with the exit codes appended to the help of every (sub)command.
pub fn command() -> clap::Command {
    fn with_exit_codes(cmd: clap::Command) -> clap::Command {
        cmd.after_help(EXIT_CODES).mut_subcommands(with_exit_codes)
    }
    with_exit_codes(Cli::command())
}

/// Parses `std::env::args`; the error carries its exit code (see [`usage_exit_code`]).
pub fn parse() -> Result<Cli, clap::Error> {
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// The exit code for a parse error: 0 for `--help`/`--version`, [`EXIT_USAGE`] otherwise.
pub fn usage_exit_code(err: &clap::Error) -> i32 {
    if err.use_stderr() { EXIT_USAGE } else { 0 }
}

/// Turn a fresh Linux machine into a Kubernetes node from one declarative profile.
#[derive(Debug, Parser)]
#[command(name = "bootstrap", version, about, long_about = None)]
pub struct Cli {
    /// Root directory every node path resolves under, /proc and /sys included. A root other
    /// than / is an offline root (an image tree): no program of this machine is run, and
    /// live changes are left to its first boot.
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
    /// Prepare an image tree or a mounted disk image (--root DIR, not /) so that at its
    /// first boot only the cluster step remains: apply without running any program of
    /// this machine, then record what was baked in /var/lib/bootstrap/baked.json.
    Bake(ApplyArgs),
    /// Validate or show a profile.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Print configuration rendered from a profile.
    #[command(subcommand)]
    Render(RenderCmd),
    /// Create cluster join secrets ahead of time.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Credentials for people: a kubeconfig for a user, signed by the cluster CA.
    #[command(subcommand)]
    Kubeconfig(KubeconfigCmd),
    /// Print the agent's version and commit, and the versions of the installed kubeadm,
    /// kubelet, kubectl, containerd, runc and crictl.
    Version,
    /// Print a fresh `kubeadm join` command (run on a control plane; creates a new token).
    JoinCommand(JoinCommandArgs),
    /// Create or list bootstrap tokens (run on a control plane; wraps `kubeadm token`).
    #[command(subcommand)]
    Token(TokenCmd),
    /// etcd snapshots on a control plane: save, status, restore.
    #[command(subcommand)]
    Etcd(crate::etcd::args::EtcdCmd),
    /// Upgrade this node to the profile's kubernetes.version with kubeadm (one minor at a
    /// time; first control plane, then the others, then workers).
    #[command(subcommand)]
    Upgrade(UpgradeCmd),
    /// Drain this node (cordon, evict respecting PodDisruptionBudgets; see [upgrade.drain]).
    Drain(NodeArgs),
    /// Make this node schedulable again (waiting for Ready first).
    Uncordon(NodeArgs),
    /// Undo what bootstrap changed on this node, from its journal and backups (`kubeadm
    /// reset -f` first when the node joined a cluster). Without --yes, print the plan.
    /// Exit 0: nothing to undo, 2: something to undo (plan), 1: error or refused.
    Reset(ResetArgs),
    /// OS maintenance: `--reboot` drains, enables a one-shot unit that uncordons once the
    /// node is Ready after boot, and reboots.
    Maintain(MaintainArgs),
    /// kubeadm's certificates: renew them and restart the control plane.
    #[command(subcommand)]
    Certs(crate::certs::args::CertsCmd),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write bootstrap.1, bootstrap-plan.1, ... into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Arguments of reset.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Carry the plan out (without it, reset only prints what it would do).
    #[arg(long)]
    pub yes: bool,
    /// Leave files changed since bootstrap wrote them (or whose backup is missing) as they
    /// are, and undo the rest; without it such a file refuses the whole reset.
    #[arg(long)]
    pub keep_edited: bool,
}

/// Arguments of join-command.
#[derive(Debug, Args)]
pub struct JoinCommandArgs {
    /// Print the command for another control plane (uploads the control-plane certificates
    /// with a fresh certificate key, valid two hours) instead of a worker.
    #[arg(long)]
    pub control_plane: bool,
    /// How long the new token stays valid (kubeadm duration syntax, e.g. 1h, 30m).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub ttl: String,
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a bootstrap token and print it (the only place it is shown).
    Create {
        /// How long the token stays valid (kubeadm duration syntax, e.g. 1h, 24h).
        #[arg(long, default_value = "1h", value_name = "DURATION")]
        ttl: String,
    },
    /// List bootstrap tokens (ids, expiry and usages; secrets are not shown).
    List,
}

/// A profile given as `--profile FILE` or, for compatibility, as a positional `FILE`.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// The profile (TOML) [default: /etc/bootstrap/profile.toml].
    #[arg(long, short = 'p', value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The profile, as a positional argument (same as --profile).
    #[arg(value_name = "FILE", conflicts_with = "profile")]
    file: Option<PathBuf>,
}

impl ProfileArg {
    /// The profile path given, or the default.
    pub fn path(&self) -> PathBuf {
        self.profile
            .clone()
            .or_else(|| self.file.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PROFILE))
    }
}

/// Arguments shared by plan, apply and check.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The profile (TOML).
    #[arg(long, short = 'p', default_value = DEFAULT_PROFILE, value_name = "FILE")]
    pub profile: PathBuf,
    /// Run only this step (repeatable).
    #[arg(long, value_name = "STEP", value_parser = PossibleValuesParser::new(crate::steps::names()))]
    pub only: Vec<String>,
    /// Do not run this step (repeatable).
    #[arg(long, value_name = "STEP", value_parser = PossibleValuesParser::new(crate::steps::names()))]
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

/// Upgrade subcommands.
#[derive(Debug, Subcommand)]
pub enum UpgradeCmd {
    /// Show this node's kind, versions and each upgrade phase; change nothing.
    /// Exit 0: nothing to do, 2: phases pending, 1: error or refused.
    Plan(NodeArgs),
    /// Carry out the upgrade's phases; a re-run continues where a killed run stopped.
    Apply(NodeArgs),
}

/// Arguments of maintain.
#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// Profile and lock.
    #[command(flatten)]
    pub node: NodeArgs,
    /// Drain, reboot, and uncordon after boot (the only maintenance so far; required).
    #[arg(long, required = true)]
    pub reboot: bool,
}

/// Arguments of upgrade, drain and uncordon.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The profile (TOML).
    #[arg(long, short = 'p', default_value = DEFAULT_PROFILE, value_name = "FILE")]
    pub profile: PathBuf,
    /// Wait this many seconds for another run holding the node lock.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub lock_wait: u64,
}

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Check a profile; exit 0 when valid, 1 with located errors when not.
    Validate(ProfileArg),
    /// Print the effective profile with every default filled in.
    Show(ProfileArg),
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
    /// The RBAC objects of the profile's [access] section as Kubernetes manifests (YAML),
    /// for applying elsewhere (GitOps); the first control plane applies them itself.
    Access {
        /// The profile (TOML).
        #[arg(long, short = 'p', default_value = DEFAULT_PROFILE, value_name = "FILE")]
        profile: PathBuf,
    },
}

/// Kubeconfig subcommands.
#[derive(Debug, Subcommand)]
pub enum KubeconfigCmd {
    /// A kubeconfig for user NAME: a client certificate (CN = NAME, O = each --group,
    /// client auth) signed by the cluster CA of the profile's secrets bundle, for the
    /// profile's control-plane endpoint, like `kubeadm kubeconfig user` but without the
    /// cluster up. Written 0600 (never over an existing file); the key is never printed.
    User(KubeconfigUserArgs),
}

/// `kubeconfig user` arguments.
#[derive(Debug, Args)]
pub struct KubeconfigUserArgs {
    /// The user name (the certificate's common name).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// A group the user is in (the certificate's organization); repeatable.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// How many days the certificate is valid (kubeadm's default: 365).
    #[arg(long, default_value_t = 365, value_name = "DAYS")]
    pub days: u32,
    /// The profile of the first control plane (its bundle holds the CA key).
    #[arg(long, short = 'p', default_value = DEFAULT_PROFILE, value_name = "FILE")]
    pub profile: PathBuf,
    /// Where to write the kubeconfig (a local path, not under --root); default NAME.kubeconfig.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
