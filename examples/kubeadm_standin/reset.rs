//! `kubeadm reset`, from kubeadm's source (kubernetes/kubernetes
//! cmd/kubeadm/app/cmd/reset.go and phases/reset/cleanupnode.go `runCleanupNode`,
//! `resetConfigDir`; phases/reset/removeetcdmember.go for the etcd data directory):
//! - without `-f`/`--force` kubeadm asks "Are you sure you want to proceed? [y/N]" on stdin;
//!   here stdin is never a terminal, so it aborts as kubeadm does on an empty answer;
//! - stops the kubelet (`initSystem.ServiceStop("kubelet")`: the systemctl stand-in's state
//!   under `$SANDBOX_ROOT/.standin/units` becomes inactive, the enabled state is kept);
//! - deletes the contents of /var/lib/etcd when the etcd static pod manifest is there (the
//!   local etcd member's data directory);
//! - deletes the contents (not the directories) of /etc/kubernetes/manifests,
//!   /var/lib/kubelet and the certificate directory (`--cert-dir`, default
//!   /etc/kubernetes/pki), and /etc/kubernetes/tmp with `--cleanup-tmp-dir`;
//! - deletes admin.conf, super-admin.conf (kubeadm 1.29+), kubelet.conf,
//!   bootstrap-kubelet.conf, controller-manager.conf and scheduler.conf in /etc/kubernetes;
//! - leaves CNI configuration, iptables/IPVS rules and $HOME/.kube/config alone (kubeadm
//!   says so in its closing message).

use std::fs;

use super::{Env, Res, fail};

/// The flags `kubeadm reset` takes (kubeadm reset --help).
const FLAGS: [&str; 8] = [
    "--cert-dir",
    "--cleanup-tmp-dir",
    "--cri-socket",
    "--dry-run",
    "--ignore-preflight-errors",
    "--kubeconfig",
    "--skip-phases",
    "-v",
];

/// Removes everything inside `node` (kubeadm's `CleanDir`), not the directory itself.
fn clean_dir(env: &Env, node: &str) {
    let Ok(entries) = fs::read_dir(env.path(node)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let _ = if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

/// `kubeadm reset FLAGS`.
pub fn reset(env: &Env, flags: &[String]) -> Res<String> {
    let mut force = false;
    let mut cert_dir = "/etc/kubernetes/pki".to_string();
    let mut tmp = false;
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag.as_str(), None),
        };
        match name {
            "-f" | "--force" => force = true,
            "--cleanup-tmp-dir" => tmp = true,
            "--cert-dir" => cert_dir = value.or_else(|| it.next().cloned()).unwrap_or_default(),
            n if FLAGS.contains(&n) => {
                if value.is_none() && n != "--dry-run" {
                    it.next();
                }
            }
            n => return fail(1, format!("unknown flag: {n}")),
        }
    }
    if !force {
        return fail(
            1,
            "[reset] Are you sure you want to proceed? [y/N]: aborted reset operation",
        );
    }
    let kubelet = env.path("/.standin/units/kubelet.service");
    if let Ok(state) = fs::read_to_string(&kubelet)
        && let Some((_, enabled)) = state.split_once(' ')
    {
        let _ = fs::write(&kubelet, format!("inactive {enabled}"));
    }
    let mut out = String::from("[reset] Stopping the kubelet service\n");
    if env.exists("/etc/kubernetes/manifests/etcd.yaml") {
        clean_dir(env, "/var/lib/etcd");
        out.push_str("[reset] Deleted contents of the etcd data directory: /var/lib/etcd\n");
    }
    let mut dirs = vec![
        "/etc/kubernetes/manifests",
        "/var/lib/kubelet",
        cert_dir.as_str(),
    ];
    if tmp {
        dirs.push("/etc/kubernetes/tmp");
    }
    for dir in &dirs {
        clean_dir(env, dir);
    }
    let mut files = vec!["admin.conf"];
    if env.version >= (1, 29, 0) {
        files.push("super-admin.conf");
    }
    files.extend([
        "kubelet.conf",
        "bootstrap-kubelet.conf",
        "controller-manager.conf",
        "scheduler.conf",
    ]);
    for file in &files {
        let _ = fs::remove_file(env.path(&format!("/etc/kubernetes/{file}")));
    }
    out.push_str(&format!(
        "[reset] Deleting contents of directories: {dirs:?}\n[reset] Deleting files: {files:?}\n\nThe reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d\n"
    ));
    Ok(out)
}
