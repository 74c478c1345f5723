//! The kube-vip static pod: ARP mode with leader election, holding the control-plane
//! address (kube-vip's documented static-pod manifest, https://kube-vip.io/docs/installation/static/).
//! Built as a typed value and written by the YAML serialiser of [`super::yaml`], so no
//! profile value can add keys to the pod: an `image` or `interface` holding a newline stays
//! one quoted string (and validation refuses it before that).

use serde::Serialize;

use super::yaml::{self, YamlError};
use crate::profile::kubeadm::KubeVip;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pod<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    spec: Spec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    containers: Vec<Container<'a>>,
    host_network: bool,
    volumes: Vec<Volume<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container<'a> {
    name: &'a str,
    image: &'a str,
    image_pull_policy: &'a str,
    args: Vec<&'a str>,
    env: Vec<Env>,
    security_context: SecurityContext<'a>,
    volume_mounts: Vec<VolumeMount<'a>>,
}

#[derive(Serialize)]
struct Env {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
struct SecurityContext<'a> {
    capabilities: Capabilities<'a>,
}

#[derive(Serialize)]
struct Capabilities<'a> {
    add: Vec<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount<'a> {
    mount_path: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume<'a> {
    host_path: HostPath<'a>,
    name: &'a str,
}

#[derive(Serialize)]
struct HostPath<'a> {
    path: &'a str,
}

fn env(name: &'static str, value: impl ToString) -> Env {
    Env {
        name,
        value: value.to_string(),
    }
}

/// The kube-vip static pod mounting `kubeconfig` (super-admin.conf during the first init on
/// Kubernetes ≥ 1.29, where admin.conf has no rights until init finishes; admin.conf
/// otherwise) at /etc/kubernetes/admin.conf.
pub fn manifest(vip: &KubeVip, port: u16, kubeconfig: &str) -> Result<String, YamlError> {
    let pod = Pod {
        api_version: "v1",
        kind: "Pod",
        metadata: Metadata {
            name: "kube-vip",
            namespace: "kube-system",
        },
        spec: Spec {
            containers: vec![Container {
                name: "kube-vip",
                image: &vip.image,
                image_pull_policy: "IfNotPresent",
                args: vec!["manager"],
                env: vec![
                    env("vip_arp", "true"),
                    env("port", port),
                    env("vip_interface", &vip.interface),
                    env("address", vip.address),
                    env("cp_enable", "true"),
                    env("cp_namespace", "kube-system"),
                    env("vip_leaderelection", "true"),
                    env("vip_leaseduration", 5),
                    env("vip_renewdeadline", 3),
                    env("vip_retryperiod", 1),
                ],
                security_context: SecurityContext {
                    capabilities: Capabilities {
                        add: vec!["NET_ADMIN", "NET_RAW"],
                    },
                },
                volume_mounts: vec![VolumeMount {
                    mount_path: "/etc/kubernetes/admin.conf",
                    name: "kubeconfig",
                }],
            }],
            host_network: true,
            volumes: vec![Volume {
                host_path: HostPath { path: kubeconfig },
                name: "kubeconfig",
            }],
        },
    };
    let body = yaml::to_string(&pod)?;
    Ok(format!(
        "# Written by bootstrap: kube-vip holds the control-plane address {}.\n{body}",
        vip.address
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(image: &str, interface: &str) -> KubeVip {
        KubeVip {
            address: crate::values::Ip("192.168.33.100".parse().unwrap()),
            interface: interface.into(),
            image: image.into(),
        }
    }

    #[test]
    fn mounts_the_given_kubeconfig() {
        let m = manifest(
            &vip("ghcr.io/kube-vip/kube-vip:v1.2.3", "eth1"),
            6443,
            "/etc/kubernetes/super-admin.conf",
        )
        .unwrap();
        let parsed: serde_norway::Value = serde_norway::from_str(&m).unwrap();
        assert_eq!(
            parsed["spec"]["volumes"][0]["hostPath"]["path"],
            serde_norway::Value::from("/etc/kubernetes/super-admin.conf")
        );
        assert_eq!(
            parsed["spec"]["hostNetwork"],
            serde_norway::Value::Bool(true)
        );
        let env = &parsed["spec"]["containers"][0]["env"];
        assert_eq!(env[3]["value"], serde_norway::Value::from("192.168.33.100"));
        assert_eq!(env[1]["value"], serde_norway::Value::from("6443"), "{m}");
    }

    #[test]
    fn newlines_in_values_cannot_add_keys() {
        let m = manifest(
            &vip(
                "x\n    securityContext:\n      privileged: true",
                "eth1\nprivileged: true",
            ),
            6443,
            "/etc/kubernetes/admin.conf",
        )
        .unwrap();
        let parsed: serde_norway::Value = serde_norway::from_str(&m).unwrap();
        let container = &parsed["spec"]["containers"][0];
        assert!(container["image"].as_str().unwrap().contains('\n'));
        assert!(!m.contains("\nprivileged"), "{m}");
        assert_eq!(
            container["securityContext"]["privileged"],
            serde_norway::Value::Null
        );
    }
}
