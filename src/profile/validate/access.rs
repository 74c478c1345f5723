//! `[access]`: names, duplicates and references. What the RBAC documentation
//! (<https://kubernetes.io/docs/reference/access-authn-authz/rbac/>) says is wrong is
//! refused: a ClusterRoleBinding can only reference a ClusterRole; a RoleBinding may
//! reference a Role in its own namespace or a ClusterRole (granting its rules in the
//! binding's namespace only), so `role = "X"` where X is a ClusterRole (declared or built
//! in) is the mistake, as is a reference to a role that is neither declared nor built in.

use std::collections::{HashMap, HashSet};

use super::access_rules::{
    check_namespace_name, check_rbac_name, check_rule, check_subdomain, check_subject_name, shown,
};
use crate::profile::Profile;
use crate::profile::access::{Access, Binding, RoleRef};
use crate::profile::diagnostic::{Diagnostic, suggest};
use crate::profile::locate::Seg;

/// The cluster roles every cluster has ("Default roles and role bindings" of the RBAC
/// docs): the user-facing roles and the `system:` roles the API server reconciles.
pub const BUILTIN_CLUSTER_ROLES: [&str; 19] = [
    "cluster-admin",
    "admin",
    "edit",
    "view",
    "system:basic-user",
    "system:discovery",
    "system:public-info-viewer",
    "system:auth-delegator",
    "system:heapster",
    "system:kube-aggregator",
    "system:kube-controller-manager",
    "system:kube-dns",
    "system:kube-scheduler",
    "system:kubelet-api-admin",
    "system:monitoring",
    "system:node",
    "system:node-bootstrapper",
    "system:node-problem-detector",
    "system:persistent-volume-provisioner",
];

/// Namespaces every cluster has.
pub const BUILTIN_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

