//! The container runtime steps against a sandbox root with stand-ins for apt-get, containerd,
//! ctr and systemctl: install → config → restart → verify, idempotency, drift, and the cgroup
//! driver check.

mod common;

use common::Sandbox;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/containerd");
const RUNTIME: [&str; 4] = ["--only", "containerd", "--only", "cgroup"];

fn profile(sb: &Sandbox, extra: &str) -> std::path::PathBuf {
    sb.profile(
        "p.toml",
        &format!(
            "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = \"192.168.33.13\"\n\n[kubernetes]\nversion = \"1.31.4\"\n{extra}"
        ),
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// A sandbox where containerd is installed, in `state` ("active enabled", ...).
fn installed(sb: &Sandbox, version: &str, state: &str) {
    sb.write("/usr/bin/containerd", "#!/bin/sh\n");
    sb.write("/.standin/containerd-version", version);
    sb.write("/.standin/units/containerd.service", state);
}

fn apply(sb: &Sandbox, profile: &std::path::Path) -> common::Out {
    sb.json("apply", profile, &RUNTIME)
}

#[test]
fn fresh_node_install_config_restart_verify_then_nothing() {
    let sb = Sandbox::new();
    let p = profile(&sb, "");
    let plan = sb.json("plan", &p, &RUNTIME);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("install containerd (apt package containerd)")
    );
    assert!(sb.take_changing_calls().is_empty());

    let out = apply(&sb, &p);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.status("containerd"), "changed");
    assert_eq!(out.status("cgroup"), "ok");
    assert!(
        out.stdout
            .contains("update /etc/containerd/config.toml (kubelet and kubeadm settings)"),
        "changes made after install are reported: {}",
        out.stdout
    );
    assert_eq!(
        sb.take_calls(),
        [
            "containerd --version",
            "apt-get update",
            "apt-get install -y --no-install-recommends containerd",
            "containerd --version",
            "systemctl is-enabled containerd",
            "systemctl restart containerd",
            "containerd --version",
            "systemctl is-active containerd",
            "systemctl is-enabled containerd",
            "ctr --address /run/containerd/containerd.sock version",
            "containerd --config /etc/containerd/config.toml config dump",
        ]
    );
    let config = sb.read("/etc/containerd/config.toml");
    let debian = fixture("v2-debian12-package.toml");
    assert!(
        config.starts_with("version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n")
    );
    assert!(config.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\nSystemdCgroup = true"));
    assert!(config.contains("sandbox_image = \"registry.k8s.io/pause:3.10\""));
    assert!(config.contains("bin_dir = \"/opt/cni/bin\""));
    assert_eq!(
        sb.read("/var/lib/bootstrap/backups/etc/containerd/config.toml"),
        debian
    );
    assert_eq!(
        sb.read("/etc/crictl.yaml"),
        "runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\ndebug: false\n"
    );

    let before = sb.snapshot();
    let again = apply(&sb, &p);
    assert_eq!(again.code, 0);
    assert_eq!(again.summary()["changes"], 0, "{}", again.stdout);
    assert!(
        sb.take_changing_calls().is_empty(),
        "no restart on a converged node"
    );
    sb.assert_unchanged(&before, "converged runtime");
}

#[test]
fn missing_config_is_generated_from_config_default_and_service_enabled() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "inactive disabled");
    let p = profile(&sb, "");
    let out = apply(&sb, &p);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        sb.take_changing_calls(),
        [
            "systemctl restart containerd",
            "systemctl enable containerd"
        ]
    );
    let config = sb.read("/etc/containerd/config.toml");
    let default = fixture("v2-default-containerd-1.6.20.toml");
    let changed: Vec<String> = similar::TextDiff::from_lines(default.as_str(), config.as_str())
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| format!("{}{}", c.tag(), c.value().trim_end()))
        .collect();
    assert_eq!(
        changed,
        [
            "-    sandbox_image = \"registry.k8s.io/pause:3.6\"",
            "+    sandbox_image = \"registry.k8s.io/pause:3.10\"",
            "-            SystemdCgroup = false",
            "+            SystemdCgroup = true",
        ]
    );
    assert!(
        !sb.path("/var/lib/bootstrap/backups/etc/containerd/config.toml")
            .exists()
    );
    assert_eq!(apply(&sb, &p).summary()["changes"], 0);
}

