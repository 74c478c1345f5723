//! `bootstrap render access`: the RBAC objects of `[access]` as manifests on stdout (or,
//! with `--output json`, the YAML, the objects and the `can-i` checks as one document).

use serde_json::json;

use super::{print_json, write_stdout};
use crate::access::{checks, manifests};
use crate::cli::Output;
use crate::profile::Profile;

/// Prints the manifests of `profile`'s `[access]`; exit 1 (with a message) when it has
/// none or they cannot be serialised.
pub fn render(profile: &Profile, output: Output, file: &str) -> i32 {
    let Some(access) = &profile.access else {
        eprintln!(
            "error: {file}: no [access] section, so there are no RBAC objects to render; add one (see profiles/rbac-exercise.toml)"
        );
        return 1;
    };
    let objects = manifests::objects(access);
    let yaml = match manifests::render(&objects) {
        Ok(yaml) => yaml,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    match output {
        Output::Human => write_stdout(yaml.as_bytes()),
        Output::Json => {
            let checks: Vec<_> = checks::checks(access)
                .iter()
                .map(|c| json!({ "args": c.args(), "allowed": c.allowed, "because": c.because }))
                .collect();
            print_json(&json!({
                "yaml": yaml,
                "objects": objects.iter().map(|o| o.id()).collect::<Vec<_>>(),
                "checks": checks,
            }));
            0
        }
    }
}
