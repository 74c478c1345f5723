//! `bootstrap etcd snapshot save|status|restore` (see [`crate::etcd`] and docs/etcd.md).
//! Each prints for people or, with `--output json`, one JSON document. Exit codes as
//! everywhere: 0 done, 2 a plan shown and nothing changed (`--dry-run`, `restore` without
//! `--yes`), 1 an error.

use std::time::Duration;

use crate::cli::Output;
use crate::etcd::EtcdError;
use crate::etcd::args::{EtcdCmd, RestoreArgs, SaveArgs, SnapshotCmd};
use crate::etcd::restore::{self, RestorePlan};
use crate::etcd::snapshot::{self, SavePlan, Saved};
use crate::etcd::tools::{self, Status};
use crate::host::Host;

fn status_json(status: &Status) -> serde_json::Value {
    serde_json::json!({
        "hash": status.hash,
        "revision": status.revision,
        "total_keys": status.total_key,
        "total_size": status.total_size,
    })
}

fn status_line(status: &Status) -> String {
    format!(
        "hash {:08x}, revision {}, {} keys, {} bytes",
        status.hash, status.revision, status.total_key, status.total_size
    )
}

fn fail(host: &Host, output: Output, e: &EtcdError) -> i32 {
    let message = host.redact(&e.to_string());
    match output {
        Output::Json => {
            super::print_json(&serde_json::json!({"event": "error", "message": message}))
        }
        Output::Human => eprintln!("error: {message}"),
    }
    1
}

fn show_plan(output: Output, kind: &str, lines: &[String], warnings: &[String]) {
    match output {
        Output::Json => super::print_json(&serde_json::json!({
            "event": "plan", "command": kind, "actions": lines, "warnings": warnings,
        })),
        Output::Human => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            println!("{kind}:");
            for line in lines {
                println!("  - {line}");
            }
        }
    }
}

fn save(host: &Host, output: Output, args: &SaveArgs) -> Result<i32, EtcdError> {
    let plan: SavePlan = snapshot::plan(host, args.out.as_deref(), &args.dir, args.keep)?;
    show_plan(output, "etcd snapshot save", &plan.lines(), &[]);
    if args.dry_run {
        return Ok(2);
    }
    host.require_privileges()?;
    let saved: Saved = snapshot::save(host, &plan)?;
    match output {
        Output::Json => super::print_json(&serde_json::json!({
            "event": "snapshot_saved", "path": saved.path, "size": saved.size,
            "status": status_json(&saved.status), "removed": plan.prune,
        })),
        Output::Human => {
            println!(
                "saved {} ({} bytes, mode 0600), verified: {}",
                saved.path,
                saved.size,
                status_line(&saved.status)
            );
            for old in &plan.prune {
                println!("removed older snapshot {old}");
            }
        }
    }
    Ok(0)
}

fn status(host: &Host, output: Output, file: &str) -> Result<i32, EtcdError> {
    let status = tools::snapshot_status(host, file)?;
    match output {
        Output::Json => super::print_json(&serde_json::json!({
            "event": "snapshot_status", "path": file, "verified": true, "status": status_json(&status),
        })),
        Output::Human => println!("{file}: verified: {}", status_line(&status)),
    }
    Ok(0)
}

fn restore(host: &Host, output: Output, args: &RestoreArgs) -> Result<i32, EtcdError> {
    let plan: RestorePlan =
        restore::plan(host, &args.file, args.data_dir.as_deref(), args.timeout)?;
    show_plan(
        output,
        "etcd snapshot restore",
        &plan.lines(),
        &plan.warnings,
    );
    if !args.yes {
        if output == Output::Human {
            println!("nothing changed; run again with --yes to restore");
        }
        return Ok(2);
    }
    host.require_privileges()?;
    let _lock = host.lock(Duration::ZERO)?;
    restore::restore(host, &plan)?;
    match output {
        Output::Json => super::print_json(&serde_json::json!({
            "event": "snapshot_restored", "path": plan.snapshot, "data_dir": plan.data_dir,
            "previous_data_dir": plan.member.facts.data_dir,
        })),
        Output::Human => println!(
            "restored {} into {}; etcd answers healthy; the previous data directory {} is untouched",
            plan.snapshot, plan.data_dir, plan.member.facts.data_dir
        ),
    }
    Ok(0)
}

/// Runs `bootstrap etcd …` and returns the exit code.
pub fn run(host: &Host, output: Output, cmd: &EtcdCmd) -> i32 {
    let EtcdCmd::Snapshot(cmd) = cmd;
    let result = match cmd {
        SnapshotCmd::Save(args) => save(host, output, args),
        SnapshotCmd::Status { file } => status(host, output, file),
        SnapshotCmd::Restore(args) => restore(host, output, args),
    };
    result.unwrap_or_else(|e| fail(host, output, &e))
}
