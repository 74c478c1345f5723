//! Whether this node is already a cluster member, from the files kubeadm writes
//! (kubeadm's `cmd/kubeadm/app/constants/constants.go` and "kubeadm implementation details";
//! docs/kubeadm-facts.md). Read-only; the files are the truth, not a marker of ours.

use crate::host::{Host, HostError};

/// admin.conf: cluster-admin kubeconfig on control planes.
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
/// super-admin.conf: written by `init` only, Kubernetes 1.29+.
pub const SUPER_ADMIN_CONF: &str = "/etc/kubernetes/super-admin.conf";
/// The kubelet's kubeconfig: present once the node has joined (or initialised).
pub const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";
/// The static pod directory.
pub const MANIFESTS: &str = "/etc/kubernetes/manifests";
/// The PKI directory.
pub const PKI: &str = "/etc/kubernetes/pki";
/// The cluster CA certificate.
pub const CA_CRT: &str = "/etc/kubernetes/pki/ca.crt";
/// The cluster CA key.
pub const CA_KEY: &str = "/etc/kubernetes/pki/ca.key";
/// The kubelet configuration kubeadm writes in its kubelet-start phase.
pub use crate::node::facts::kubelet::KUBELET_CONFIG;
/// kube-vip's static pod (ours, not kubeadm's).
pub const KUBE_VIP_MANIFEST: &str = "/etc/kubernetes/manifests/kube-vip.yaml";

/// Files that only kubeadm writes (besides the PKI directory's contents).
const KUBEADM_FILES: [&str; 12] = [
    ADMIN_CONF,
    SUPER_ADMIN_CONF,
    KUBELET_CONF,
    "/etc/kubernetes/bootstrap-kubelet.conf",
    "/etc/kubernetes/controller-manager.conf",
    "/etc/kubernetes/scheduler.conf",
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    "/etc/kubernetes/manifests/kube-scheduler.yaml",
    KUBELET_CONFIG,
    "/var/lib/kubelet/kubeadm-flags.env",
];

/// What a complete control plane has.
const CONTROL_PLANE_FILES: [&str; 9] = [
    ADMIN_CONF,
    KUBELET_CONF,
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    "/etc/kubernetes/manifests/kube-scheduler.yaml",
    CA_CRT,
    CA_KEY,
    KUBELET_CONFIG,
];

/// What a complete worker has.
const WORKER_FILES: [&str; 2] = [KUBELET_CONF, KUBELET_CONFIG];

/// This node's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// No kubeadm file: init or join has not run (a pre-placed CA alone counts as fresh).
    Fresh,
    /// An initialised or joined control plane.
    ControlPlane,
    /// A joined worker.
    Worker,
    /// Some of kubeadm's files but not a complete set: a run that failed half-way.
    Partial {
        /// kubeadm files that exist.
        present: Vec<String>,
        /// Files a complete node of the kind it looks like would also have.
        missing: Vec<String>,
    },
}

/// Observes the node's membership.
pub fn observe(host: &Host) -> Result<Membership, HostError> {
    let mut present: Vec<String> = KUBEADM_FILES
        .iter()
        .filter(|p| host.exists(p))
        .map(|p| p.to_string())
        .collect();
    for name in host.list_dir(PKI)? {
        if name != "ca.crt" && name != "ca.key" {
            present.push(format!("{PKI}/{name}"));
        }
    }
    if present.is_empty() {
        return Ok(Membership::Fresh);
    }
    let looks_like_control_plane = present
        .iter()
        .any(|p| p.starts_with(MANIFESTS) || p.starts_with(PKI) || p == ADMIN_CONF);
    let (wanted, complete): (&[&str], Membership) = if looks_like_control_plane {
        (&CONTROL_PLANE_FILES, Membership::ControlPlane)
    } else {
        (&WORKER_FILES, Membership::Worker)
    };
    let missing: Vec<String> = wanted
        .iter()
        .filter(|p| !host.exists(p))
        .map(|p| p.to_string())
        .collect();
    if missing.is_empty() {
        Ok(complete)
    } else {
        Ok(Membership::Partial { present, missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_with(files: &[&str]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let host = Host::new(dir.path().to_path_buf());
        (dir, host)
    }

    #[test]
    fn fresh_with_or_without_a_placed_ca() {
        let (_d, host) = host_with(&[]);
        assert_eq!(observe(&host).unwrap(), Membership::Fresh);
        let (_d, host) = host_with(&[CA_CRT, CA_KEY, KUBE_VIP_MANIFEST]);
        assert_eq!(observe(&host).unwrap(), Membership::Fresh);
    }

    #[test]
    fn complete_control_plane_and_worker() {
        let mut cp: Vec<&str> = CONTROL_PLANE_FILES.to_vec();
        cp.push("/etc/kubernetes/pki/apiserver.crt");
        let (_d, host) = host_with(&cp);
        assert_eq!(observe(&host).unwrap(), Membership::ControlPlane);
        let (_d, host) = host_with(&WORKER_FILES);
        assert_eq!(observe(&host).unwrap(), Membership::Worker);
    }

    #[test]
    fn half_done_names_what_is_there_and_what_is_missing() {
        let files: Vec<&str> = CONTROL_PLANE_FILES
            .iter()
            .copied()
            .filter(|f| *f != KUBELET_CONFIG)
            .collect();
        let (_d, host) = host_with(&files);
        let Membership::Partial { present, missing } = observe(&host).unwrap() else {
            panic!("partial expected")
        };
        assert!(present.contains(&ADMIN_CONF.to_string()));
        assert_eq!(missing, vec![KUBELET_CONFIG.to_string()]);
        let (_d, host) = host_with(&["/etc/kubernetes/bootstrap-kubelet.conf"]);
        assert!(matches!(
            observe(&host).unwrap(),
            Membership::Partial { .. }
        ));
    }
}
