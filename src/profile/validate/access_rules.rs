//! `[access]` rules and names: the checks the API server makes on a `PolicyRule`
//! (`ValidatePolicyRule` in kubernetes `pkg/apis/rbac/validation/validation.go`: verbs
//! required, resource rules need API groups and resources, non-resource URLs only in
//! cluster roles and never mixed with resources), the verbs the RBAC documentation lists
//! (<https://kubernetes.io/docs/reference/access-authn-authz/rbac/>, "Referring to
//! resources" and "Privilege escalation prevention"), and object names.

use crate::profile::access::Rule;
use crate::profile::diagnostic::{Diagnostic, suggest};
use crate::profile::locate::Seg;
use crate::values::name::{rfc1123_fix, rfc1123_problem};

/// Verbs on resources: the request verbs of the authorization docs
/// (<https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb>)
/// and the special verbs of RBAC (`use` for PodSecurityPolicy, `bind` and `escalate` on
/// roles, `impersonate`, `approve` and `sign` on certificate signing requests).
pub const RESOURCE_VERBS: [&str; 15] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "escalate",
    "impersonate",
    "approve",
    "sign",
    "*",
];

/// Verbs on non-resource URLs: the lowercased HTTP methods
/// (<https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb>).
pub const URL_VERBS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "*",
];

/// A name shown in a message: control characters escaped, so a newline cannot forge a
/// line of the report, and at most 80 characters.
pub(super) fn shown(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    match escaped.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &escaped[..at]),
        None => escaped,
    }
}

fn with(path: &[Seg], rest: &[Seg]) -> Vec<Seg> {
    let mut out = path.to_vec();
    out.extend_from_slice(rest);
    out
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// A namespace name: a DNS-1123 label (at most 63 characters, no dots).
pub(super) fn check_namespace_name(path: Vec<Seg>, name: &str, out: &mut Vec<Diagnostic>) {
    let problem = match rfc1123_problem(name) {
        Some(p) => Some(shown(&p)),
        None if name.contains('.') || name.len() > 63 => {
            Some("a namespace name is one label: no dots, at most 63 characters".into())
        }
        None => None,
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::at(
                path,
                format!("invalid namespace `{}`: {problem}", shown(name)),
            )
            .expected("a DNS-1123 label: a-z, 0-9 and `-`, at most 63 characters, such as ns1")
            .help(format!("use `{}`", rfc1123_fix(name).replace('.', "-"))),
        );
    }
}

/// A service account name: a DNS-1123 subdomain.
pub(super) fn check_subdomain(path: Vec<Seg>, what: &str, name: &str, out: &mut Vec<Diagnostic>) {
    if let Some(problem) = rfc1123_problem(name) {
        out.push(
            Diagnostic::at(
                path,
                format!("invalid {what} `{}`: {}", shown(name), shown(&problem)),
            )
            .expected("a DNS-1123 subdomain: a-z, 0-9, `-` and `.`, such as pipeline")
            .help(format!("use `{}`", rfc1123_fix(name))),
        );
    }
}

/// A role or binding name: any path segment (`ValidateRBACName`: not `.` or `..`, no `/`
/// or `%`), here also without control characters or spaces, at most 253 characters.
pub(super) fn check_rbac_name(path: Vec<Seg>, what: &str, name: &str, out: &mut Vec<Diagnostic>) {
    let problem = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not names".to_string())
    } else if let Some(c) = name
        .chars()
        .find(|c| "/%".contains(*c) || c.is_whitespace() || c.is_control())
    {
        Some(format!("it contains {:?}", c))
    } else if name.len() > 253 {
        Some(format!(
            "it is {} characters long (at most 253)",
            name.len()
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::at(
                path,
                format!("invalid {what} name `{}`: {problem}", shown(name)),
            )
            .expected("a name without `/`, `%`, spaces or control characters, such as deployer")
            .help("rename it, e.g. with letters, digits, `-`, `.` and `:`"),
        );
    }
}

/// A user or group name: not empty, no control characters, at most 253 characters.
pub(super) fn check_subject_name(
    path: Vec<Seg>,
    what: &str,
    name: &str,
    out: &mut Vec<Diagnostic>,
) {
    let problem = if name.trim().is_empty() {
        Some("it is empty".to_string())
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character".to_string())
    } else if name.len() > 253 {
        Some(format!(
            "it is {} characters long (at most 253)",
            name.len()
        ))
    } else if what == "user" && name.starts_with("system:serviceaccount:") {
        Some("a service account is not written as a user".to_string())
    } else {
        None
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::at(path, format!("invalid {what} `{}`: {problem}", shown(name)))
                .expected(format!(
                    "a {what} name such as {}",
                    if what == "user" { "jane" } else { "manager" }
                ))
                .help(if problem.contains("service account") {
                    "list it under service_accounts = [{ namespace = \"NS\", name = \"NAME\" }]"
                        .to_string()
                } else {
                    format!("write the {what} name as the client certificate carries it")
                }),
        );
    }
}

