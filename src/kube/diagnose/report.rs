//! The report people read: what failed, the likely causes with their fixes, then the
//! evidence they rest on.

use std::fmt::Write as _;

use super::{Cause, Evidence, KUBELET_CONFIG};

/// The report: what failed, the likely causes with fixes, then the evidence.
pub fn report(e: &Evidence, causes: &[Cause]) -> String {
    let mut s = String::new();
    what_failed(&mut s, e);
    likely_causes(&mut s, e, causes);
    evidence(&mut s, e);
    s
}

fn what_failed(s: &mut String, e: &Evidence) {
    match &e.failure {
        Some(f) => {
            let code = f
                .code
                .map_or("no exit code".into(), |c| format!("exit code {c}"));
            let _ = writeln!(s, "`{}` failed ({code}); last lines:", f.command);
            indented(s, &f.tail);
        }
        None => {
            let _ = writeln!(
                s,
                "kubeadm's files on this node are incomplete (an earlier kubeadm run failed, or files were removed):\n  present: {}\n  missing: {}",
                e.present.join(", "),
                e.missing.join(", ")
            );
        }
    }
}

fn likely_causes(s: &mut String, e: &Evidence, causes: &[Cause]) {
    if causes.is_empty() {
        let _ = writeln!(
            s,
            "likely cause: none of the known ones matched; read the evidence below"
        );
    }
    for c in causes {
        let _ = writeln!(
            s,
            "likely cause: {}\n  why: {}\n  fix: {}",
            c.title, c.detail, c.fix
        );
    }
    if e.failure.is_none() {
        let _ = writeln!(
            s,
            "  bootstrap will not re-run kubeadm over a half-done node: after the fix, or to start over, run `kubeadm reset -f` and apply again"
        );
    }
}

fn evidence(s: &mut String, e: &Evidence) {
    let _ = writeln!(s, "evidence:");
    let swap = if e.swap_areas.is_empty() {
        "off".to_string()
    } else {
        format!("on: {}", e.swap_areas.join(", "))
    };
    let _ = writeln!(s, "  swap: {swap}");
    let node_driver = e
        .node_driver
        .as_deref()
        .unwrap_or(if e.kubelet_config_present {
            "(no cgroupDriver)"
        } else {
            "(file missing)"
        });
    let _ = writeln!(
        s,
        "  kubelet cgroup driver: profile {}, {KUBELET_CONFIG} {node_driver}",
        e.profile_driver.map_or("(not set)", |d| d.as_str()),
    );
    let _ = writeln!(s, "  {}", containerd_line(e));
    if let Some(p) = &e.expected_pause {
        let _ = writeln!(s, "  kubeadm's pause image: {p}");
    }
    let _ = writeln!(s, "  kubelet journal (journalctl -u kubelet):");
    indented(s, &e.kubelet_journal);
    let _ = writeln!(s, "  containers (crictl ps -a):");
    indented(s, &e.containers);
}

/// containerd's side: its cgroup setting, sandbox image and CRI state.
fn containerd_line(e: &Evidence) -> String {
    let Some(v) = &e.containerd else {
        return format!("containerd: no {}", e.containerd_config);
    };
    format!(
        "containerd: SystemdCgroup = {} in [{}]; sandbox image {}{}",
        v.systemd_cgroup
            .map_or("(unset: false)".into(), |b| b.to_string()),
        v.table,
        v.sandbox_image
            .as_deref()
            .unwrap_or("(containerd's default)"),
        if v.cri_disabled {
            "; CRI plugin disabled"
        } else {
            ""
        }
    )
}

fn indented(s: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(s, "    {line}");
    }
}
