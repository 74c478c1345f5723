//! `[access]`: the RBAC objects the first control plane creates once the API server
//! answers: namespaces, service accounts, roles and cluster roles, and bindings of a role
//! or cluster role to users, groups and service accounts (the objects of
//! <https://kubernetes.io/docs/reference/access-authn-authz/rbac/>).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[access]` section. Optional: without it no RBAC object is made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// Delete objects this agent applied earlier that the profile no longer declares
    /// (otherwise they are only reported).
    #[serde(default)]
    pub prune: bool,
    /// Namespaces to create.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Service accounts to create.
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    /// Roles (namespaced).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Cluster roles.
    #[serde(default)]
    pub cluster_roles: Vec<ClusterRole>,
    /// Bindings: a RoleBinding with `namespace`, a ClusterRoleBinding without.
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

/// A service account in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
}

/// A Role: rules that apply in its namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// What it allows.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A ClusterRole: rules for any namespace, cluster-scoped resources and non-resource URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterRole {
    /// Its name.
    pub name: String,
    /// Labels, e.g. `"rbac.authorization.k8s.io/aggregate-to-view" = "true"` to add its
    /// rules to the built-in `view` role.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What it allows (left empty when `aggregate_from` is set: the controller fills it).
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// An aggregated role: the rules of every ClusterRole whose labels match one of these
    /// label sets (`aggregationRule.clusterRoleSelectors[].matchLabels`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregate_from: Vec<BTreeMap<String, String>>,
}

/// One rule of a role (`PolicyRule`): verbs on resources of API groups, optionally only
/// the named objects, or verbs on non-resource URLs (cluster roles only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// API groups (`""` is the core group, `"apps"`, `"*"` any).
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/log`, `*`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Verbs (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, `*`, and the special `use`, `bind`, `escalate`, `impersonate`,
    /// `approve`, `sign`).
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Only these objects by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/healthz`, `/metrics`, `/logs/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// A binding of a role or cluster role to subjects: a RoleBinding when `namespace` is
/// set (granting in that namespace only), a ClusterRoleBinding otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Its name.
    pub name: String,
    /// The namespace of a RoleBinding; absent for a ClusterRoleBinding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A Role in the binding's namespace (RoleBinding only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A ClusterRole (declared here or built in: `view`, `edit`, `admin`, `cluster-admin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_role: Option<String>,
    /// User names (the CN of a client certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Group names (the O of a client certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Service accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccount>,
}

/// What a binding refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleRef<'a> {
    /// A Role by name.
    Role(&'a str),
    /// A ClusterRole by name.
    ClusterRole(&'a str),
}

impl Binding {
    /// The role it refers to (a ClusterRole when both or neither are set; validation
    /// refuses those).
    pub fn role_ref(&self) -> RoleRef<'_> {
        match (&self.role, &self.cluster_role) {
            (Some(role), None) => RoleRef::Role(role),
            (_, cluster) => RoleRef::ClusterRole(cluster.as_deref().unwrap_or("")),
        }
    }
}
