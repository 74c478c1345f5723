//! Reading the [`Facts`] kubeadm's preflight rules judge, once, through the host: files
//! under the root (`/proc/cpuinfo`, `/proc/meminfo`, `/proc/net/tcp{,6}`, `/etc/hosts`,
//! kubeadm's directories, the host tools on the node's `PATH` directories) and read-only
//! commands (`ctr version`, `systemctl is-enabled` / `is-active`).

use std::collections::BTreeSet;

use super::rules::{Facts, checked_ports};
use super::sockets;
use crate::engine::Context;
use crate::host::{Command, Host, HostError};
use crate::packages::tools::{find_executable, host_tools};
use crate::profile::Role;
use crate::profile::kubeadm::{Kubeadm, Mode};
use crate::profile::packages::Method;

/// Where systemd looks for the kubelet's unit file (the packages' and ours).
const KUBELET_UNITS: [&str; 3] = [
    "/etc/systemd/system/kubelet.service",
    "/lib/systemd/system/kubelet.service",
    "/usr/lib/systemd/system/kubelet.service",
];
/// Time synchronisation services: Debian's systemd-timesyncd and chrony (Debian's unit name
/// and the upstream/RHEL one).
const TIME_SYNC: [&str; 3] = ["systemd-timesyncd", "chrony", "chronyd"];

/// Processors in a /proc/cpuinfo text (its `processor` entries).
pub fn cpu_count(cpuinfo: &str) -> usize {
    cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count()
}

/// MemTotal of a /proc/meminfo text in MB (MiB, as kubeadm computes it from sysinfo).
pub fn mem_total_mb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Whether `name` is a name on a line of an /etc/hosts text.
pub fn hosts_maps(hosts: &str, name: &str) -> bool {
    hosts.lines().any(|line| {
        let line = line.split('#').next().unwrap_or_default();
        line.split_whitespace().skip(1).any(|n| n == name)
    })
}

/// The notBefore of a PEM certificate, in seconds since the epoch.
pub fn not_before(cert_pem: &str) -> Option<i64> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.validity().not_before.timestamp())
}

fn dir_entries(host: &Host, path: &str) -> Result<Option<Vec<String>>, HostError> {
    if !host.is_dir(path) {
        return Ok(None);
    }
    Ok(Some(host.list_dir(path)?))
}

fn unit_answers(host: &Host, verb: &str, unit: &str, want: &str) -> bool {
    host.run(&Command::new("systemctl").args([verb, unit]))
        .is_ok_and(|o| o.stdout.trim() == want)
}

/// kubeadm's FileAvailable checks for this node's mode that find a file.
fn present_files(host: &Host, init: bool, control_plane: bool) -> Vec<String> {
    let mut paths: Vec<&str> = Vec::new();
    if init {
        paths.extend([
            "/etc/kubernetes/manifests/kube-apiserver.yaml",
            "/etc/kubernetes/manifests/kube-controller-manager.yaml",
            "/etc/kubernetes/manifests/kube-scheduler.yaml",
            "/etc/kubernetes/manifests/etcd.yaml",
        ]);
    } else {
        paths.extend([
            "/etc/kubernetes/kubelet.conf",
            "/etc/kubernetes/bootstrap-kubelet.conf",
        ]);
        if !control_plane {
            paths.push("/etc/kubernetes/pki/ca.crt");
        }
    }
    paths
        .into_iter()
        .filter(|p| host.exists(p))
        .map(str::to_string)
        .collect()
}

/// Reads the facts for `kubeadm`'s run on this node. `ca_cert`: the bundle's CA certificate
/// (PEM), for the clock.
pub fn collect(
    ctx: &Context,
    kubeadm: &Kubeadm,
    ca_cert: Option<&str>,
) -> Result<Facts, HostError> {
    let host = ctx.host;
    let profile = ctx.profile;
    let version = profile.kubernetes.as_ref().map(|k| k.version);
    let init = kubeadm.mode() == Mode::Init;
    let control_plane = profile.node.role == Role::ControlPlane;
    let install_dir = profile.packages.install_dir.as_str();
    let tools = version
        .map(host_tools)
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t, find_executable(host, t.name, &[install_dir]).is_some()))
        .collect();
    let ports = checked_ports(control_plane, kubeadm.bind_port);
    let socket = &profile.containerd.socket;
    let runtime_error = crate::node::facts::containerd::answers(host, socket).err();
    let kubelet_unit = KUBELET_UNITS.iter().any(|p| host.exists(p));
    let name = &profile.node.name;
    Ok(Facts {
        version,
        init,
        control_plane,
        api_port: kubeadm.bind_port,
        tools,
        packages_installs_tools: profile.packages.method != Method::None,
        listeners: sockets::listeners_on(host, &ports)?,
        cpus: host.read("/proc/cpuinfo")?.map(|t| cpu_count(&t)),
        mem_mb: host.read("/proc/meminfo")?.and_then(|t| mem_total_mb(&t)),
        manifests: dir_entries(host, "/etc/kubernetes/manifests")?,
        etcd_data: dir_entries(host, "/var/lib/etcd")?,
        present_files: present_files(host, init, control_plane),
        node_name: name.clone(),
        name_resolves: host
            .read("/etc/hosts")?
            .is_some_and(|t| hosts_maps(&t, name)),
        runtime_error,
        runtime_managed: profile.containerd.install != crate::profile::containerd::Install::None,
        kubelet_unit,
        kubelet_enabled: kubelet_unit
            && unit_answers(host, "is-enabled", "kubelet.service", "enabled"),
        time_sync: TIME_SYNC
            .iter()
            .find(|s| unit_answers(host, "is-active", &format!("{s}.service"), "active"))
            .map(|s| s.to_string()),
        clock: ca_cert
            .and_then(not_before)
            .map(|nb| (host.unix_time(), nb)),
        ipvs: kubeadm.kube_proxy_mode.as_deref() == Some("ipvs"),
        ignored: kubeadm
            .ignore_preflight_errors
            .iter()
            .map(|s| s.to_lowercase())
            .collect::<BTreeSet<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\n\nprocessor\t: 1\nmodel name\t: x processor y\n";
        assert_eq!(cpu_count(cpuinfo), 2);
        assert_eq!(
            mem_total_mb("MemTotal:        1014656 kB\nMemFree: 1 kB\n"),
            Some(990)
        );
        assert_eq!(mem_total_mb("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn hosts_names() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 master\n192.168.33.13 master master.lab # x\n";
        assert!(hosts_maps(hosts, "master"));
        assert!(hosts_maps(hosts, "master.lab"));
        assert!(!hosts_maps(hosts, "worker-1"));
        assert!(!hosts_maps("10.0.0.1 a # worker-1\n", "worker-1"));
    }
}
