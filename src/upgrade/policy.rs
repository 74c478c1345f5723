//! The upgrade policy, checked before anything changes: pure, over the versions observed.
//!
//! The rules are the Kubernetes version-skew policy
//! (<https://kubernetes.io/releases/version-skew-policy/>, kubernetes/website
//! `content/en/releases/version-skew-policy.md`) and kubeadm's own
//! (`cmd/kubeadm/app/phases/upgrade/policy.go`, `EnforceVersionPolicies`): no downgrade, one
//! minor at a time, the kubelet never newer than the API server. See docs/upgrade.md.

use crate::values::KubeVersion;

/// Which part of the upgrade this node does, from the profile's role and kubeadm mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// The init node: `kubeadm upgrade apply` upgrades the cluster's control plane.
    FirstControlPlane,
    /// A control plane that joined: `kubeadm upgrade node`, after the first.
    OtherControlPlane,
    /// A worker: `kubeadm upgrade node`, after every control plane.
    Worker,
}

impl NodeKind {
    /// How the plan names it.
    pub fn describe(self) -> &'static str {
        match self {
            NodeKind::FirstControlPlane => {
                "first control plane (kubeadm.mode = \"init\"): `kubeadm upgrade apply`"
            }
            NodeKind::OtherControlPlane => {
                "other control plane (kubeadm.mode = \"join\"): `kubeadm upgrade node`"
            }
            NodeKind::Worker => "worker: `kubeadm upgrade node`",
        }
    }

    /// Whether the node runs a control plane (backed up before its kubeadm upgrade).
    pub fn control_plane(self) -> bool {
        self != NodeKind::Worker
    }
}

/// The versions observed on this node and its cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    /// The installed kubeadm.
    pub kubeadm: Option<KubeVersion>,
    /// The installed kubelet.
    pub kubelet: Option<KubeVersion>,
    /// The installed kubectl.
    pub kubectl: Option<KubeVersion>,
    /// The API server's `/version`, read with this node's kubeconfig.
    pub api_server: Option<KubeVersion>,
}

