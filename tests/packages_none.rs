//! `packages.method = "none"` installs nothing but still observes: kubeadm, kubelet and
//! kubectl must be on the node and report `kubernetes.version`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Sandbox;

const PROFILE: &str = "[node]\nname = \"n1\"\nrole = \"worker\"\naddress = \"10.0.0.5\"\n[kubernetes]\nversion = \"1.35.2\"\n[packages]\nmethod = \"none\"\n";

/// A program in the root that prints `output` for any arguments.
fn program(sb: &Sandbox, path: &str, output: &str) {
    sb.write(path, &format!("#!/bin/sh\necho '{output}'\n"));
    std::fs::set_permissions(sb.path(path), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn method_none_requires_the_three_programs_at_the_profile_version() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", PROFILE);
    let out = sb.json("apply", &profile, &["--only", "packages"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let why = out.reason("packages");
    for name in [
        "kubeadm is not installed",
        "kubelet is not installed",
        "kubectl is not installed",
    ] {
        assert!(why.contains(name), "{name}: {why}");
    }

    program(&sb, "/usr/bin/kubeadm", "v1.35.2");
    program(&sb, "/usr/bin/kubelet", "Kubernetes v1.34.1");
    program(&sb, "/usr/local/bin/kubectl", "Client Version: v1.35.2");
    let out = sb.json("apply", &profile, &["--only", "packages"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let why = out.reason("packages");
    assert!(why.contains("/usr/bin/kubelet: 1.34.1"), "{why}");
    assert!(!why.contains("kubeadm:"), "{why}");

    program(&sb, "/usr/bin/kubelet", "Kubernetes v1.35.2");
    let out = sb.json("apply", &profile, &["--only", "packages"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.status("packages"), "ok", "{}", out.stdout);
}
