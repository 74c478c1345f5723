//! Day-2 helpers on a control plane: `join-command` prints a fresh `kubeadm join` command
//! (a new token with a TTL; for a control plane also a fresh certificate key), and
//! `token create|list`. They wrap kubeadm as its documentation describes:
//! <https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-token/> (`kubeadm token
//! create --print-join-command`, `--certificate-key` "when used together with
//! '--print-join-command', print the full 'kubeadm join' flag needed to join the cluster as a
//! control-plane") and
//! <https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-init-phase/#cmd-phase-upload-certs>
//! (`kubeadm init phase upload-certs --upload-certs` prints a new certificate key). The token
//! and key appear only in this command's own output, never in logs or the journal.

use std::time::Duration;

use crate::cli::{JoinCommandArgs, Output, TokenCmd};
use crate::host::{Command, Host};

/// The kubeconfig kubeadm uses on a control plane.
const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

/// Why a day-2 helper failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Not a control plane.
    #[error(
        "{ADMIN_CONF} does not exist: run this on a control plane node (kubeadm init or a control-plane join made it)"
    )]
    NotControlPlane,
    /// kubeadm could not be run.
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    /// kubeadm refused.
    #[error("`{command}` failed (exit {code}): {tail}")]
    Kubeadm {
        /// The command, secrets redacted.
        command: String,
        /// Its exit code.
        code: String,
        /// Its last lines of output.
        tail: String,
    },
    /// kubeadm printed something unexpected.
    #[error("`{command}` printed no {what}")]
    Unexpected {
        /// The command.
        command: String,
        /// What was missing.
        what: &'static str,
    },
}

/// `kubeadm SUBCOMMAND... --kubeconfig ROOT/etc/kubernetes/admin.conf`.
fn kubeadm(host: &Host, args: &[&str]) -> Result<Command, JoinError> {
    if !host.exists(ADMIN_CONF) {
        return Err(JoinError::NotControlPlane);
    }
    Ok(Command::new("kubeadm")
        .args(args.iter().copied())
        .arg("--kubeconfig")
        .arg(host.path(ADMIN_CONF).display().to_string())
        .timeout(Duration::from_secs(60)))
}

/// Runs a kubeadm command; its stdout when it exits 0.
fn stdout_of(host: &Host, command: &Command) -> Result<String, JoinError> {
    let out = host.run(command)?;
    if !out.success() {
        return Err(JoinError::Kubeadm {
            command: host.redact(&command.display()),
            code: out.code.map_or("signal".into(), |c| c.to_string()),
            tail: host.redact(&out.tail(3)),
        });
    }
    Ok(out.stdout)
}

/// The last non-empty line of `text`, trimmed.
fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// Uploads the control-plane certificates again and returns the new certificate key.
fn upload_certs(host: &Host) -> Result<String, JoinError> {
    let command = kubeadm(host, &["init", "phase", "upload-certs", "--upload-certs"])?;
    let out = stdout_of(host, &command)?;
    let key = last_line(&out)
        .filter(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| JoinError::Unexpected {
            command: command.display(),
            what: "certificate key (64 hex digits on its last line)",
        })?;
    Ok(key.to_string())
}

/// Creates a token and returns the join command kubeadm printed.
fn fresh_join_command(host: &Host, args: &JoinCommandArgs) -> Result<String, JoinError> {
    let key = if args.control_plane {
        Some(upload_certs(host)?)
    } else {
        None
    };
    let mut command = kubeadm(
        host,
        &[
            "token",
            "create",
            "--print-join-command",
            "--ttl",
            &args.ttl,
        ],
    )?;
    if let Some(key) = &key {
        command = command.arg("--certificate-key").secret_arg(key.clone());
    }
    let out = stdout_of(host, &command)?;
    last_line(&out)
        .filter(|l| l.starts_with("kubeadm join "))
        .map(str::to_string)
        .ok_or(JoinError::Unexpected {
            command: host.redact(&command.display()),
            what: "`kubeadm join ...` line",
        })
}

fn report(
    output: Output,
    result: Result<serde_json::Value, JoinError>,
    human: impl Fn(&serde_json::Value) -> String,
) -> i32 {
    match (result, output) {
        (Ok(value), Output::Json) => {
            super::print_json(&value);
            0
        }
        (Ok(value), Output::Human) => super::write_stdout(human(&value).as_bytes()),
        (Err(e), Output::Json) => {
            super::print_json(&serde_json::json!({"event": "error", "message": e.to_string()}));
            1
        }
        (Err(e), Output::Human) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// `bootstrap join-command`: prints a fresh join command; exit code.
pub fn join_command(host: &Host, output: Output, args: &JoinCommandArgs) -> i32 {
    let role = if args.control_plane {
        "control-plane"
    } else {
        "worker"
    };
    let result = fresh_join_command(host, args)
        .map(|command| serde_json::json!({"role": role, "ttl": args.ttl, "command": command}));
    report(output, result, |v| {
        format!(
            "{}\n# a {role} join command; its token expires in {} (run this again for a new one)\n",
            v["command"].as_str().unwrap_or(""),
            args.ttl
        )
    })
}

/// One token of `kubeadm token list -o json`, its secret half removed.
fn listed(token: &serde_json::Value) -> serde_json::Value {
    let id = token["token"]
        .as_str()
        .and_then(|t| t.split('.').next())
        .unwrap_or("");
    serde_json::json!({
        "id": id,
        "expires": token["expires"],
        "usages": token["usages"],
        "groups": token["groups"],
        "description": token["description"],
    })
}

fn list(host: &Host) -> Result<serde_json::Value, JoinError> {
    let command = kubeadm(host, &["token", "list", "-o", "json"])?;
    let out = stdout_of(host, &command)?;
    let tokens: Result<Vec<serde_json::Value>, _> = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .collect();
    let tokens = tokens.map_err(|_| JoinError::Unexpected {
        command: command.display(),
        what: "JSON token list",
    })?;
    Ok(serde_json::json!({"tokens": tokens.iter().map(listed).collect::<Vec<_>>()}))
}

fn list_human(value: &serde_json::Value) -> String {
    let mut text = format!(
        "{:<8} {:<22} {:<40} DESCRIPTION\n",
        "ID", "EXPIRES", "USAGES"
    );
    for t in value["tokens"].as_array().into_iter().flatten() {
        let usages: Vec<&str> = t["usages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str())
            .collect();
        text.push_str(&format!(
            "{:<8} {:<22} {:<40} {}\n",
            t["id"].as_str().unwrap_or(""),
            t["expires"].as_str().unwrap_or("never"),
            usages.join(","),
            t["description"].as_str().unwrap_or("")
        ));
    }
    text.push_str("(token secrets are not shown; `bootstrap token create` prints a new one)\n");
    text
}

/// `bootstrap token create|list`; exit code.
pub fn token(host: &Host, output: Output, cmd: &TokenCmd) -> i32 {
    match cmd {
        TokenCmd::Create { ttl } => {
            let result = kubeadm(host, &["token", "create", "--ttl", ttl])
                .and_then(|c| stdout_of(host, &c))
                .and_then(|out| {
                    last_line(&out)
                        .map(str::to_string)
                        .ok_or(JoinError::Unexpected {
                            command: "kubeadm token create".into(),
                            what: "token",
                        })
                })
                .map(|t| serde_json::json!({"token": t, "ttl": ttl}));
            report(output, result, |v| {
                format!("{}\n", v["token"].as_str().unwrap_or(""))
            })
        }
        TokenCmd::List => report(output, list(host), list_human),
    }
}