#[test]
fn containerd_2_gets_the_version_3_tables() {
    let sb = Sandbox::new();
    installed(&sb, "2.1.4", "active enabled");
    let p = sb.profile(
        "p.toml",
        "[node]\nname = \"n\"\nrole = \"worker\"\naddress = \"10.0.0.2\"\n[kubernetes]\nversion = \"1.35.2\"\n",
    );
    assert_eq!(apply(&sb, &p).code, 0);
    let config = sb.read("/etc/containerd/config.toml");
    assert!(
        config.contains("sandbox = \"registry.k8s.io/pause:3.10.1\""),
        "{config}"
    );
    assert!(config.contains("ShimCgroup = ''\n            SystemdCgroup = true\n"));
    assert!(!config.contains("sandbox_image"), "no v2 key in a v3 file");
    assert!(
        !config.contains("grpc.v1.cri\".containerd"),
        "no v2 table in a v3 file"
    );
    assert_eq!(apply(&sb, &p).summary()["changes"], 0);
}

#[test]
fn cri_disabled_stub_is_replaced_and_backed_up() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    let stub = fixture("cri-disabled-stub.toml");
    sb.write("/etc/containerd/config.toml", &stub);
    let p = profile(&sb, "");
    let plan = sb.run(&[
        "plan",
        "--profile",
        p.to_str().unwrap(),
        "--only",
        "containerd",
    ]);
    assert!(
        plan.stdout.contains("only disables the CRI plugin"),
        "{}",
        plan.stdout
    );
    assert_eq!(apply(&sb, &p).code, 0);
    let config = sb.read("/etc/containerd/config.toml");
    assert!(config.starts_with("disabled_plugins = []\n"));
    assert!(config.contains("SystemdCgroup = true"));
    assert_eq!(
        sb.read("/var/lib/bootstrap/backups/etc/containerd/config.toml"),
        stub
    );
}

#[test]
fn user_config_keeps_comments_and_foreign_tables_byte_for_byte() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    let user = fixture("v2-user-edited.toml");
    sb.write("/etc/containerd/config.toml", &user);
    let p = profile(&sb, "");
    assert_eq!(apply(&sb, &p).code, 0);
    let config = sb.read("/etc/containerd/config.toml");
    // Byte for byte: a line diff of the user's file against ours touches only the keys the
    // step owns; every other line, comments and blank lines included, is kept in place.
    const OWNED: [&str; 4] = [
        "SystemdCgroup",
        "sandbox_image",
        "disabled_plugins",
        "bin_dir",
    ];
    let diff = similar::TextDiff::from_lines(user.as_str(), config.as_str());
    for change in diff.iter_all_changes() {
        if change.tag() != similar::ChangeTag::Equal {
            assert!(
                OWNED.iter().any(|k| change.value().contains(k)),
                "a line the step does not own changed: {}{:?}",
                change.tag(),
                change.value()
            );
        }
    }
    assert!(config.contains("SystemdCgroup = true  # flipped by hand during an incident"));
}

