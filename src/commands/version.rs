//! `bootstrap version`: the agent's version and git commit, and the versions of the node
//! programs it works with, each found on `PATH` and asked with its own version flag.

use crate::cli::Output;
use crate::host::Host;
use crate::node::facts::versions::{
    CONTAINERD, CRICTL, KUBEADM, KUBECTL, KUBELET, RUNC, Tool, program_version,
};

/// The agent's version (Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the agent was built from (build.rs), or `unknown`.
pub const COMMIT: &str = match option_env!("BOOTSTRAP_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// The programs reported, each asked with its own version arguments.
const PROGRAMS: [Tool; 6] = [KUBEADM, KUBELET, KUBECTL, CONTAINERD, RUNC, CRICTL];

/// Prints the versions; exit code 0.
pub fn run(host: &Host, output: Output) -> i32 {
    let found: Vec<(&str, Result<Option<String>, String>)> = PROGRAMS
        .iter()
        .map(|tool| (tool.name, program_version(host, *tool)))
        .collect();
    match output {
        Output::Json => {
            let programs: serde_json::Map<String, serde_json::Value> = found
                .iter()
                .map(|(name, r)| {
                    let value = match r {
                        Ok(Some(v)) => serde_json::json!({"installed": true, "version": v}),
                        Ok(None) => serde_json::json!({"installed": false, "version": null}),
                        Err(e) => {
                            serde_json::json!({"installed": true, "version": null, "error": e})
                        }
                    };
                    (name.to_string(), value)
                })
                .collect();
            super::print_json(&serde_json::json!({
                "bootstrap": {"version": VERSION, "commit": COMMIT},
                "programs": programs,
            }));
        }
        Output::Human => {
            let mut text = format!("bootstrap  {VERSION} (commit {COMMIT})\n");
            for (name, r) in &found {
                let shown = match r {
                    Ok(Some(v)) => v.clone(),
                    Ok(None) => "not installed".to_string(),
                    Err(e) => format!("unknown ({e})"),
                };
                text.push_str(&format!("{name:<10} {shown}\n"));
            }
            super::write_stdout(text.as_bytes());
        }
    }
    0
}
