//! The `kubectl auth can-i` checks that prove `[access]` took effect: every permission a
//! binding grants (each verb on each resource of each rule of the role it references,
//! in the binding's namespace or in all namespaces), and some that must be denied (the
//! same verb in a namespace no binding grants, `delete` where only reading is granted).
//! A check knows the binding and the rule it comes from, so a failure can name them.
//!
//! `kubectl auth can-i VERB RESOURCE[.GROUP][/NAME] [--subresource S] --as USER
//! [--as-group G] (-n NS | --all-namespaces)` answers `yes` (exit 0) or `no` (exit 1)
//! (<https://kubernetes.io/docs/reference/kubectl/generated/kubectl_auth/kubectl_auth_can-i/>);
//! a service account is the user `system:serviceaccount:NS:NAME` in the groups
//! `system:serviceaccounts` and `system:serviceaccounts:NS`
//! (<https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-subjects>).

use crate::profile::access::{Access, Binding, RoleRef, Rule};

/// Who a check asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user.
    User(String),
    /// A group (asked as the user `bootstrap:can-i` in that group).
    Group(String),
    /// A service account: namespace and name.
    ServiceAccount(String, String),
}

/// The user a group check impersonates alongside `--as-group`.
pub const GROUP_PROBE_USER: &str = "bootstrap:can-i";

impl Subject {
    /// `--as` (and `--as-group`) arguments.
    pub fn args(&self) -> Vec<String> {
        match self {
            Subject::User(u) => vec!["--as".into(), u.clone()],
            Subject::Group(g) => vec![
                "--as".into(),
                GROUP_PROBE_USER.into(),
                "--as-group".into(),
                g.clone(),
            ],
            Subject::ServiceAccount(ns, n) => {
                vec!["--as".into(), format!("system:serviceaccount:{ns}:{n}")]
            }
        }
    }

    /// The groups RBAC sees the subject in, for the agent's own conservative guess at
    /// what may grant a permission.
    fn groups(&self) -> Vec<String> {
        let mut out = vec!["system:authenticated".to_string()];
        match self {
            Subject::Group(g) => out.push(g.clone()),
            Subject::ServiceAccount(ns, _) => {
                out.push("system:serviceaccounts".into());
                out.push(format!("system:serviceaccounts:{ns}"));
            }
            Subject::User(_) => {}
        }
        out
    }

    fn named_by(&self, b: &Binding) -> bool {
        let groups = self.groups();
        b.groups.iter().any(|g| groups.contains(g))
            || match self {
                Subject::User(u) => b.users.contains(u),
                Subject::Group(_) => false,
                Subject::ServiceAccount(ns, n) => b
                    .service_accounts
                    .iter()
                    .any(|s| &s.namespace == ns && &s.name == n),
            }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User(u) => write!(f, "user {u}"),
            Subject::Group(g) => write!(f, "group {g}"),
            Subject::ServiceAccount(ns, n) => write!(f, "service account {ns}/{n}"),
        }
    }
}

/// One `kubectl auth can-i` question and the answer the profile implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The verb.
    pub verb: String,
    /// `RESOURCE[.GROUP][/NAME]`, or a non-resource URL.
    pub resource: String,
    /// The subresource (`log` of `pods/log`).
    pub subresource: Option<String>,
    /// The namespace; `None` asks about all namespaces (or a URL).
    pub namespace: Option<String>,
    /// Who is asked about.
    pub subject: Subject,
    /// Whether the answer must be yes.
    pub allowed: bool,
    /// The binding and rule the check comes from.
    pub because: String,
}

impl Check {
    /// The arguments after `kubectl`.
    pub fn args(&self) -> Vec<String> {
        let mut out = vec![
            "auth".into(),
            "can-i".into(),
            self.verb.clone(),
            self.resource.clone(),
        ];
        if let Some(sub) = &self.subresource {
            out.extend(["--subresource".into(), sub.clone()]);
        }
        out.extend(self.subject.args());
        match (&self.namespace, self.resource.starts_with('/')) {
            (_, true) => {}
            (Some(ns), false) => out.extend(["-n".into(), ns.clone()]),
            (None, false) => out.push("--all-namespaces".into()),
        }
        out
    }