#[test]
fn drift_is_found_by_check_and_fixed_with_one_restart() {
    let sb = Sandbox::new();
    let p = profile(&sb, "");
    assert_eq!(apply(&sb, &p).code, 0);
    sb.take_calls();
    let config = sb.read("/etc/containerd/config.toml");
    sb.write(
        "/etc/containerd/config.toml",
        &config
            .replace("SystemdCgroup = true", "SystemdCgroup = false")
            .replace("version = 2", "version = 2\ndisabled_plugins = [\"cri\"]"),
    );
    let before = sb.snapshot();
    let check = sb.json("check", &p, &RUNTIME);
    assert_eq!(check.code, 2);
    assert_eq!(check.status("containerd"), "drift");
    assert!(
        check.stdout.contains("-SystemdCgroup = false"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("-disabled_plugins = [\\\"cri\\\"]"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("cgroup driver mismatch: the kubelet uses systemd"),
        "{}",
        check.stdout
    );
    sb.assert_unchanged(&before, "check");
    assert!(sb.take_changing_calls().is_empty());
    assert_eq!(apply(&sb, &p).code, 0);
    assert_eq!(sb.take_changing_calls(), ["systemctl restart containerd"]);
    assert_eq!(sb.json("check", &p, &RUNTIME).code, 0);
}

#[test]
fn sandbox_image_differing_from_kubeadms_is_drift() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    let p = profile(&sb, "");
    assert_eq!(apply(&sb, &p).code, 0);
    // kubeadm is installed now and says its pause image is another tag.
    std::fs::write(
        sb.bin.join("kubeadm"),
        "#!/bin/sh\necho \"kubeadm $*\" >> \"$STANDIN_LOG\"\necho registry.k8s.io/kube-apiserver:v1.31.4\necho registry.k8s.io/pause:3.10.9\necho registry.k8s.io/etcd:3.5.15-0\n",
    )
    .unwrap();
    std::fs::set_permissions(
        sb.bin.join("kubeadm"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let check = sb.json("check", &p, &RUNTIME);
    assert_eq!(check.code, 2);
    assert!(
        check
            .stdout
            .contains("+    sandbox_image = \\\"registry.k8s.io/pause:3.10.9\\\""),
        "{}",
        check.stdout
    );
    let calls = sb.take_calls();
    assert!(calls.iter().any(|c| c == "kubeadm config images list --kubernetes-version v1.31.4 --image-repository registry.k8s.io"), "{calls:?}");
    // kubeadm's answer wins, and the table row it contradicts is named.
    let warnings = check.notes("warning");
    assert!(
        warnings.iter().any(|w| w.contains(
            "kubeadm 1.31.4 uses the pause image registry.k8s.io/pause:3.10.9, but bootstrap's table"
        ) && w.contains("says registry.k8s.io/pause:3.10:")),
        "{warnings:?}"
    );
}

#[test]
fn mirrors_are_written_as_registry_host_files() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    let p = profile(
        &sb,
        "\n[containerd.mirrors]\n\"docker.io\" = [\"https://mirror.gcr.io\"]\n",
    );
    assert_eq!(apply(&sb, &p).code, 0);
    let hosts = sb.read("/etc/containerd/certs.d/docker.io/hosts.toml");
    assert!(hosts.contains("server = \"https://registry-1.docker.io\""));
    assert!(hosts.contains("[host.\"https://mirror.gcr.io\"]"));
    assert!(
        sb.read("/etc/containerd/config.toml")
            .contains("config_path = \"/etc/containerd/certs.d\"")
    );
    assert_eq!(apply(&sb, &p).summary()["changes"], 0);
}

#[test]
fn unparsable_config_is_reported_with_its_location_and_left_alone() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    let broken = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"\n  sandbox_image = \"x\"\n";
    sb.write("/etc/containerd/config.toml", broken);
    let p = profile(&sb, "");
    let out = apply(&sb, &p);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("cannot edit /etc/containerd/config.toml:2:"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("The file was left untouched"));
    assert_eq!(sb.read("/etc/containerd/config.toml"), broken);
    assert!(sb.take_changing_calls().is_empty());
}

#[test]
fn install_none_without_containerd_is_a_clear_error() {
    let sb = Sandbox::new();
    let p = profile(&sb, "\n[containerd]\ninstall = \"none\"\n");
    let out = apply(&sb, &p);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("containerd is not installed"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("containerd.install = \\\"package\\\""));
}

#[test]
fn a_failed_restart_fails_the_step_with_the_command() {
    let mut sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    sb.fail = "systemctl-restart".into();
    let out = apply(&sb, &profile(&sb, ""));
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("`systemctl restart containerd` failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn effective_config_differing_from_the_file_fails_verify() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    // A drop-in named by `imports` sets the CRI plugin's table again, without
    // SystemdCgroup: containerd replaces a plugin's whole table with the drop-in's, so the
    // effective runc cgroup driver is the default (cgroupfs) whatever config.toml says.
    sb.write(
        "/etc/containerd/config.toml",
        &format!(
            "imports = [\"/etc/containerd/conf.d/*.toml\"]\n{}",
            fixture("v2-debian12-package.toml")
        ),
    );
    sb.write(
        "/etc/containerd/conf.d/50-local.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"overlayfs\"\n",
    );
    let out = apply(&sb, &profile(&sb, ""));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "differs from what was written: runc SystemdCgroup is Some(false), expected true"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("a drop-in under `imports` may override it")
    );
    // Without the drop-in the same config verifies.
    std::fs::remove_file(sb.path("/etc/containerd/conf.d/50-local.toml")).unwrap();
    let out = apply(&sb, &profile(&sb, ""));
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn cgroup_mismatch_is_a_warning_in_plan_and_an_error_in_apply() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    sb.write(
        "/etc/containerd/config.toml",
        &fixture("v2-default-containerd-1.6.20.toml"),
    );
    let p = profile(&sb, "");
    let plan = sb.json("plan", &p, &["--only", "cgroup"]);
    assert_eq!(plan.code, 0, "a warning is not a change");
    assert!(plan.stdout.contains("cgroup driver mismatch: the kubelet uses systemd (kubernetes.cgroup_driver) but containerd uses cgroupfs (runc SystemdCgroup = false in /etc/containerd/config.toml, config schema 2)"), "{}", plan.stdout);
    let out = sb.json("apply", &p, &["--only", "cgroup"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("expected cgroupsPath to be of format slice:prefix:name")
    );
    assert!(out.stdout.contains("do not --skip containerd"));
}

#[test]
fn stale_kubelet_flag_is_removed_and_v1_and_kubelet_config_are_explained() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    std::fs::remove_file(sb.path("/sys/fs/cgroup/cgroup.controllers")).unwrap();
    sb.write(
        "/proc/self/mountinfo",
        "25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n26 25 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
    );
    sb.write(
        "/etc/default/kubelet",
        "KUBELET_EXTRA_ARGS=\"--node-ip=192.168.33.13 --cgroup-driver=cgroupfs\"\n",
    );
    sb.write(
        "/var/lib/kubelet/config.yaml",
        "kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
    );
    let p = sb.profile(
        "p.toml",
        "[node]\nname = \"n\"\nrole = \"worker\"\naddress = \"10.0.0.2\"\n[kubernetes]\nversion = \"1.35.2\"\n",
    );
    let out = sb.json("apply", &p, &RUNTIME);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("cgroup v1 (legacy) found, and the kubelet of Kubernetes 1.35.2 refuses cgroup v1 by default"), "{}", out.stdout);
    assert!(out.stdout.contains("/var/lib/kubelet/config.yaml (written by kubeadm from the cluster's kubelet-config) says cgroupDriver: cgroupfs"));
    assert!(
        out.stdout
            .contains("remove the stale --cgroup-driver=cgroupfs")
    );
    assert_eq!(
        sb.read("/etc/default/kubelet"),
        "KUBELET_EXTRA_ARGS=\"--node-ip=192.168.33.13\"\n"
    );
    assert_eq!(sb.json("apply", &p, &RUNTIME).summary()["changes"], 0);
}

