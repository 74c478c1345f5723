//! `[access]` as Kubernetes manifests (rbac.authorization.k8s.io/v1 and core v1), one YAML
//! document per object, written by [`crate::kube::yaml`] so that every string reads back as
//! the same string under YAML 1.1 (`"on"`, `"yes"` and `"01"` stay strings).
//!
//! Every object carries the label [`MANAGED_BY`] = `bootstrap`, so a later run can find the
//! objects it applied that the profile no longer declares.

use serde_json::{Value, json};

use crate::kube::yaml::{self, YamlError};
use crate::profile::access::{Access, Binding, RoleRef, Rule, ServiceAccount};

/// The label every object applied from `[access]` carries
/// (<https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/>).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGER: &str = "bootstrap";
/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One object: its kind, namespace and name (to report and prune it) and its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `Namespace`, `ServiceAccount`, `Role`, `ClusterRole`, `RoleBinding`, `ClusterRoleBinding`.
    pub kind: &'static str,
    /// The namespace of a namespaced object.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The manifest as a JSON value.
    pub manifest: Value,
}

impl Object {
    /// `kind/name` or `kind/namespace/name`, for reports.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

fn metadata(
    name: &str,
    namespace: Option<&str>,
    extra: &std::collections::BTreeMap<String, String>,
) -> Value {
    let mut labels = serde_json::Map::new();
    for (k, v) in extra {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert(MANAGED_BY.into(), json!(MANAGER));
    let mut meta = json!({ "name": name, "labels": labels });
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

fn object(
    kind: &'static str,
    api_version: &str,
    namespace: Option<&str>,
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Object {
    Object {
        kind,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        manifest: json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": metadata(name, namespace, labels),
        }),
    }
}

/// A rule as a `PolicyRule`.
fn rule(rule: &Rule) -> Value {
    let mut out = serde_json::Map::new();
    if rule.non_resource_urls.is_empty() {
        out.insert("apiGroups".into(), json!(rule.api_groups));
        out.insert("resources".into(), json!(rule.resources));
    } else {
        out.insert("nonResourceURLs".into(), json!(rule.non_resource_urls));
    }
    if !rule.resource_names.is_empty() {
        out.insert("resourceNames".into(), json!(rule.resource_names));
    }
    out.insert("verbs".into(), json!(rule.verbs));
    Value::Object(out)
}

fn subjects(binding: &Binding) -> Value {
    let sa = |s: &ServiceAccount| json!({ "kind": "ServiceAccount", "name": s.name, "namespace": s.namespace });
    let named =
        |kind: &str, name: &str| json!({ "apiGroup": RBAC_GROUP, "kind": kind, "name": name });
    let all: Vec<Value> = (binding.users.iter().map(|u| named("User", u)))
        .chain(binding.groups.iter().map(|g| named("Group", g)))
        .chain(binding.service_accounts.iter().map(sa))
        .collect();
    json!(all)
}

/// Every object `[access]` declares, in an order that applies cleanly: namespaces, service
/// accounts, cluster roles, roles, then bindings.
pub fn objects(access: &Access) -> Vec<Object> {
    let none = std::collections::BTreeMap::new();
    let rbac = format!("{RBAC_GROUP}/v1");
    let mut out: Vec<Object> = (access.namespaces.iter())
        .map(|ns| object("Namespace", "v1", None, ns, &none))
        .collect();
    for sa in &access.service_accounts {
        out.push(object(
            "ServiceAccount",
            "v1",
            Some(&sa.namespace),
            &sa.name,
            &none,
        ));
    }
    for role in &access.cluster_roles {
        let mut o = object("ClusterRole", &rbac, None, &role.name, &role.labels);
        o.manifest["rules"] = json!(role.rules.iter().map(rule).collect::<Vec<_>>());
        if !role.aggregate_from.is_empty() {
            let selectors: Vec<Value> = role
                .aggregate_from
                .iter()
                .map(|l| json!({ "matchLabels": l }))
                .collect();
            o.manifest["aggregationRule"] = json!({ "clusterRoleSelectors": selectors });
        }
        out.push(o);
    }
    for role in &access.roles {
        let mut o = object("Role", &rbac, Some(&role.namespace), &role.name, &none);
        o.manifest["rules"] = json!(role.rules.iter().map(rule).collect::<Vec<_>>());
        out.push(o);
    }
    for binding in &access.bindings {
        let kind = if binding.namespace.is_some() {
            "RoleBinding"
        } else {
            "ClusterRoleBinding"
        };
        let mut o = object(
            kind,
            &rbac,
            binding.namespace.as_deref(),
            &binding.name,
            &none,
        );
        let (ref_kind, ref_name) = match binding.role_ref() {
            RoleRef::Role(n) => ("Role", n),
            RoleRef::ClusterRole(n) => ("ClusterRole", n),
        };
        o.manifest["roleRef"] =
            json!({ "apiGroup": RBAC_GROUP, "kind": ref_kind, "name": ref_name });
        o.manifest["subjects"] = subjects(binding);
        out.push(o);
    }
    out
}

/// The manifests as one multi-document YAML text (documents separated by `---`).
pub fn render(objects: &[Object]) -> Result<String, YamlError> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&yaml::to_string(&object.manifest)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::access::parse_access as access;

    #[test]
    fn objects_in_apply_order_with_subjects_and_role_refs() {
        let a = access(
            "[access]\nnamespaces = [\"ns1\"]\nservice_accounts = [{ namespace = \"ns1\", name = \"pipeline\" }]\n[[access.roles]]\nname = \"deployer\"\nnamespace = \"ns1\"\nrules = [{ api_groups = [\"apps\"], resources = [\"deployments\"], verbs = [\"create\", \"delete\"] }]\n[[access.bindings]]\nname = \"b\"\nnamespace = \"ns1\"\nrole = \"deployer\"\nservice_accounts = [{ namespace = \"ns1\", name = \"pipeline\" }]\nusers = [\"on\"]\n",
        );
        let objs = objects(&a);
        let ids: Vec<String> = objs.iter().map(Object::id).collect();
        assert_eq!(
            ids,
            [
                "Namespace/ns1",
                "ServiceAccount/ns1/pipeline",
                "Role/ns1/deployer",
                "RoleBinding/ns1/b"
            ]
        );
        let yaml = render(&objs).unwrap();
        assert!(
            yaml.contains("  name: \"on\"\n"),
            "YAML 1.1 boolean word quoted:\n{yaml}"
        );
        assert!(
            yaml.contains(
                "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: deployer\n"
            ),
            "{yaml}"
        );
        assert_eq!(
            yaml.matches("app.kubernetes.io/managed-by: bootstrap")
                .count(),
            4
        );
    }
}
