//! `bootstrap certs renew` (see [`crate::certs::renew`]): the plan, and with `--yes` the
//! renewal. Exit 0 done, 2 plan shown and nothing changed, 1 error.

use crate::certs::args::CertsCmd;
use crate::certs::renew::{self, RenewError};
use crate::cli::Output;
use crate::host::Host;

fn run_renew(
    host: &Host,
    output: Output,
    args: &crate::certs::args::RenewArgs,
) -> Result<i32, RenewError> {
    let plan = renew::plan(host, args.restart_wait)?;
    let lines = plan.lines();
    if output == Output::Json {
        if !args.yes {
            super::print_json(
                &serde_json::json!({"event": "plan", "command": "certs renew", "actions": lines}),
            );
            return Ok(2);
        }
    } else {
        println!("certs renew:");
        for line in &lines {
            println!("  - {line}");
        }
        if !args.yes {
            println!("nothing changed; run again with --yes to renew");
            return Ok(2);
        }
    }
    host.require_privileges()?;
    let _lock = host.lock(std::time::Duration::ZERO)?;
    let said = renew::renew(host, &plan)?;
    match output {
        Output::Json => super::print_json(&serde_json::json!({
            "event": "certs_renewed", "kubeadm": said,
            "restarted": plan.manifests.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        })),
        Output::Human => {
            print!("{said}");
            println!(
                "control-plane pods restarted: {}",
                plan.manifests
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(0)
}

/// Runs `bootstrap certs …` and returns the exit code.
pub fn run(host: &Host, output: Output, cmd: &CertsCmd) -> i32 {
    let CertsCmd::Renew(args) = cmd;
    run_renew(host, output, args).unwrap_or_else(|e| {
        let message = host.redact(&e.to_string());
        match output {
            Output::Json => {
                super::print_json(&serde_json::json!({"event": "error", "message": message}))
            }
            Output::Human => eprintln!("error: {message}"),
        }
        1
    })
}