fn path(parts: &[Seg]) -> Vec<Seg> {
    let mut out = vec![Seg::Key("access".into())];
    out.extend_from_slice(parts);
    out
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// Every check on `[access]`.
pub(super) fn validate(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let Some(access) = &profile.access else {
        return;
    };
    check_namespaces(access, out);
    check_service_accounts(access, out);
    check_roles(access, out);
    let declared: HashSet<&str> = access
        .cluster_roles
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let mut seen = HashSet::new();
    for (i, binding) in access.bindings.iter().enumerate() {
        let at = path(&[key("bindings"), Seg::Index(i)]);
        check_rbac_name(with(&at, "name"), "binding", &binding.name, out);
        if !seen.insert((binding.namespace.clone(), binding.name.clone())) {
            out.push(duplicate(
                with(&at, "name"),
                "binding",
                &binding.name,
                binding.namespace.as_deref(),
            ));
        }
        if let Some(ns) = &binding.namespace {
            check_known_namespace(with(&at, "namespace"), access, ns, out);
        }
        check_role_ref(&at, access, &declared, binding, out);
        check_subjects(&at, access, binding, out);
    }
}

fn with(at: &[Seg], k: &str) -> Vec<Seg> {
    let mut out = at.to_vec();
    out.push(key(k));
    out
}

fn duplicate(at: Vec<Seg>, what: &str, name: &str, namespace: Option<&str>) -> Diagnostic {
    let place = namespace.map_or(String::new(), |ns| format!(" in namespace `{}`", shown(ns)));
    Diagnostic::at(
        at,
        format!("{what} `{}`{place} is declared twice", shown(name)),
    )
    .expected(format!(
        "each {what} name once{}",
        if namespace.is_some() {
            " per namespace"
        } else {
            ""
        }
    ))
    .help("remove one of them, or merge their contents")
}

fn check_namespaces(access: &Access, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for (i, ns) in access.namespaces.iter().enumerate() {
        let at = path(&[key("namespaces"), Seg::Index(i)]);
        check_namespace_name(at.clone(), ns, out);
        if !seen.insert(ns) {
            out.push(duplicate(at, "namespace", ns, None));
        } else if BUILTIN_NAMESPACES.contains(&ns.as_str()) {
            out.push(
                Diagnostic::at(at, format!("namespace `{ns}` exists in every cluster"))
                    .expected("namespaces to create, other than default, kube-system, kube-public, kube-node-lease")
                    .help("remove it from access.namespaces (objects may still name it)"),
            );
        }
    }
}

/// A namespace an object lives in must be declared or built in, or applying fails.
fn check_known_namespace(at: Vec<Seg>, access: &Access, ns: &str, out: &mut Vec<Diagnostic>) {
    if access.namespaces.iter().any(|n| n == ns) || BUILTIN_NAMESPACES.contains(&ns) {
        return;
    }
    check_namespace_name(at.clone(), ns, out);
    let near = suggest(ns, access.namespaces.iter().map(String::as_str));
    out.push(
        Diagnostic::at(
            at,
            format!("namespace `{}` is neither declared nor built in", shown(ns)),
        )
        .expected(format!(
            "one of access.namespaces or {}",
            BUILTIN_NAMESPACES.join(", ")
        ))
        .help(near.map_or_else(
            || format!("add \"{}\" to access.namespaces", shown(ns)),
            |n| format!("did you mean \"{n}\"? otherwise add it to access.namespaces"),
        )),
    );
}

fn check_service_accounts(access: &Access, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for (i, sa) in access.service_accounts.iter().enumerate() {
        let at = path(&[key("service_accounts"), Seg::Index(i)]);
        check_subdomain(with(&at, "name"), "service account name", &sa.name, out);
        check_known_namespace(with(&at, "namespace"), access, &sa.namespace, out);
        if !seen.insert((&sa.namespace, &sa.name)) {
            out.push(duplicate(
                with(&at, "name"),
                "service account",
                &sa.name,
                Some(&sa.namespace),
            ));
        }
    }
}

fn check_roles(access: &Access, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for (i, role) in access.roles.iter().enumerate() {
        let at = path(&[key("roles"), Seg::Index(i)]);
        check_rbac_name(with(&at, "name"), "role", &role.name, out);
        check_known_namespace(with(&at, "namespace"), access, &role.namespace, out);
        if !seen.insert((&role.namespace, &role.name)) {
            out.push(duplicate(
                with(&at, "name"),
                "role",
                &role.name,
                Some(&role.namespace),
            ));
        }
        for (j, rule) in role.rules.iter().enumerate() {
            check_rule(
                &[at.clone(), vec![key("rules"), Seg::Index(j)]].concat(),
                rule,
                true,
                out,
            );
        }
    }
    let mut seen = HashSet::new();
    for (i, role) in access.cluster_roles.iter().enumerate() {
        let at = path(&[key("cluster_roles"), Seg::Index(i)]);
        check_rbac_name(with(&at, "name"), "cluster role", &role.name, out);
        if !seen.insert(&role.name) {
            out.push(duplicate(
                with(&at, "name"),
                "cluster role",
                &role.name,
                None,
            ));
        } else if BUILTIN_CLUSTER_ROLES.contains(&role.name.as_str())
            || role.name.starts_with("system:")
        {
            out.push(
                Diagnostic::at(with(&at, "name"), format!("`{}` is a built-in cluster role", shown(&role.name)))
                    .expected("a name of your own (the API server reconciles built-in roles)")
                    .help("give it another name; to extend a built-in role, label yours with rbac.authorization.k8s.io/aggregate-to-view (or -edit, -admin) = \"true\""),
            );
        }
        if !role.aggregate_from.is_empty() && !role.rules.is_empty() {
            out.push(
                Diagnostic::at(
                    with(&at, "rules"),
                    "an aggregated cluster role's rules are replaced by the aggregation controller",
                )
                .expected("either rules or aggregate_from")
                .help("move these rules into a cluster role whose labels aggregate_from selects"),
            );
        }
        for (j, labels) in role.aggregate_from.iter().enumerate() {
            if labels.is_empty() {
                out.push(
                    Diagnostic::at(
                        [at.clone(), vec![key("aggregate_from"), Seg::Index(j)]].concat(),
                        "an empty label selector matches every cluster role",
                    )
                    .expected(
                        "labels such as { \"example.com/aggregate-to-monitoring\" = \"true\" }",
                    )
                    .help("name the label the cluster roles to aggregate carry"),
                );
            }
        }
        for (j, rule) in role.rules.iter().enumerate() {
            check_rule(
                &[at.clone(), vec![key("rules"), Seg::Index(j)]].concat(),
                rule,
                false,
                out,
            );
        }
    }
}

/// The role a binding references: exactly one of `role`/`cluster_role`; a Role only from
/// a RoleBinding and in its namespace; a ClusterRole declared or built in.
fn check_role_ref(
    at: &[Seg],
    access: &Access,
    declared: &HashSet<&str>,
    binding: &Binding,
    out: &mut Vec<Diagnostic>,
) {
    let cluster_role_known =
        |name: &str| declared.contains(name) || BUILTIN_CLUSTER_ROLES.contains(&name);
    if binding.role.is_some() == binding.cluster_role.is_some() {
        out.push(
            Diagnostic::at(
                at.to_vec(),
                format!(
                    "binding `{}` needs exactly one of `role` and `cluster_role`",
                    shown(&binding.name)
                ),
            )
            .expected(
                "role = \"NAME\" (a Role in the binding's namespace) or cluster_role = \"NAME\"",
            )
            .help("keep the one this binding grants"),
        );
        return;
    }
    match (binding.role_ref(), &binding.namespace) {
        (RoleRef::Role(name), None) => {
            let fix = if cluster_role_known(name) {
                format!("write cluster_role = \"{}\"", shown(name))
            } else {
                "add namespace = \"NS\" to make it a RoleBinding, or reference a cluster role"
                    .to_string()
            };
            out.push(
                Diagnostic::at(with(at, "role"), "a cluster-wide binding (ClusterRoleBinding, no namespace) can only reference a ClusterRole")
                    .expected("cluster_role = \"NAME\" without namespace, or role = \"NAME\" with namespace")
                    .help(fix),
            );
        }
        (RoleRef::Role(name), Some(ns)) => {
            check_role_in_namespace(at, access, &cluster_role_known, name, ns, out)
        }
        (RoleRef::ClusterRole(name), _) => {
            check_cluster_role(at, access, declared, &cluster_role_known, name, out)
        }
    }
}

/// `role = NAME` in a RoleBinding: a Role declared in the binding's namespace.
fn check_role_in_namespace(
    at: &[Seg],
    access: &Access,
    cluster_role_known: &dyn Fn(&str) -> bool,
    name: &str,
    ns: &str,
    out: &mut Vec<Diagnostic>,
) {
    if access
        .roles
        .iter()
        .any(|r| r.name == name && r.namespace == ns)
    {
        return;
    }
    let elsewhere = access
        .roles
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.namespace.clone());
    let (msg, help) = if cluster_role_known(name) {
        (
            format!("`{}` is a ClusterRole, not a Role", shown(name)),
            format!(
                "write cluster_role = \"{}\" (a RoleBinding may reference a ClusterRole; it grants in `{}` only)",
                shown(name),
                shown(ns)
            ),
        )
    } else if let Some(other) = elsewhere {
        (format!("role `{}` is declared in namespace `{}`, not `{}`", shown(name), shown(&other), shown(ns)), "a RoleBinding references a Role of its own namespace only: declare the role in this namespace too".to_string())
    } else {
        let names = access
            .roles
            .iter()
            .filter(|r| r.namespace == ns)
            .map(|r| r.name.as_str());
        (
            format!(
                "role `{}` is not declared in namespace `{}`",
                shown(name),
                shown(ns)
            ),
            suggest(name, names).map_or("declare it in access.roles".to_string(), |n| {
                format!("did you mean \"{n}\"?")
            }),
        )
    };
    out.push(
        Diagnostic::at(with(at, "role"), msg)
            .expected(format!(
                "a Role declared in access.roles with namespace = \"{}\"",
                shown(ns)
            ))
            .help(help),
    );
}