    /// One line: `may|must not VERB RESOURCE in NS as SUBJECT`.
    pub fn describe(&self) -> String {
        let sub = self
            .subresource
            .as_deref()
            .map(|s| format!("/{s}"))
            .unwrap_or_default();
        let place = match (&self.namespace, self.resource.starts_with('/')) {
            (_, true) => String::new(),
            (Some(ns), _) => format!(" in namespace {ns}"),
            (None, _) => " in all namespaces".into(),
        };
        let may = if self.allowed { "may" } else { "must not" };
        format!(
            "{} {may} {} {}{sub}{place}",
            self.subject, self.verb, self.resource
        )
    }
}

/// Representative permissions of the built-in user-facing roles ("User-facing roles" of
/// the RBAC docs): `view` reads, `edit` writes workloads, `admin` also manages
/// RoleBindings, `cluster-admin` may do anything.
fn builtin_rules(name: &str) -> Vec<Rule> {
    let r = |group: &str, resource: &str, verb: &str| Rule {
        api_groups: vec![group.into()],
        resources: vec![resource.into()],
        verbs: vec![verb.into()],
        ..Rule::default()
    };
    match name {
        "view" => vec![r("", "pods", "get"), r("apps", "deployments", "list")],
        "edit" => vec![r("apps", "deployments", "create"), r("", "pods", "delete")],
        "admin" => vec![r("rbac.authorization.k8s.io", "rolebindings", "create")],
        "cluster-admin" => vec![r("*", "*", "*")],
        _ => Vec::new(),
    }
}

/// The rules the binding's role holds, and how to name the role.
fn role_rules(access: &Access, b: &Binding) -> (String, Vec<Rule>) {
    match b.role_ref() {
        RoleRef::Role(name) => {
            let ns = b.namespace.clone().unwrap_or_default();
            let rules = (access.roles.iter())
                .find(|r| r.name == name && r.namespace == ns)
                .map(|r| r.rules.clone())
                .unwrap_or_default();
            (format!("Role {ns}/{name}"), rules)
        }
        RoleRef::ClusterRole(name) => {
            let rules = match access.cluster_roles.iter().find(|r| r.name == name) {
                Some(r) => r.rules.clone(),
                None => builtin_rules(name),
            };
            (format!("ClusterRole {name}"), rules)
        }
    }
}

fn subjects(b: &Binding) -> Vec<Subject> {
    (b.users.iter().map(|u| Subject::User(u.clone())))
        .chain(b.groups.iter().map(|g| Subject::Group(g.clone())))
        .chain(
            b.service_accounts
                .iter()
                .map(|s| Subject::ServiceAccount(s.namespace.clone(), s.name.clone())),
        )
        .collect()
}

/// `(resource argument, subresource)` pairs of a rule's resource part.
fn targets(rule: &Rule) -> Vec<(String, Option<String>)> {
    if !rule.non_resource_urls.is_empty() {
        return rule
            .non_resource_urls
            .iter()
            .map(|u| (u.clone(), None))
            .collect();
    }
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            let (res, sub) = match resource.split_once('/') {
                Some((r, s)) => (r.to_string(), Some(s.to_string())),
                None => (resource.clone(), None),
            };
            let qualified = if group.is_empty() || group == "*" || res == "*" {
                res
            } else {
                format!("{res}.{group}")
            };
            if rule.resource_names.is_empty() {
                out.push((qualified.clone(), sub.clone()));
            }
            for name in &rule.resource_names {
                out.push((format!("{qualified}/{name}"), sub.clone()));
            }
        }
    }
    out
}

fn binding_name(b: &Binding) -> String {
    match &b.namespace {
        Some(ns) => format!("RoleBinding {ns}/{}", b.name),
        None => format!("ClusterRoleBinding {}", b.name),
    }
}

/// Every permission the bindings grant, then the denials, without repeats.
pub fn checks(access: &Access) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::new();
    let mut push = |c: Check| {
        if !out.iter().any(|o| o.args() == c.args()) {
            out.push(c);
        }
    };
    for b in &access.bindings {
        let (role, rules) = role_rules(access, b);
        let mut first: Option<Check> = None;
        for (i, rule) in rules.iter().enumerate() {
            // Non-resource URLs are granted only through a ClusterRoleBinding.
            if !rule.non_resource_urls.is_empty() && b.namespace.is_some() {
                continue;
            }
            for subject in subjects(b) {
                for (resource, subresource) in targets(rule) {
                    for verb in &rule.verbs {
                        let check = Check {
                            verb: verb.clone(),
                            resource: resource.clone(),
                            subresource: subresource.clone(),
                            namespace: b.namespace.clone(),
                            subject: subject.clone(),
                            allowed: true,
                            because: format!("{}, rule {} of {role}", binding_name(b), i + 1),
                        };
                        if first.is_none() && !resource.starts_with('/') {
                            first = Some(check.clone());
                        }
                        push(check);
                    }
                }
            }
        }
        if let Some(first) = first {
            for denial in denials(access, b, &first) {
                push(denial);
            }
        }
    }
    out
}

