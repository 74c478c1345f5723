//! `[access]` on the first control plane, once the API server answers: the RBAC objects
//! applied with server-side apply (`kubectl apply --server-side --field-manager=bootstrap`,
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/>), then every
//! permission they grant (and some they must not) checked with `kubectl auth can-i`.
//!
//! Observe: the objects labelled `app.kubernetes.io/managed-by=bootstrap`
//! (`kubectl get … -A -l … -o json`). Plan: apply when a declared object is missing or
//! differs (every field the profile sets must read back the same; fields the server adds
//! are ignored); objects the profile no longer declares are reported, and deleted only
//! with `access.prune = true`. A converged cluster plans nothing.

use serde_json::Value;

use super::after::kubectl;
use crate::access::checks::{self, Check};
use crate::access::manifests::{self, MANAGED_BY, MANAGER, Object};
use crate::engine::{Change, Context, Note, Plan, StepError, Work};
use crate::host::Command;
use crate::profile::access::Access;

/// The kinds `[access]` makes, as `kubectl get` names them.
const KINDS: &str = "namespaces,serviceaccounts,clusterroles.rbac.authorization.k8s.io,roles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io";

/// Why `[access]` could not be applied or proven.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The manifests could not be serialised.
    #[error(transparent)]
    Yaml(#[from] crate::kube::yaml::YamlError),
    /// `kubectl auth can-i` answered otherwise than the profile implies.
    #[error("the RBAC objects were applied, but {count} permission check(s) failed:\n  - {}\nfix the profile's [access] section (or the objects another tool changed), then apply again", failures.join("\n  - "))]
    Checks {
        /// How many failed.
        count: usize,
        /// One line per failed check, naming the binding and rule.
        failures: Vec<String>,
    },
}

impl From<AccessError> for StepError {
    fn from(error: AccessError) -> Self {
        StepError::Cause(Box::new(error))
    }
}

fn apply_command() -> Command {
    kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=bootstrap",
        "-f",
        "-",
    ])
}

/// Plans `[access]`: everything when the cluster is new (`fresh`), otherwise what differs.
pub(super) fn plan(
    ctx: &Context,
    access: &Access,
    fresh: bool,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let objects = manifests::objects(access);
    let checks = checks::checks(access);
    let yaml = manifests::render(&objects).map_err(AccessError::from)?;
    if fresh {
        plan.push(apply(objects.len(), yaml, checks));
        return Ok(());
    }
    let list = kubectl(&[
        "get",
        KINDS,
        "-A",
        "-l",
        &format!("{MANAGED_BY}={MANAGER}"),
        "-o",
        "json",
    ]);
    let observed: Vec<Value> = match ctx.host.run(&list)? {
        out if out.success() => serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v["items"].as_array().cloned())
            .unwrap_or_default(),
        out => {
            plan.notes.push(Note::Warning(format!(
                "access: cannot list the RBAC objects (`{}`: {}); they are applied again",
                list.display(),
                out.tail(2)
            )));
            plan.push(apply(objects.len(), yaml, checks));
            return Ok(());
        }
    };
    let differ: Vec<String> = (objects.iter())
        .filter(|o| !observed.iter().any(|v| contains(v, &o.manifest)))
        .map(Object::id)
        .collect();
    if !differ.is_empty() {
        let mut change = apply(objects.len(), yaml, checks);
        change.summary = format!(
            "{} (missing or different: {})",
            change.summary,
            differ.join(", ")
        );
        plan.push(change);
    }
    for stale in observed
        .iter()
        .filter(|v| !objects.iter().any(|o| same_object(v, &o.manifest)))
    {
        stale_object(access, stale, plan);
    }
    Ok(())
}

/// An object applied earlier that the profile no longer declares: deleted with `prune`,
/// otherwise reported.
fn stale_object(access: &Access, stale: &Value, plan: &mut Plan) {
    let (kind, ns, name) = identity(stale);
    let id = match &ns {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    };
    if access.prune {
        let mut args = vec![
            "delete".to_string(),
            kind.to_ascii_lowercase(),
            name.clone(),
        ];
        if let Some(ns) = ns {
            args.extend(["-n".to_string(), ns]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let command = kubectl(&refs);
        plan.push(Change::run(
            format!(
                "delete {id}: applied by bootstrap, no longer in [access] (access.prune = true)"
            ),
            command,
        ));
    } else {
        plan.notes.push(Note::Warning(format!("access: {id} was applied by bootstrap but is no longer in [access]; it is kept (set access.prune = true to delete it)")));
    }
}

fn identity(v: &Value) -> (String, Option<String>, String) {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    (
        s(&v["kind"]),
        v["metadata"]["namespace"].as_str().map(str::to_string),
        s(&v["metadata"]["name"]),
    )
}

fn same_object(observed: &Value, desired: &Value) -> bool {
    identity(observed) == identity(desired)
}

/// Whether `observed` holds every field of `desired` with the same value (objects: every
/// key of `desired`; arrays: the same length, element by element).
fn contains(observed: &Value, desired: &Value) -> bool {
    match (observed, desired) {
        (Value::Object(o), Value::Object(d)) => d
            .iter()
            .all(|(k, dv)| o.get(k).is_some_and(|ov| contains(ov, dv))),
        (Value::Array(o), Value::Array(d)) => {
            o.len() == d.len() && o.iter().zip(d).all(|(a, b)| contains(a, b))
        }
        (o, d) => o == d,
    }
}

/// Server-side apply of the manifests, then the `can-i` checks.
#[derive(Debug)]
struct ApplyAccess {
    yaml: String,
    checks: Vec<Check>,
}

fn apply(count: usize, yaml: String, checks: Vec<Check>) -> Change {
    let allowed = checks.iter().filter(|c| c.allowed).count();
    Change::work(
        format!(
            "apply {count} RBAC object(s) from [access] with `{}`, then check {allowed} permission(s) that must be granted and {} that must be denied with `kubectl auth can-i`",
            apply_command().display(),
            checks.len() - allowed
        ),
        ApplyAccess { yaml, checks },
    )
}

impl Work for ApplyAccess {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        host.run_change(step, &apply_command().stdin(self.yaml.clone()))?;
        let mut failures = Vec::new();
        for check in &self.checks {
            let owned = check.args();
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            let out = host.run(&kubectl(&refs))?;
            let answer = out.stdout.trim();
            let granted = match (out.code, answer) {
                (Some(0), "yes") => true,
                (Some(1), "no") => false,
                _ => {
                    failures.push(format!(
                        "{}: `kubectl {}` did not answer yes or no ({}) [{}]",
                        check.describe(),
                        owned.join(" "),
                        out.tail(2),
                        check.because
                    ));
                    continue;
                }
            };
            if granted != check.allowed {
                failures.push(format!(
                    "{}: kubectl auth can-i answered {answer} [{}]",
                    check.describe(),
                    check.because
                ));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        Err(AccessError::Checks {
            count: failures.len(),
            failures,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_added_fields_do_not_count_as_a_difference() {
        let desired = json!({ "kind": "Role", "metadata": { "name": "r", "labels": { "a": "b" } }, "rules": [{ "verbs": ["get"] }] });
        let observed = json!({ "kind": "Role", "metadata": { "name": "r", "uid": "x", "labels": { "a": "b", "c": "d" } }, "rules": [{ "verbs": ["get"] }] });
        assert!(contains(&observed, &desired));
        let changed = json!({ "kind": "Role", "metadata": { "name": "r", "labels": { "a": "b" } }, "rules": [{ "verbs": ["get", "list"] }] });
        assert!(!contains(&changed, &desired));
    }
}