/// One rule at `path`; `namespaced` for a Role's rules.
pub(super) fn check_rule(path: &[Seg], rule: &Rule, namespaced: bool, out: &mut Vec<Diagnostic>) {
    let urls = !rule.non_resource_urls.is_empty();
    let fail = |rest: &[Seg], msg: String, expected: &str, help: &str| {
        Diagnostic::at(with(path, rest), msg)
            .expected(expected)
            .help(help)
    };
    if rule.verbs.is_empty() {
        out.push(fail(
            &[],
            "a rule needs at least one verb".into(),
            "verbs = [\"get\", \"list\"]",
            "add the verbs this rule allows",
        ));
    }
    let allowed: &[&str] = if urls && rule.resources.is_empty() {
        &URL_VERBS
    } else {
        &RESOURCE_VERBS
    };
    for (i, verb) in rule.verbs.iter().enumerate() {
        if !allowed.contains(&verb.as_str()) {
            let near = suggest(&verb.to_ascii_lowercase(), allowed.iter().copied());
            out.push(fail(
                &[key("verbs"), Seg::Index(i)],
                format!("unknown verb `{}`", shown(verb)),
                &format!("one of: {}", allowed.join(", ")),
                &near.map_or(
                    "use one of the verbs listed as expected (lowercase)".into(),
                    |n| format!("did you mean \"{n}\"?"),
                ),
            ));
        }
    }
    check_urls(path, rule, namespaced, out);
    if !urls {
        for (field, values) in [
            ("api_groups", &rule.api_groups),
            ("resources", &rule.resources),
        ] {
            if values.is_empty() {
                let expected = if field == "api_groups" {
                    "api_groups = [\"\"] for the core group, or [\"apps\"], ..."
                } else {
                    "resources = [\"pods\"], ..."
                };
                out.push(fail(
                    &[],
                    format!("a resource rule needs `{field}`"),
                    expected,
                    "add it, or give non_resource_urls in a cluster role instead",
                ));
            }
        }
    }
    check_resources(path, rule, out);
}

/// The non-resource URLs of a rule: cluster roles only, never with resources, each a path.
fn check_urls(path: &[Seg], rule: &Rule, namespaced: bool, out: &mut Vec<Diagnostic>) {
    let urls = !rule.non_resource_urls.is_empty();
    let fail = |rest: &[Seg], msg: String, expected: &str, help: &str| {
        Diagnostic::at(with(path, rest), msg)
            .expected(expected)
            .help(help)
    };
    if urls && namespaced {
        out.push(fail(
            &[key("non_resource_urls")],
            "a Role cannot allow non-resource URLs".into(),
            "non_resource_urls only in access.cluster_roles",
            "move this rule to a cluster role bound by a cluster-wide binding",
        ));
    }
    if urls && (!rule.resources.is_empty() || !rule.api_groups.is_empty()) {
        out.push(fail(
            &[key("non_resource_urls")],
            "a rule cannot apply to both resources and non-resource URLs".into(),
            "either api_groups and resources, or non_resource_urls",
            "split it into two rules",
        ));
    }
    for (i, url) in rule.non_resource_urls.iter().enumerate() {
        let star = url.find('*');
        if !url.starts_with('/')
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
            || star.is_some_and(|at| at != url.len() - 1)
        {
            out.push(fail(
                &[key("non_resource_urls"), Seg::Index(i)],
                format!("invalid non-resource URL `{}`", shown(url)),
                "a path starting with `/`, optionally ending in `*`, such as /healthz or /logs/*",
                "write the URL path the request uses",
            ));
        }
    }
}

/// API groups, resources and resource names: no control characters or spaces; `resource_names`
/// does not restrict `list`, `watch`, `create` or `deletecollection` (RBAC docs,
/// "Referring to resources").
fn check_resources(path: &[Seg], rule: &Rule, out: &mut Vec<Diagnostic>) {
    for (field, values) in [
        ("api_groups", &rule.api_groups),
        ("resources", &rule.resources),
        ("resource_names", &rule.resource_names),
    ] {
        for (i, value) in values.iter().enumerate() {
            let bad = value.chars().any(|c| c.is_whitespace() || c.is_control())
                || value.len() > 253
                || (field != "api_groups" && value.is_empty());
            if bad {
                out.push(
                    Diagnostic::at(
                        with(path, &[key(field), Seg::Index(i)]),
                        format!("invalid {} entry `{}`", field, shown(value)),
                    )
                    .expected("a name without spaces or control characters, at most 253 characters")
                    .help("write it as `kubectl api-resources` shows it"),
                );
            }
        }
    }
    if rule.resource_names.is_empty() {
        return;
    }
    for (i, verb) in rule.verbs.iter().enumerate() {
        if ["list", "watch", "create", "deletecollection"].contains(&verb.as_str()) {
            out.push(
                Diagnostic::at(with(path, &[key("verbs"), Seg::Index(i)]), format!("`{verb}` cannot be restricted by resource_names"))
                    .expected("with resource_names, verbs such as get, update, patch, delete")
                    .help(format!("move `{verb}` to a rule without resource_names (the RBAC docs: create and deletecollection requests carry no name; list and watch without a fieldSelector on metadata.name are not restricted)")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_caps() {
        assert_eq!(shown("a\nb\"c"), "a\\nb\\\"c");
        assert_eq!(shown(&"x".repeat(500)).chars().count(), 81);
    }
}
