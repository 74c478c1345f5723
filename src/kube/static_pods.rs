//! Stopping and starting the kubelet's static pods by moving their manifests out of its
//! static pod directory and back, as the kubeadm documentation does it: "To restart a static
//! Pod you can temporarily remove its manifest file from /etc/kubernetes/manifests/ and wait
//! for 20 seconds (see the fileCheckFrequency value in KubeletConfiguration struct)"
//! (<https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/#manual-certificate-renewal>).
//! The manifests wait in a directory the kubelet does not read, written atomically through
//! the host (so they are backed up and journaled), and come back byte for byte unless the
//! caller changes them.

use std::time::Duration;

use crate::host::{Host, HostError, Mode};

/// The kubelet's static pod directory on a kubeadm node.
pub const MANIFESTS: &str = "/etc/kubernetes/manifests";
/// Where manifests wait while their pods are stopped.
pub const STOPPED_DIR: &str = "/etc/kubernetes/manifests-stopped-by-bootstrap";
/// The kubelet configuration kubeadm writes.
const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
/// The kubelet's default `fileCheckFrequency`
/// (<https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/>).
pub const DEFAULT_FILE_CHECK: Duration = Duration::from_secs(20);

/// The node path a manifest waits at while stopped.
pub fn stopped(node_path: &str) -> String {
    let name = node_path.rsplit('/').next().unwrap_or(node_path);
    format!("{STOPPED_DIR}/{name}")
}

/// Moves a manifest (whose text is `text`) out of the kubelet's directory.
pub fn stop(host: &Host, step: &str, node_path: &str, text: &str) -> Result<(), HostError> {
    host.write_file(
        step,
        &stopped(node_path),
        text.as_bytes(),
        Mode::Exact(0o600),
    )?;
    host.remove_file(step, node_path)
}

/// Puts a manifest back into the kubelet's directory with `text`.
pub fn start(host: &Host, step: &str, node_path: &str, text: &str) -> Result<(), HostError> {
    host.write_file(step, node_path, text.as_bytes(), Mode::KeepOr(0o600))?;
    host.remove_file(step, &stopped(node_path))
}

/// How often the kubelet rereads its static pod directory: `fileCheckFrequency` of
/// /var/lib/kubelet/config.yaml, else its default of 20 s.
pub fn file_check_frequency(host: &Host) -> Duration {
    host.read(KUBELET_CONFIG)
        .ok()
        .flatten()
        .and_then(|text| serde_norway::from_str::<serde_norway::Value>(&text).ok())
        .and_then(|doc| doc["fileCheckFrequency"].as_str().map(str::to_string))
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(DEFAULT_FILE_CHECK)
}