/// `cluster_role = NAME`: declared or built in.
fn check_cluster_role(
    at: &[Seg],
    access: &Access,
    declared: &HashSet<&str>,
    cluster_role_known: &dyn Fn(&str) -> bool,
    name: &str,
    out: &mut Vec<Diagnostic>,
) {
    if cluster_role_known(name) {
        return;
    }
    let candidates = declared.iter().copied().chain(BUILTIN_CLUSTER_ROLES);
    let help = if access.roles.iter().any(|r| r.name == name) {
        format!(
            "`{}` is a Role: write role = \"{}\" with the role's namespace",
            shown(name),
            shown(name)
        )
    } else {
        suggest(name, candidates).map_or("declare it in access.cluster_roles".to_string(), |n| {
            format!("did you mean \"{n}\"?")
        })
    };
    out.push(
                Diagnostic::at(with(at, "cluster_role"), format!("cluster role `{}` is neither declared nor built in", shown(name)))
                    .expected("a name from access.cluster_roles or a built-in role (view, edit, admin, cluster-admin, system:...)")
                    .help(help),
            );
}

/// Subjects: at least one; users and groups well formed; service accounts declared (or
/// the namespace's `default`).
fn check_subjects(at: &[Seg], access: &Access, binding: &Binding, out: &mut Vec<Diagnostic>) {
    if binding.users.is_empty() && binding.groups.is_empty() && binding.service_accounts.is_empty()
    {
        out.push(
            Diagnostic::at(at.to_vec(), format!("binding `{}` grants nobody", shown(&binding.name)))
                .expected("users, groups or service_accounts")
                .help("add users = [\"jane\"], groups = [\"manager\"] or service_accounts = [{ namespace = \"ns1\", name = \"pipeline\" }]"),
        );
    }
    let mut seen: HashMap<(&str, &str), ()> = HashMap::new();
    for (field, names) in [("users", &binding.users), ("groups", &binding.groups)] {
        for (i, name) in names.iter().enumerate() {
            let p = [at.to_vec(), vec![key(field), Seg::Index(i)]].concat();
            check_subject_name(p.clone(), field.trim_end_matches('s'), name, out);
            if seen.insert((field, name), ()).is_some() {
                out.push(
                    Diagnostic::at(
                        p,
                        format!(
                            "{} `{}` is listed twice",
                            field.trim_end_matches('s'),
                            shown(name)
                        ),
                    )
                    .expected("each subject once")
                    .help("remove the repeat"),
                );
            }
        }
    }
    for (i, sa) in binding.service_accounts.iter().enumerate() {
        let p = [at.to_vec(), vec![key("service_accounts"), Seg::Index(i)]].concat();
        let declared = access.service_accounts.iter().any(|s| s == sa);
        if !declared && sa.name != "default" {
            check_subdomain(with(&p, "name"), "service account name", &sa.name, out);
            out.push(
                Diagnostic::at(
                    with(&p, "name"),
                    format!(
                        "service account `{}` in `{}` is not declared",
                        shown(&sa.name),
                        shown(&sa.namespace)
                    ),
                )
                .expected(
                    "a service account from access.service_accounts (or a namespace's `default`)",
                )
                .help(format!(
                    "add {{ namespace = \"{}\", name = \"{}\" }} to access.service_accounts",
                    shown(&sa.namespace),
                    shown(&sa.name)
                )),
            );
        } else if !declared {
            check_known_namespace(with(&p, "namespace"), access, &sa.namespace, out);
        }
    }
}
