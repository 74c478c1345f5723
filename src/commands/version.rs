//! `bootstrap version`: the agent's version and git commit, and the versions of the node
//! programs it works with, each found on `PATH` and asked with its own version flag.

use crate::cli::Output;
use crate::host::{Command, Host, HostError, RunError};

/// The agent's version (Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the agent was built from (build.rs), or `unknown`.
pub const COMMIT: &str = match option_env!("BOOTSTRAP_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// The programs reported, with the arguments that make each print its version.
const PROGRAMS: [(&str, &[&str]); 6] = [
    ("kubeadm", &["version", "-o", "short"]),
    ("kubelet", &["--version"]),
    ("kubectl", &["version", "--client"]),
    ("containerd", &["--version"]),
    ("runc", &["--version"]),
    ("crictl", &["--version"]),
];

/// The first word that looks like a version (`v1.35.0`, `1.7.27`, `2.1.4`), without the `v`:
/// containerd.io prints `containerd containerd.io 1.7.27 <commit>`, runc `runc version 1.2.5`.
pub fn version_word(output: &str) -> Option<String> {
    output.split_whitespace().find_map(|word| {
        let bare = word.trim_start_matches('v');
        let mut parts = bare.split(['-', '+', '~']).next()?.split('.');
        let numeric = parts
            .by_ref()
            .take(3)
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        (numeric && bare.contains('.')).then(|| bare.to_string())
    })
}

/// One program's finding: its version, `None` when not installed, or why it gave none.
fn probe(host: &Host, name: &str, args: &[&str]) -> Result<Option<String>, String> {
    let command = Command::new(name)
        .args(args.iter().copied())
        .timeout(std::time::Duration::from_secs(10));
    match host.run(&command) {
        // 127: the shell's "command not found" (a wrapper whose program is absent).
        Ok(out) if out.code == Some(127) => Ok(None),
        Ok(out) => version_word(out.stdout.lines().next().unwrap_or(""))
            .or_else(|| version_word(&format!("{}\n{}", out.stdout, out.stderr)))
            .map(Some)
            .ok_or_else(|| format!("printed no version: {}", out.tail(1))),
        Err(HostError::Run(RunError::NotFound { .. })) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Prints the versions; exit code 0.
pub fn run(host: &Host, output: Output) -> i32 {
    let found: Vec<(&str, Result<Option<String>, String>)> = PROGRAMS
        .iter()
        .map(|(name, args)| (*name, probe(host, name, args)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_words_of_each_program() {
        let v = |s: &str| version_word(s);
        assert_eq!(v("v1.35.0").as_deref(), Some("1.35.0"));
        assert_eq!(v("Kubernetes v1.34.2").as_deref(), Some("1.34.2"));
        assert_eq!(
            v("containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da")
                .as_deref(),
            Some("1.7.27")
        );
        assert_eq!(
            v("containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376").as_deref(),
            Some("2.1.4")
        );
        assert_eq!(
            v("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3")
                .as_deref(),
            Some("1.6.20~ds1")
        );
        assert_eq!(v("runc version 1.2.5").as_deref(), Some("1.2.5"));
        assert_eq!(v("crictl version v1.35.0").as_deref(), Some("1.35.0"));
        assert_eq!(v("command not found"), None);
        assert_eq!(v("containerd/v2"), None);
    }
}
