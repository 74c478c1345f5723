//! Reads the certificates of a kubeadm node through the host: every `*.crt` under
//! `/etc/kubernetes/pki` and `/etc/kubernetes/pki/etcd` (kubeadm's layout,
//! `cmd/kubeadm/app/phases/certs/certlist.go`), the client certificate of each kubeconfig
//! kubeadm writes (`cmd/kubeadm/app/constants/constants.go`: admin.conf, super-admin.conf,
//! controller-manager.conf, scheduler.conf, kubelet.conf), and the kubelet's rotating client
//! certificate `/var/lib/kubelet/pki/kubelet-client-current.pem`, which kubelet.conf names.

use crate::host::{Host, HostError};

use super::expiry::{self, CertInfo, ClientCert};

/// The certificate directories kubeadm fills.
pub const PKI_DIRS: [&str; 2] = ["/etc/kubernetes/pki", "/etc/kubernetes/pki/etcd"];
/// The kubeconfigs kubeadm writes.
pub const KUBECONFIGS: [&str; 5] = [
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/controller-manager.conf",
    "/etc/kubernetes/scheduler.conf",
    "/etc/kubernetes/kubelet.conf",
];
/// The kubelet's client certificate (rotated by the kubelet itself).
pub const KUBELET_CLIENT: &str = "/var/lib/kubelet/pki/kubelet-client-current.pem";

/// What was found: the certificates, and what could not be read (each naming its file).
#[derive(Debug, Default)]
pub struct Found {
    /// Every certificate read.
    pub certs: Vec<CertInfo>,
    /// Files that are there but do not hold a readable certificate.
    pub problems: Vec<String>,
}

impl Found {
    fn file(&mut self, host: &Host, node_path: &str, source: &str) -> Result<(), HostError> {
        if self.certs.iter().any(|c| c.source == source) {
            return Ok(());
        }
        if let Some(bytes) = host.read_bytes(node_path)? {
            self.add(source, &bytes);
        }
        Ok(())
    }

    fn add(&mut self, source: &str, pem: &[u8]) {
        match expiry::first_certificate(source, pem) {
            Ok(cert) => self.certs.push(cert),
            Err(e) => self.problems.push(format!("{source}: {e}")),
        }
    }
}

/// Whether the node has anything kubeadm made (a control plane or a joined worker).
pub fn has_kubeadm_files(host: &Host) -> bool {
    PKI_DIRS.iter().any(|d| host.is_dir(d)) || KUBECONFIGS.iter().any(|k| host.exists(k))
}

/// Reads every certificate listed in the module documentation.
pub fn collect(host: &Host) -> Result<Found, HostError> {
    let mut found = Found::default();
    for dir in PKI_DIRS {
        for name in host.list_dir(dir)? {
            if name.ends_with(".crt") {
                let path = format!("{dir}/{name}");
                found.file(host, &path, &path)?;
            }
        }
    }
    for conf in KUBECONFIGS {
        let Some(text) = host.read(conf)? else {
            continue;
        };
        let users = match expiry::kubeconfig_client_certs(&text) {
            Ok(users) => users,
            Err(e) => {
                found.problems.push(format!("{conf}: {e}"));
                continue;
            }
        };
        for (user, cert) in users {
            match cert {
                ClientCert::Embedded(pem) => found.add(&format!("{conf} (user {user})"), &pem),
                ClientCert::File(path) => found.file(host, &path, &path)?,
            }
        }
    }
    found.file(host, KUBELET_CLIENT, KUBELET_CLIENT)?;
    Ok(found)
}