#[test]
fn systemd_driver_without_systemd_fails_apply_only() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    std::fs::remove_dir_all(sb.path("/run/systemd")).unwrap();
    let p = profile(&sb, "");
    let plan = sb.json("plan", &p, &["--only", "cgroup"]);
    assert_eq!(plan.code, 0);
    assert!(plan.stdout.contains("systemd is not the init system here"));
    let out = sb.json("apply", &p, &["--only", "cgroup"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("kubernetes.cgroup_driver = \\\"cgroupfs\\\"")
    );
}

#[test]
fn verify_asks_containerd_on_the_socket_it_serves() {
    let sb = Sandbox::new();
    installed(&sb, "1.6.20~ds1", "active enabled");
    // containerd serves another socket ([grpc] address); the profile names it, and `ctr`
    // (like the real one) answers only there.
    sb.write(
        "/etc/containerd/config.toml",
        &format!(
            "{}\n[grpc]\n  address = \"/run/k8s/containerd.sock\"\n",
            fixture("v2-debian12-package.toml")
        ),
    );
    let p = profile(&sb, "[containerd]\nsocket = \"/run/k8s/containerd.sock\"\n");
    let out = apply(&sb, &p);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        sb.take_calls()
            .contains(&"ctr --address /run/k8s/containerd.sock version".to_string())
    );
    assert!(
        sb.read("/etc/crictl.yaml")
            .contains("unix:///run/k8s/containerd.sock")
    );
}
