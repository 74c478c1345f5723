//! What the upgrade reads from the node and its cluster, read-only: the installed kubeadm,
//! kubelet and kubectl, the API server's `/version` and this node's Node object, each
//! through kubectl with this node's own kubeconfig (admin.conf on a control plane, the
//! kubelet's kubelet.conf on a worker: the Node authorizer lets a kubelet read its own Node,
//! <https://kubernetes.io/docs/reference/access-authn-authz/node/>).

use crate::engine::{Context, StepError};
use crate::host::{Command, Host};
use crate::kube::state::{self, ADMIN_CONF, KUBELET_CONF, Membership};
use crate::packages::artifacts::program_path;
use crate::packages::tools::{self, Tool};
use crate::profile::Role;
use crate::profile::kubeadm::Mode;
use crate::profile::packages::Method;
use crate::values::KubeVersion;

use super::error::UpgradeError;
use super::policy::{NodeKind, Versions};

/// What this node's kind is, from the profile (role and kubeadm mode), checked against
/// kubeadm's files on the node.
pub fn node_kind(ctx: &Context) -> Result<NodeKind, UpgradeError> {
    let profile = ctx.profile;
    let Some(kubeadm) = &profile.kubeadm else {
        return Err(UpgradeError::NoKubeadm);
    };
    let kind = match (profile.node.role, kubeadm.mode()) {
        (Role::ControlPlane, Mode::Init) => NodeKind::FirstControlPlane,
        (Role::ControlPlane, Mode::Join) => NodeKind::OtherControlPlane,
        (Role::Worker, _) => NodeKind::Worker,
    };
    let observed = state::observe(ctx.host).map_err(UpgradeError::Host)?;
    let fits = matches!(
        (&observed, kind.control_plane()),
        (Membership::ControlPlane, true) | (Membership::Worker, false)
    );
    if !fits {
        return Err(UpgradeError::NotMember {
            kind: kind.describe(),
            found: match observed {
                Membership::Fresh => "no kubeadm files (not initialised or joined)",
                Membership::ControlPlane => "the files of a control plane",
                Membership::Worker => "the files of a worker",
                Membership::Partial { .. } => "some of kubeadm's files only",
            },
        });
    }
    Ok(kind)
}

/// This node's own kubeconfig: admin.conf on a control plane, kubelet.conf on a worker.
pub fn own_kubeconfig(kind: NodeKind) -> &'static str {
    if kind.control_plane() {
        ADMIN_CONF
    } else {
        KUBELET_CONF
    }
}

/// kubectl with `kubeconfig`.
pub fn kubectl(kubeconfig: &str, args: &[&str]) -> Command {
    Command::new("kubectl")
        .args(["--kubeconfig", kubeconfig])
        .args(args.iter().copied())
        .timeout(std::time::Duration::from_secs(60))
}

/// Where the profile's install method puts `tool`.
pub fn program(ctx: &Context, tool: Tool) -> String {
    match ctx.profile.packages.method {
        Method::Binary | Method::Bundle => {
            program_path(&ctx.profile.packages.install_dir, tool.name)
        }
        Method::Apt | Method::None => format!("/usr/bin/{}", tool.name),
    }
}

/// The version `tool` reports, when installed.
pub fn installed(ctx: &Context, tool: Tool) -> Result<Option<KubeVersion>, StepError> {
    let path = ctx.host.path(&program(ctx, tool));
    Ok(tools::probe(ctx.host, tool, &path)?.version())
}

/// The `gitVersion` of a `/version` answer (`{"major":"1","gitVersion":"v1.35.2",...}`).
pub fn git_version(json: &str) -> Option<KubeVersion> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let text = value["gitVersion"].as_str()?;
    tools::parse_version(text)
}

/// The API server's version, read from `/version` with `kubeconfig`; `None` when it does
/// not answer.
pub fn api_server(host: &Host, kubeconfig: &str) -> Result<Option<KubeVersion>, StepError> {
    let out = host.run(&kubectl(kubeconfig, &["get", "--raw", "/version"]))?;
    Ok(out.success().then(|| git_version(&out.stdout)).flatten())
}

/// Every version the policy needs.
pub fn versions(ctx: &Context, kind: NodeKind) -> Result<Versions, StepError> {
    Ok(Versions {
        kubeadm: installed(ctx, tools::KUBEADM)?,
        kubelet: installed(ctx, tools::KUBELET)?,
        kubectl: installed(ctx, tools::KUBECTL)?,
        api_server: api_server(ctx.host, own_kubeconfig(kind))?,
    })
}

/// This node's Node object, as far as the upgrade cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// `status.nodeInfo.kubeletVersion`: the version of the kubelet that runs.
    pub kubelet: Option<KubeVersion>,
    /// The Ready condition is `True`.
    pub ready: bool,
}

/// Parses `kubectl get node NAME -o json`.
pub fn parse_node(json: &str) -> Option<NodeStatus> {
    let node: serde_json::Value = serde_json::from_str(json).ok()?;
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    Some(NodeStatus {
        unschedulable: node["spec"]["unschedulable"].as_bool().unwrap_or(false),
        kubelet: node["status"]["nodeInfo"]["kubeletVersion"]
            .as_str()
            .and_then(tools::parse_version),
        ready,
    })
}

/// This node's Node object read with `kubeconfig`; an error says what kubectl said.
pub fn node(host: &Host, kubeconfig: &str, name: &str) -> Result<NodeStatus, StepError> {
    let out = host.run(&kubectl(kubeconfig, &["get", "node", name, "-o", "json"]))?;
    if !out.success() {
        return Err(UpgradeError::NodeUnreadable {
            node: name.to_string(),
            tail: out.tail(2),
        }
        .into());
    }
    parse_node(&out.stdout).ok_or_else(|| {
        UpgradeError::NodeUnreadable {
            node: name.to_string(),
            tail: "the answer is not a Node in JSON".into(),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_node_answers() {
        let v = git_version(
            r#"{"major":"1","minor":"35","gitVersion":"v1.35.2","platform":"linux/amd64"}"#,
        );
        assert_eq!(v, Some("1.35.2".parse().unwrap()));
        assert_eq!(git_version("not json"), None);
        let node = parse_node(r#"{"kind":"Node","spec":{"unschedulable":true},"status":{"nodeInfo":{"kubeletVersion":"v1.34.3"},"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}]}}"#).unwrap();
        assert!(node.unschedulable && node.ready);
        assert_eq!(node.kubelet, Some("1.34.3".parse().unwrap()));
        let fresh = parse_node(
            r#"{"spec":{},"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}"#,
        )
        .unwrap();
        assert!(!fresh.unschedulable && !fresh.ready && fresh.kubelet.is_none());
    }
}
