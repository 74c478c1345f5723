//! The diagnosis as a whole (analyse + report) and one test per rule.

use super::rules::{self, RULES};
use super::*;

const V2: &str = r#"version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
"#;
const V3: &str = r#"version = 3
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = 'registry.k8s.io/pause:3.10.1'
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
"#;

fn view(text: &str) -> ContainerdView {
    containerd_view(crate::formats::containerd_config::facts(text).unwrap())
}

#[test]
fn reads_both_containerd_schemas() {
    let v2 = view(V2);
    assert_eq!(v2.systemd_cgroup, Some(false));
    assert_eq!(
        v2.sandbox_image.as_deref(),
        Some("registry.k8s.io/pause:3.6")
    );
    assert!(v2.table.contains("\"io.containerd.grpc.v1.cri\""));
    let v3 = view(V3);
    assert_eq!(v3.systemd_cgroup, Some(true));
    assert_eq!(
        v3.sandbox_image.as_deref(),
        Some("registry.k8s.io/pause:3.10.1")
    );
    assert!(v3.table.contains("\"io.containerd.cri.v1.runtime\""));
    let docker = view("disabled_plugins = [\"cri\"]\n");
    assert!(docker.cri_disabled);
    assert_eq!(docker.systemd_cgroup, None);
    assert!(crate::formats::containerd_config::facts("not [toml").is_err());
}

fn base() -> Evidence {
    Evidence {
        mode: Some(Mode::Init),
        config_path: "/var/lib/bootstrap/kubeadm/init.yaml".into(),
        failure: Some(Failure {
            command: "kubeadm init".into(),
            code: Some(1),
            tail: "[wait-control-plane] timed out waiting for the condition".into(),
        }),
        fail_swap_on: true,
        profile_driver: Some(CgroupDriver::Systemd),
        node_driver: Some("systemd".into()),
        kubelet_config_present: true,
        containerd_config: "/etc/containerd/config.toml".to_string(),
        containerd: Some(view(V3)),
        ..Evidence::default()
    }
}

fn with_tail(tail: &str) -> Evidence {
    Evidence {
        mode: Some(Mode::Join),
        failure: Some(Failure {
            command: "kubeadm join".into(),
            code: Some(1),
            tail: tail.into(),
        }),
        ..base()
    }
}

#[test]
fn a_healthy_looking_node_names_no_cause() {
    assert!(analyse(&base()).is_empty());
    for rule in RULES {
        assert_eq!(rule(&base()), None);
    }
    assert!(rules::failed_preflight_checks(&base()).is_empty());
}

#[test]
fn swap_on() {
    let e = Evidence {
        swap_areas: vec!["/swapfile (file)".into()],
        ..base()
    };
    let causes = analyse(&e);
    assert!(causes[0].title.starts_with("swap is on"), "{causes:?}");
    assert!(causes[0].fix.contains("kubeadm reset -f"));
    let kept = Evidence {
        fail_swap_on: false,
        ..e
    };
    assert!(analyse(&kept).is_empty(), "swap allowed by the profile");
}

#[test]
fn rule_swap_on_from_the_journal() {
    let e = Evidence {
        kubelet_journal: "failed to run Kubelet: running with swap on is not supported".into(),
        ..base()
    };
    let c = rules::swap_on(&e).unwrap();
    assert!(
        c.detail.contains("the kubelet journal says swap was on"),
        "{c:?}"
    );
}

#[test]
fn cgroup_mismatch_names_both_sides() {
    let e = Evidence {
        containerd: Some(view(V2)),
        expected_pause: Some("registry.k8s.io/pause:3.6".into()),
        ..base()
    };
    let causes = analyse(&e);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(
        causes[0]
            .title
            .contains("kubelet uses systemd, containerd uses cgroupfs")
    );
    assert!(causes[0].detail.contains("SystemdCgroup = false"));
    assert!(causes[0].fix.contains("SystemdCgroup = true"));
}

#[test]
fn rule_cgroup_driver_mismatch_falls_back_to_the_profile() {
    let e = Evidence {
        node_driver: None,
        profile_driver: Some(CgroupDriver::Cgroupfs),
        ..base()
    };
    let c = rules::cgroup_driver_mismatch(&e).unwrap();
    assert!(
        c.detail.contains("the profile (kubernetes.cgroup_driver)"),
        "{c:?}"
    );
    assert!(c.fix.contains("SystemdCgroup = false"), "{c:?}");
    let no_config = Evidence {
        containerd: None,
        ..e
    };
    assert_eq!(rules::cgroup_driver_mismatch(&no_config), None);
}

#[test]
fn rule_cri_disabled() {
    let e = Evidence {
        containerd: Some(view("disabled_plugins = [\"cri\"]\nversion = 2\n")),
        node_driver: Some("cgroupfs".into()),
        profile_driver: Some(CgroupDriver::Cgroupfs),
        ..base()
    };
    let c = rules::cri_disabled(&e).unwrap();
    assert!(c.fix.contains("disabled_plugins"), "{c:?}");
    let from_journal = Evidence {
        kubelet_journal:
            "rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService"
                .into(),
        ..base()
    };
    assert!(rules::cri_disabled(&from_journal).is_some());
    assert_eq!(rules::cri_disabled(&base()), None);
}

