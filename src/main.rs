//! `bootstrap`: parse the command line, set up logging, run, exit with the outcome's code.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use bootstrap::cli::Cli;

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colour only on a terminal, and never when NO_COLOR is set to a non-empty value
    // (https://no-color.org): logs captured by cloud-init or journald stay plain text.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() {
    let cli = match bootstrap::cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print on stdout and exit 0; usage errors exit 64.
            let _ = e.print();
            std::process::exit(bootstrap::cli::usage_exit_code(&e));
        }
    };
    init_logging(&cli);
    std::process::exit(bootstrap::app::execute(&cli));
}
