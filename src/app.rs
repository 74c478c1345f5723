//! The commands: load the profile, build the host, run the engine, map the outcome to an
//! exit code (0 done or nothing to do, 2 changes pending, 1 error).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use crate::cli::{
    Cli, Cmd, EXIT_USAGE, NodeArgs, Output, ProfileCmd, RenderCmd, RunArgs, SecretsCmd, UpgradeCmd,
};
use crate::commands;
use crate::engine::report::{HumanReporter, JsonReporter, Reporter};
use crate::engine::run::Selection;
use crate::engine::{Context, Environment, Event, Mode, Progress};
use crate::host::Host;
use crate::profile::Profile;
use crate::{node, steps};

/// Exit code: an error.
pub const EXIT_ERROR: i32 = 1;

fn reporter(cli: &Cli) -> Box<dyn Reporter> {
    match cli.output {
        Output::Json => Box::new(JsonReporter::new(std::io::stdout())),
        Output::Human => Box::new(HumanReporter::new(std::io::stdout(), cli.quiet)),
    }
}

/// The reporter of a plan/apply/check run, whose recap advice repeats the run's options.
fn run_reporter(cli: &Cli, args: &RunArgs) -> Box<dyn Reporter> {
    match cli.output {
        Output::Json => reporter(cli),
        Output::Human => Box::new(
            HumanReporter::new(std::io::stdout(), cli.quiet)
                .with_apply_command(commands::hint::apply_command(&cli.root, args)),
        ),
    }
}

/// Reports an error that stops the command before or outside the engine; returns exit 1.
fn fail(cli: &Cli, message: &str) -> i32 {
    match cli.output {
        Output::Json => reporter(cli).event(&Event::Error {
            message,
            diagnostics: &[],
        }),
        Output::Human => eprintln!(
            "error: {}",
            crate::values::redact_userinfo(message.trim_end())
        ),
    }
    EXIT_ERROR
}

/// The first of `names` set to a non-empty value in the process environment.
fn env_var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}