/// Checks that must be denied, derived from `first`: the same question in a namespace no
/// binding of the subject covers (RoleBindings), and `delete` where it is not granted.
fn denials(access: &Access, b: &Binding, first: &Check) -> Vec<Check> {
    let mut out = Vec::new();
    let because = format!("{} grants nothing more", binding_name(b));
    if b.namespace.is_some() {
        let candidates = access
            .namespaces
            .iter()
            .map(String::as_str)
            .chain(["default", "kube-system"]);
        for ns in candidates {
            let probe = Check {
                namespace: Some(ns.to_string()),
                allowed: false,
                because: because.clone(),
                ..first.clone()
            };
            if !may_grant(access, &probe) {
                out.push(probe);
                break;
            }
        }
    }
    let probe = Check {
        verb: "delete".into(),
        allowed: false,
        because,
        ..first.clone()
    };
    if !may_grant(access, &probe) {
        out.push(probe);
    }
    out
}

fn covers(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// Whether any binding in the profile could grant `check` (conservative: unknown roles
/// and aggregated roles may grant anything; `view` grants only reading).
fn may_grant(access: &Access, check: &Check) -> bool {
    let (resource, group) = match check
        .resource
        .split('/')
        .next()
        .unwrap_or("")
        .split_once('.')
    {
        Some((r, g)) => (r.to_string(), g.to_string()),
        None => (
            check.resource.split('/').next().unwrap_or("").to_string(),
            String::new(),
        ),
    };
    let resource = match &check.subresource {
        Some(s) => format!("{resource}/{s}"),
        None => resource,
    };
    access.bindings.iter().filter(|b| check.subject.named_by(b)).any(|b| {
        if b.namespace.is_some() && b.namespace != check.namespace {
            return false;
        }
        let (_, rules) = role_rules(access, b);
        let aggregated = matches!(b.role_ref(), RoleRef::ClusterRole(n) if access.cluster_roles.iter().any(|r| r.name == n && !r.aggregate_from.is_empty()));
        match b.role_ref() {
            RoleRef::ClusterRole("view") => ["get", "list", "watch"].contains(&check.verb.as_str()),
            RoleRef::ClusterRole(n) if rules.is_empty() || aggregated || ["edit", "admin"].contains(&n) => true,
            _ => rules.iter().any(|r| {
                covers(&r.verbs, &check.verb)
                    && covers(&r.resources, &resource)
                    && (covers(&r.api_groups, &group) || group.is_empty())
            }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::access::parse_access as access;

    #[test]
    fn role_binding_checks_and_denials() {
        let a = access(
            "[access]\nnamespaces = [\"ns1\", \"ns2\"]\nservice_accounts = [{ namespace = \"ns1\", name = \"pipeline\" }]\n[[access.roles]]\nname = \"deployer\"\nnamespace = \"ns1\"\nrules = [{ api_groups = [\"apps\"], resources = [\"deployments\"], verbs = [\"create\"] }]\n[[access.bindings]]\nname = \"b\"\nnamespace = \"ns1\"\nrole = \"deployer\"\nservice_accounts = [{ namespace = \"ns1\", name = \"pipeline\" }]\n",
        );
        let all = checks(&a);
        let lines: Vec<String> = all.iter().map(|c| c.args().join(" ")).collect();
        assert_eq!(
            lines,
            [
                "auth can-i create deployments.apps --as system:serviceaccount:ns1:pipeline -n ns1",
                "auth can-i create deployments.apps --as system:serviceaccount:ns1:pipeline -n ns2",
                "auth can-i delete deployments.apps --as system:serviceaccount:ns1:pipeline -n ns1",
            ]
        );
        assert!(all[0].allowed && !all[1].allowed && !all[2].allowed);
        assert!(
            all[0]
                .because
                .contains("RoleBinding ns1/b, rule 1 of Role ns1/deployer"),
            "{}",
            all[0].because
        );
    }
}