/// The minors between `from` and `to`, exclusive (`1.33` → `1.35`: `1.34`).
fn between(from: KubeVersion, to: KubeVersion) -> String {
    (from.minor + 1..to.minor)
        .map(|m| format!("{}.{m}", from.major))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `to` is more than one minor after `from` (or another major).
fn skips(from: KubeVersion, to: KubeVersion) -> bool {
    to.major != from.major || to.minor > from.minor + 1
}

/// Every rule `target` breaks on a node of `kind` with `versions`; empty when the upgrade
/// (or the rest of it, after an interrupted run) may go ahead.
pub fn check(kind: NodeKind, versions: &Versions, target: KubeVersion) -> Vec<String> {
    let mut out = Vec::new();
    let Some(kubelet) = versions.kubelet else {
        out.push("the kubelet is not installed: this node is not a cluster member to upgrade (set it up with `bootstrap apply`)".to_string());
        return out;
    };
    let Some(api) = versions.api_server else {
        out.push("the API server's version could not be read, so the version-skew policy cannot be checked: is the control plane up, and this node's kubeconfig valid?".to_string());
        return out;
    };
    for (name, installed) in [
        ("kubeadm", versions.kubeadm),
        ("kubelet", Some(kubelet)),
        ("kubectl", versions.kubectl),
    ] {
        if let Some(v) = installed
            && target < v
        {
            out.push(format!(
                "kubernetes.version {target} is older than the installed {name} {v}: Kubernetes does not support downgrades (version-skew policy); set kubernetes.version to {v} or newer"
            ));
        }
    }
    if target < api {
        out.push(format!(
            "kubernetes.version {target} is older than the API server ({api}): downgrades are not supported; set kubernetes.version to {api}"
        ));
    }
    if target > kubelet && skips(kubelet, target) {
        out.push(format!(
            "kubernetes.version {target} skips {} (the kubelet here is {kubelet}): upgrades go one minor at a time (version-skew policy; kubeadm refuses more); upgrade the cluster to the latest {}.{}.x first",
            between(kubelet, target),
            kubelet.major,
            kubelet.minor + 1
        ));
    } else if kind == NodeKind::FirstControlPlane && target > api && skips(api, target) {
        out.push(format!(
            "kubernetes.version {target} skips {} (the control plane runs {api}): kubeadm upgrades the control plane one minor at a time",
            between(api, target)
        ));
    }
    if kind != NodeKind::FirstControlPlane && target > api {
        out.push(format!(
            "the API server runs {api}, older than kubernetes.version {target}: this node would go ahead of the control plane (a kubelet is never newer than the API server, version-skew policy); upgrade the first control plane (`bootstrap upgrade apply` there) first"
        ));
    }
    if api > target && api.minor > kubelet.minor + 3 {
        out.push(format!(
            "the kubelet {kubelet} is more than three minors older than the API server {api}, outside the version-skew policy"
        ));
    }
    out
}

/// Whether the node is already at `target` (installed binaries, and for the first control
/// plane the API server).
pub fn done(versions: &Versions, target: KubeVersion) -> bool {
    [versions.kubeadm, versions.kubelet, versions.kubectl]
        .iter()
        .all(|v| *v == Some(target))
        && versions.api_server.is_some_and(|a| a >= target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    fn at(all: &str, api: &str) -> Versions {
        Versions {
            kubeadm: Some(v(all)),
            kubelet: Some(v(all)),
            kubectl: Some(v(all)),
            api_server: Some(v(api)),
        }
    }

    #[test]
    fn next_minor_on_the_first_control_plane_is_allowed() {
        let found = check(
            NodeKind::FirstControlPlane,
            &at("1.34.3", "1.34.3"),
            v("1.35.2"),
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn skipped_minor_names_the_intermediate() {
        let found = check(
            NodeKind::FirstControlPlane,
            &at("1.33.1", "1.33.1"),
            v("1.35.0"),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("skips 1.34"), "{found:?}");
        assert!(found[0].contains("latest 1.34.x first"), "{found:?}");
        let found = check(NodeKind::Worker, &at("1.31.1", "1.35.0"), v("1.35.0"));
        assert!(found[0].contains("skips 1.32, 1.33, 1.34"), "{found:?}");
    }

    #[test]
    fn downgrade_is_refused() {
        let found = check(
            NodeKind::FirstControlPlane,
            &at("1.35.2", "1.35.2"),
            v("1.35.1"),
        );
        assert!(found.iter().any(|f| f.contains("downgrades")), "{found:?}");
    }

    #[test]
    fn a_worker_never_goes_ahead_of_the_control_plane() {
        let found = check(NodeKind::Worker, &at("1.34.3", "1.34.3"), v("1.35.2"));
        assert!(
            found[0].contains("go ahead of the control plane"),
            "{found:?}"
        );
        assert!(check(NodeKind::Worker, &at("1.34.3", "1.35.2"), v("1.35.2")).is_empty());
        let other = check(
            NodeKind::OtherControlPlane,
            &at("1.34.3", "1.34.3"),
            v("1.35.2"),
        );
        assert!(other[0].contains("first control plane"), "{other:?}");
    }

    #[test]
    fn an_interrupted_upgrade_may_continue() {
        let mut half = at("1.34.3", "1.35.2");
        half.kubeadm = Some(v("1.35.2"));
        assert!(check(NodeKind::FirstControlPlane, &half, v("1.35.2")).is_empty());
        assert!(!done(&half, v("1.35.2")));
        assert!(done(&at("1.35.2", "1.35.2"), v("1.35.2")));
    }

    #[test]
    fn missing_facts_are_refusals() {
        let none = Versions::default();
        assert!(check(NodeKind::Worker, &none, v("1.35.2"))[0].contains("not installed"));
        let mut no_api = at("1.34.3", "1.34.3");
        no_api.api_server = None;
        assert!(check(NodeKind::Worker, &no_api, v("1.35.2"))[0].contains("API server"));
    }
}