#[test]
fn rule_node_and_profile_drivers_differ() {
    let e = Evidence {
        node_driver: Some("cgroupfs".into()),
        ..base()
    };
    let c = rules::node_and_profile_drivers_differ(&e).unwrap();
    assert!(
        c.detail
            .contains("has cgroupDriver cgroupfs, the profile wants systemd")
    );
    let unknown = Evidence {
        node_driver: None,
        ..base()
    };
    assert_eq!(rules::node_and_profile_drivers_differ(&unknown), None);
}

#[test]
fn kubelet_config_missing_points_at_the_phase() {
    let e = Evidence {
        kubelet_config_present: false,
        node_driver: None,
        kubelet_journal: "failed to load kubelet config file, path: /var/lib/kubelet/config.yaml"
            .into(),
        ..base()
    };
    let causes = analyse(&e);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(causes[0].fix.contains(
        "kubeadm init phase kubelet-start --config /var/lib/bootstrap/kubeadm/init.yaml"
    ));
    let text = report(&e, &causes);
    assert!(text.contains("(file missing)"), "{text}");
}

#[test]
fn rule_kubelet_config_missing_on_a_half_done_join() {
    let e = Evidence {
        mode: Some(Mode::Join),
        config_path: "/var/lib/bootstrap/kubeadm/join.yaml".into(),
        failure: None,
        present: vec!["/etc/kubernetes/kubelet.conf".into()],
        kubelet_config_present: false,
        node_driver: None,
        ..base()
    };
    let c = rules::kubelet_config_missing(&e).unwrap();
    assert!(c.fix.contains("kubeadm join phase kubelet-start"), "{c:?}");
    let present = Evidence {
        kubelet_config_present: true,
        ..e
    };
    assert_eq!(rules::kubelet_config_missing(&present), None);
}

#[test]
fn join_failures_are_told_apart() {
    let title = |tail: &str| analyse(&with_tail(tail))[0].title.clone();
    assert!(title("cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"sha256:ab\" are pinned").contains("CA hash"));
    assert!(
        title(
            "could not find a JWS signature in the cluster-info ConfigMap for token ID \"abcdef\""
        )
        .contains("token")
    );
    assert!(
        title("couldn't validate the identity of the API Server: connection refused")
            .contains("did not answer")
    );
    assert!(
        title("[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: exists").contains("preflight")
    );
}

#[test]
fn rule_discovery_failed_reads_only_kubeadms_lines() {
    let journal_only = Evidence {
        kubelet_journal: "dial tcp 10.0.0.1:6443: connect: connection refused".into(),
        ..base()
    };
    assert_eq!(rules::discovery_failed(&journal_only), None);
    let c = rules::discovery_failed(&with_tail("connect: no route to host")).unwrap();
    assert!(c.title.contains("did not answer"));
}

#[test]
fn rule_certs_not_downloaded() {
    let e = with_tail("error downloading certs: error decoding certificate key");
    let c = rules::certs_not_downloaded(&e).unwrap();
    assert!(c.fix.contains("upload-certs"), "{c:?}");
    assert_eq!(rules::certs_not_downloaded(&base()), None);
}

#[test]
fn rule_failed_preflight_checks_one_cause_each() {
    let e = with_tail(
        "[preflight] Some fatal errors occurred:\n\t[ERROR Port-10250]: Port 10250 is in use\n\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: exists\n",
    );
    let causes = rules::failed_preflight_checks(&e);
    assert_eq!(causes.len(), 2, "{causes:?}");
    assert_eq!(
        causes[0].title,
        "preflight check failed: [ERROR Port-10250]: Port 10250 is in use"
    );
}

#[test]
fn sandbox_image_mismatch() {
    let e = Evidence {
        expected_pause: Some("registry.k8s.io/pause:3.10".into()),
        ..base()
    };
    let causes = analyse(&e);
    assert!(
        causes[0].title.contains("sandbox image mismatch"),
        "{causes:?}"
    );
    let same = Evidence {
        expected_pause: Some("registry.k8s.io/pause:3.10.1".into()),
        ..base()
    };
    assert_eq!(rules::sandbox_image_mismatch(&same), None);
}

#[test]
fn the_report_names_cause_fix_and_evidence() {
    let e = Evidence {
        swap_areas: vec!["/swapfile (file)".into()],
        expected_pause: Some("registry.k8s.io/pause:3.10.1".into()),
        kubelet_journal: "line one\nline two".into(),
        ..base()
    };
    let text = report(&e, &analyse(&e));
    for want in [
        "`kubeadm init` failed (exit code 1); last lines:\n    [wait-control-plane]",
        "likely cause: swap is on",
        "  swap: on: /swapfile (file)",
        "  kubelet cgroup driver: profile systemd, /var/lib/kubelet/config.yaml systemd",
        "  containerd: SystemdCgroup = true in [",
        "sandbox image registry.k8s.io/pause:3.10.1",
        "  kubeadm's pause image: registry.k8s.io/pause:3.10.1",
        "    line one\n    line two",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    let half = Evidence {
        failure: None,
        containerd: None,
        present: vec!["/etc/kubernetes/kubelet.conf".into()],
        ..base()
    };
    let text = report(&half, &[]);
    assert!(
        text.contains("present: /etc/kubernetes/kubelet.conf"),
        "{text}"
    );
    assert!(text.contains("likely cause: none of the known ones matched"));
    assert!(text.contains("will not re-run kubeadm over a half-done node"));
    assert!(text.contains("containerd: no /etc/containerd/config.toml"));
}
