//! The kubelet's configured cgroup driver, from the kubelet configuration file kubeadm
//! writes in its `kubelet-start` phase (`/var/lib/kubelet/config.yaml`, kubeadm's
//! `kubeletconstants.KubeletConfigurationFileName` under `/var/lib/kubelet`; kubeadm sets
//! `cgroupDriver` there from the cluster's `kubelet-config` ConfigMap, see
//! <https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/configure-cgroup-driver/>).
//! The profile names no path for it: kubeadm always writes it there.

use crate::host::{Host, HostError};

/// The kubelet configuration kubeadm writes in its kubelet-start phase.
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";

/// The `cgroupDriver` of a kubelet configuration text (a YAML `KubeletConfiguration`):
/// `None` when the field is absent, not a string, or the text is not YAML.
pub fn config_driver(text: &str) -> Option<String> {
    let doc: serde_norway::Value = serde_norway::from_str(text).ok()?;
    doc.get("cgroupDriver")?.as_str().map(str::to_string)
}

/// The kubelet's cgroup driver on this node: `None` when the kubelet config or the field is
/// absent.
pub fn driver(host: &Host) -> Result<Option<String>, HostError> {
    Ok(host
        .read(KUBELET_CONFIG)?
        .as_deref()
        .and_then(config_driver))
}

#[cfg(test)]
mod tests {
    use super::super::testing::root_with;
    use super::*;

    /// The shape kubeadm writes (its `kubelet-start` phase marshals the
    /// KubeletConfiguration with sorted keys).
    const KUBEADM_WRITTEN: &str = "apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
cgroupDriver: cgroupfs
clusterDNS:
- 10.96.0.10
kind: KubeletConfiguration
";

    #[test]
    fn reads_the_driver_kubeadm_wrote() {
        let (_dir, host) = root_with(&[(KUBELET_CONFIG, KUBEADM_WRITTEN)]);
        assert_eq!(driver(&host).unwrap().as_deref(), Some("cgroupfs"));
        let (_dir, empty) = root_with(&[]);
        assert_eq!(driver(&empty).unwrap(), None, "no file");
    }

    #[test]
    fn yaml_spellings() {
        let d = |t: &str| config_driver(t);
        assert_eq!(d("cgroupDriver: \"systemd\"\n").as_deref(), Some("systemd"));
        assert_eq!(d("cgroupDriver: 'systemd'\n").as_deref(), Some("systemd"));
        assert_eq!(
            d("cgroupDriver: systemd # set by kubeadm\n").as_deref(),
            Some("systemd"),
            "a trailing comment is not part of the value"
        );
        assert_eq!(
            d("kind: KubeletConfiguration\ncgroupDriver:   systemd   \n").as_deref(),
            Some("systemd")
        );
        assert_eq!(
            d("evictionHard:\n  cgroupDriver: systemd\n"),
            None,
            "a nested key is not the kubelet's driver"
        );
        assert_eq!(d("kind: X\n"), None);
        assert_eq!(d("cgroupDriver: [\n"), None, "not YAML");
    }
}