/// Everything the steps need from the process environment, read here and only here.
fn environment(cli: &Cli) -> Environment {
    let progress = match cli.output {
        Output::Json => Progress::Quiet,
        Output::Human if cli.quiet => Progress::Quiet,
        Output::Human if std::io::stderr().is_terminal() => Progress::Bars,
        Output::Human => Progress::Lines,
    };
    Environment {
        https_proxy: env_var(&["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]),
        no_proxy: env_var(&["NO_PROXY", "no_proxy"]),
        progress,
    }
}

/// The host for `--root`. A root other than `/` is an offline root: no program of this
/// machine runs, unless a test declares its stand-ins with `BOOTSTRAP_TEST_PROGRAMS=DIR`
/// (then programs are found only in DIR). With a sandbox root, `BOOTSTRAP_TEST_ENOSPC`
/// makes it simulate a full disk, for the tests of what a failed write leaves behind.
fn host(cli: &Cli) -> Host {
    let sandbox = |var: &str| std::env::var_os(var).filter(|_| cli.root != Path::new("/"));
    let disk = sandbox(crate::host::ENOSPC_VAR)
        .and_then(|spec| crate::host::Disk::parse(&spec.to_string_lossy()))
        .unwrap_or_default();
    let host = Host::with_disk(cli.root.clone(), disk).with_progress(progress(cli));
    match sandbox(crate::host::TEST_PROGRAMS_VAR).filter(|dir| !dir.is_empty()) {
        Some(dir) => host.with_stand_ins(dir.into()),
        None => host,
    }
}

/// How waits report progress: a line on stderr unless `--quiet` (ANSI only on a terminal
/// and without `NO_COLOR`), and `progress` events on stdout with `--output json`. Under a
/// sandbox root, `BOOTSTRAP_TEST_PROGRESS_EVERY` shortens the interval for the tests.
fn progress(cli: &Cli) -> crate::host::progress::Progress {
    use crate::host::progress::{EVERY, Progress, Style};
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let style = Style {
        human: (!cli.quiet).then(|| std::io::stderr().is_terminal() && !no_color),
        json: cli.output == Output::Json,
    };
    let every = std::env::var(crate::host::progress::EVERY_VAR)
        .ok()
        .filter(|_| cli.root != Path::new("/"))
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(EVERY);
    Progress::new(style, every)
}

/// Loads a profile; an invalid one is reported with every problem (as data in JSON).
fn load_profile(cli: &Cli, path: &Path) -> Result<Profile, i32> {
    Profile::load(path).map_err(|e| match cli.output {
        Output::Json => {
            reporter(cli).event(&Event::Error {
                message: &e.to_string(),
                diagnostics: &e.located(),
            });
            EXIT_ERROR
        }
        Output::Human => fail(cli, &e.to_string()),
    })
}

/// Runs plan, apply or check; `bake` (an apply on an offline root) records what it baked.
fn run_steps(cli: &Cli, args: &RunArgs, mode: Mode, lock_wait: Duration, bake: bool) -> i32 {
    let selection = Selection {
        only: args.only.clone(),
        skip: args.skip.clone(),
    };
    let known = steps::names();
    if let Some((name, near)) = selection.unknown(&known).into_iter().next() {
        let hint = near.map_or(String::new(), |n| format!("; did you mean `{n}`?"));
        return fail(
            cli,
            &format!("unknown step `{name}`{hint} (steps: {})", known.join(", ")),
        );
    }
    with_node(cli, &args.profile, mode, lock_wait, |ctx| {
        let all = steps::all();
        let file = args.profile.display().to_string();
        // Read again for its digest (the bake record); it was just loaded.
        let bytes = std::fs::read(&args.profile).unwrap_or_default();
        let mut reporter = run_reporter(cli, args);
        let profile = (file.as_str(), bytes.as_slice());
        if !bake {
            return commands::bake::run_recognised(
                &all,
                ctx,
                mode,
                &selection,
                profile,
                reporter.as_mut(),
            );
        }
        commands::bake::bake(&all, ctx, &selection, profile, reporter.as_mut())
            .unwrap_or_else(|e| fail(cli, &e.to_string()))
    })
}

/// Loads the profile, builds the host (and for apply takes the node lock) and runs `f` with
/// the step context.
fn with_node(
    cli: &Cli,
    profile_path: &Path,
    mode: Mode,
    lock_wait: Duration,
    f: impl FnOnce(&Context) -> i32,
) -> i32 {
    let profile = match load_profile(cli, profile_path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !cli.root.is_dir() {
        return fail(
            cli,
            &format!("--root {} is not a directory", cli.root.display()),
        );
    }
    let host = host(cli);
    let _lock = if mode == Mode::Apply {
        if let Err(e) = host.require_privileges() {
            return fail(cli, &e.to_string());
        }
        match host.lock(lock_wait) {
            Ok(lock) => Some(lock),
            Err(e) => return fail(cli, &e.to_string()),
        }
    } else {
        None
    };
    with_context(cli, &host, &profile, mode, f)
}

/// `bootstrap upgrade plan|apply`, `drain`, `uncordon`.
fn node_job(cli: &Cli, args: &NodeArgs, mode: Mode, job: commands::upgrade::Job) -> i32 {
    let file = args.profile.display().to_string();
    let json = cli.output == Output::Json;
    with_node(
        cli,
        &args.profile,
        mode,
        Duration::from_secs(args.lock_wait),
        |ctx| {
            let mut reporter = match cli.output {
                Output::Json => reporter(cli),
                Output::Human => Box::new(
                    HumanReporter::new(std::io::stdout(), cli.quiet).with_apply_command(
                        commands::hint::upgrade_apply_command(&cli.root, &args.profile),
                    ),
                ),
            };
            commands::upgrade::run_job(ctx, job, &file, json, reporter.as_mut())
        },
    )
}

/// `bootstrap maintain --reboot`: the unit at boot runs this binary's `uncordon` with the
/// same profile (absolute paths).
fn maintain(cli: &Cli, args: &NodeArgs) -> i32 {
    let exe = std::env::current_exe().map(|p| p.display().to_string());
    let profile = std::path::absolute(&args.profile).map(|p| p.display().to_string());
    match (exe, profile) {
        (Ok(exe), Ok(profile)) => {
            let exec = format!("{exe} uncordon --profile {profile}");
            node_job(cli, args, Mode::Apply, commands::upgrade::Job::Reboot(exec))
        }
        (Err(e), _) | (_, Err(e)) => fail(
            cli,
            &format!("cannot name this binary or the profile for the unit: {e}"),
        ),
    }
}

/// Resolves the node name (the hostname when the profile leaves it out) and address, reads
/// the environment, and runs `f` with the step context;
/// exit code 1 when the address cannot be found.
fn with_context(
    cli: &Cli,
    host: &Host,
    profile: &Profile,
    mode: Mode,
    f: impl FnOnce(&Context) -> i32,
) -> i32 {
    let env = environment(cli);
    let mut named;
    // An image's hostname is not the booted node's: an offline root leaves it unset.
    let profile = if profile.node.name.is_empty() && !host.is_offline() {
        named = profile.clone();
        match node::name::from_hostname(host) {
            Ok(name) => named.node.name = name,
            Err(e) => return fail(cli, &e.to_string()),
        }
        &named
    } else {
        profile
    };
    match node::address::resolve(host, &profile.node.address) {
        Ok(address) => f(&Context {
            host,
            profile,
            address,
            mode,
            env: &env,
        }),
        // An image tree has no network of its own: the address is the booted node's.
        Err(_) if host.is_offline() => f(&Context {
            host,
            profile,
            address: std::net::Ipv4Addr::UNSPECIFIED.into(),
            mode,
            env: &env,
        }),
        Err(e) => fail(cli, &format!("node.address: {e}")),
    }
}

fn render_command(cli: &Cli, cmd: &RenderCmd) -> i32 {
    let (file, show_secrets) = match cmd {
        RenderCmd::Kubeadm {
            profile,
            show_secrets,
        } => (profile, show_secrets),
        RenderCmd::Access { profile } => {
            return match load_profile(cli, profile) {
                Ok(p) => commands::access::render(&p, cli.output, &profile.display().to_string()),
                Err(code) => code,
            };
        }
    };
    let profile = match load_profile(cli, file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let host = host(cli);
    with_context(
        cli,
        &host,
        &profile,
        Mode::Plan,
        |ctx| match steps::kubeadm::render(ctx) {
            Ok(Some(rendered)) => {
                let yaml = if *show_secrets {
                    rendered.yaml
                } else {
                    host.redact(&crate::kube::yaml::redact_secrets(&rendered.yaml))
                };
                match cli.output {
                    Output::Human => commands::write_stdout(yaml.as_bytes()),
                    Output::Json => {
                        commands::print_json(&serde_json::json!({
                            "path": rendered.path,
                            "yaml": yaml,
                            "documents": commands::yaml_documents(&yaml),
                        }));
                        0
                    }
                }
            }
            Ok(None) => fail(
                cli,
                &format!(
                    "{}: no [kubeadm] section, so there is no kubeadm configuration",
                    file.display()
                ),
            ),
            Err(e) => fail(cli, &host.redact(&e.to_string())),
        },
    )
}

fn secrets_command(cli: &Cli, cmd: &SecretsCmd) -> i32 {
    let SecretsCmd::Generate { out } = cmd;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let written = crate::kube::bundle::Bundle::generate(now).and_then(|b| {
        let hash = b.ca_cert_hash.clone();
        b.write_new(out).map(|files| (files, hash))
    });
    match written {
        Ok((files, hash)) if cli.output == Output::Json => {
            commands::print_json(&serde_json::json!({
                "out": out,
                "files": files,
                "ca_cert_hash": hash,
            }));
            0
        }
        Ok((files, hash)) => {
            println!(
                "cluster secrets written to {} (secret files are 0600):",
                out.display()
            );
            for f in files {
                println!("  {}", f.display());
            }
            if let Some(hash) = hash {
                println!("CA hash (public): {hash}");
            }
            println!(
                "reference it from every profile: [kubeadm.secrets] bundle = \"/etc/bootstrap/cluster\" (copy the directory there, e.g. with cloud-init write_files); workers need only token and ca-cert-hash"
            );
            0
        }
        Err(e) => fail(cli, &e.to_string()),
    }
}

fn profile_command(cli: &Cli, cmd: &ProfileCmd) -> i32 {
    match cmd {
        ProfileCmd::Validate(arg) => {
            let file = arg.path();
            match load_profile(cli, &file) {
                Ok(_) if cli.output == Output::Json => {
                    commands::print_json(&serde_json::json!({
                        "event": "profile_valid",
                        "profile": file,
                    }));
                    0
                }
                Ok(_) => commands::write_stdout(format!("{}: valid\n", file.display()).as_bytes()),
                Err(code) => code,
            }
        }
        ProfileCmd::Show(arg) => match load_profile(cli, &arg.path()) {
            Ok(profile) if cli.output == Output::Json => {
                commands::print_json(&commands::show::json(&profile));
                0
            }
            Ok(profile) => commands::write_stdout(commands::show::human(&profile).as_bytes()),
            Err(code) => code,
        },
    }
}

/// A usage error for `--output json` on a command that prints no data (exit 64).
fn refuse_json(cli: &Cli, what: &str) -> Option<i32> {
    (cli.output == Output::Json).then(|| {
        eprintln!(
            "error: --output json has no meaning for `bootstrap {what}`: it prints {}",
            if what == "man" {
                "a man page (roff)"
            } else {
                "a shell script"
            }
        );
        EXIT_USAGE
    })
}

/// Runs the parsed command line and returns the process exit code.
pub fn execute(cli: &Cli) -> i32 {
    match &cli.command {
        Cmd::Plan(args) => run_steps(cli, args, Mode::Plan, Duration::ZERO, false),
        Cmd::Check(args) => run_steps(cli, args, Mode::Check, Duration::ZERO, false),
        Cmd::Apply(args) => run_steps(
            cli,
            &args.run,
            Mode::Apply,
            Duration::from_secs(args.lock_wait),
            false,
        ),
        Cmd::Bake(_) if cli.root == Path::new("/") => {
            eprintln!(
                "error: bake prepares an image tree or a mounted disk image: give it with --root DIR (not /); to prepare this machine, use apply"
            );
            EXIT_USAGE
        }
        Cmd::Bake(args) => run_steps(
            cli,
            &args.run,
            Mode::Apply,
            Duration::from_secs(args.lock_wait),
            true,
        ),
        Cmd::Profile(cmd) => profile_command(cli, cmd),
        Cmd::Render(cmd) => render_command(cli, cmd),
        Cmd::Secrets(cmd) => secrets_command(cli, cmd),
        Cmd::Kubeconfig(crate::cli::KubeconfigCmd::User(args)) => {
            match load_profile(cli, &args.profile) {
                Ok(profile) => commands::kubeconfig::run(&host(cli), &profile, args, cli.output),
                Err(code) => code,
            }
        }
        Cmd::Version => commands::version::run(&host(cli), cli.output),
        Cmd::JoinCommand(args) => commands::join::join_command(&host(cli), cli.output, args),
        Cmd::Token(cmd) => commands::join::token(&host(cli), cli.output, cmd),
        Cmd::Certs(cmd) => commands::certs::run(&host(cli), cli.output, cmd),
        Cmd::Etcd(cmd) => commands::etcd::run(&host(cli), cli.output, cmd),
        Cmd::Upgrade(UpgradeCmd::Plan(args)) => {
            node_job(cli, args, Mode::Plan, commands::upgrade::Job::Upgrade)
        }
        Cmd::Upgrade(UpgradeCmd::Apply(args)) => {
            node_job(cli, args, Mode::Apply, commands::upgrade::Job::Upgrade)
        }
        Cmd::Drain(args) => node_job(cli, args, Mode::Apply, commands::upgrade::Job::Drain),
        Cmd::Uncordon(args) => node_job(cli, args, Mode::Apply, commands::upgrade::Job::Uncordon),
        Cmd::Reset(args) => commands::reset::run(&host(cli), cli.output, args),
        Cmd::Maintain(args) => maintain(cli, &args.node),
        Cmd::Completions { shell } => refuse_json(cli, "completions").unwrap_or_else(|| {
            let mut script = Vec::new();
            let mut command = crate::cli::command();
            clap_complete::generate(*shell, &mut command, "bootstrap", &mut script);
            commands::write_stdout(&script)
        }),
        Cmd::Man { out } => refuse_json(cli, "man").unwrap_or_else(|| match out {
            Some(dir) => commands::man::write_all(dir),
            None => commands::man::print(),
        }),
    }
}
