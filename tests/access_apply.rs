//! `[access]` on the first control plane: after `kubeadm init` (the kubeadm stand-in), the
//! RBAC objects are applied with server-side apply and every permission is checked with
//! `kubectl auth can-i`, against tests/standins/kubectl-rbac installed as the sandbox's
//! `kubectl` (it keeps the objects it was given and answers can-i with its own RBAC
//! evaluator, written from the Kubernetes RBAC docs). Re-runs change nothing; objects
//! removed from the profile are reported, and deleted only with `prune`.

mod common;

use std::path::{Path, PathBuf};

use common::{Out, Sandbox};

const APPLY: &str = "kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --field-manager=bootstrap -f -";

/// A first control plane: the kubeadm stand-in, containerd configured, the RBAC kubectl
/// stand-in as `kubectl`, and a secrets bundle.
fn control_plane() -> (Sandbox, tempfile::TempDir) {
    let sb = Sandbox::new();
    std::fs::copy(common::kubeadm_standin(), sb.bin.join("kubeadm")).unwrap();
    std::fs::copy(sb.bin.join("kubectl-rbac"), sb.bin.join("kubectl")).unwrap();
    sb.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    sb.write(
        "/etc/containerd/config.toml",
        "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10.1'\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
    );
    sb.write("/.standin/containerd-version", "2.1.4");
    let bundle = sb.path("/etc/bootstrap/cluster");
    let out = sb.run(&["secrets", "generate", "--out", bundle.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (sb, tempfile::tempdir().unwrap())
}

fn run(sb: &Sandbox, cluster: &Path, verb: &str, profile: &Path) -> Out {
    let output = sb
        .command()
        .env("STANDIN_CLUSTER", cluster)
        .args([verb, "--output", "json", "--skip", "packages", "--profile"])
        .arg(profile)
        .output()
        .unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn exercise(sb: &Sandbox, extra: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/rbac-exercise.toml");
    let text = std::fs::read_to_string(path).unwrap();
    sb.profile("exercise.toml", &format!("{text}{extra}"))
}

fn kubectl_calls(sb: &Sandbox) -> Vec<String> {
    sb.take_calls()
        .into_iter()
        .filter(|c| c.starts_with("kubectl "))
        .collect()
}

#[test]
fn the_exercise_is_applied_after_init_verified_with_can_i_and_idempotent() {
    let (sb, cluster) = control_plane();
    let profile = exercise(&sb, "");
    let plan = run(&sb, cluster.path(), "plan", &profile);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("apply 8 RBAC object(s) from [access] with `{APPLY}`, then check 8 permission(s) that must be granted and 3 that must be denied")),
        "{}",
        plan.stdout
    );
    assert!(
        kubectl_calls(&sb).is_empty(),
        "plan runs no kubectl before init"
    );

    let first = run(&sb, cluster.path(), "apply", &profile);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let calls = kubectl_calls(&sb);
    assert_eq!(calls[0], APPLY, "{calls:#?}");
    let can_i: Vec<&String> = calls
        .iter()
        .filter(|c| c.contains(" auth can-i "))
        .collect();
    assert_eq!(can_i.len(), 11, "{calls:#?}");
    assert!(calls.contains(&"kubectl --kubeconfig /etc/kubernetes/admin.conf auth can-i create deployments.apps --as system:serviceaccount:ns1:pipeline -n ns2".to_string()), "{calls:#?}");
    let state = sb.read("/.standin/rbac.json");
    assert!(
        state.contains("RoleBinding/ns2/pipeline-deployment-manager"),
        "{state}"
    );

    // Converged: the second run lists the objects, finds them all, and changes nothing.
    let second = run(&sb, cluster.path(), "apply", &profile);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(second.summary()["changed"], 0, "{}", second.stdout);
    let calls = kubectl_calls(&sb);
    assert!(
        calls.iter().all(|c| c.contains(" get ")),
        "only reads: {calls:#?}"
    );

    // A changed rule is applied again.
    let widened = sb.profile(
        "widened.toml",
        &std::fs::read_to_string(&profile).unwrap().replace(
            "verbs = [\"create\", \"delete\"]",
            "verbs = [\"create\", \"delete\", \"patch\"]",
        ),
    );
    let third = run(&sb, cluster.path(), "apply", &widened);
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert!(
        third
            .stdout
            .contains("missing or different: ClusterRole/pipeline-deployment-manager"),
        "{}",
        third.stdout
    );
    assert!(sb.read("/.standin/rbac.json").contains("\"patch\""));
}

#[test]
fn objects_removed_from_the_profile_are_reported_and_deleted_only_with_prune() {
    let (sb, cluster) = control_plane();
    let profile = exercise(&sb, "");
    let first = run(&sb, cluster.path(), "apply", &profile);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let text = std::fs::read_to_string(&profile).unwrap();
    let cut = text
        .find("[[access.bindings]]\nname = \"pipeline-deployment-manager\"\nnamespace = \"ns2\"")
        .unwrap();
    let fewer = sb.profile("fewer.toml", &text[..cut]);
    let kept = run(&sb, cluster.path(), "apply", &fewer);
    assert_eq!(kept.code, 0, "{}\n{}", kept.stdout, kept.stderr);
    assert!(kept.stdout.contains("access: RoleBinding/ns2/pipeline-deployment-manager was applied by bootstrap but is no longer in [access]; it is kept"), "{}", kept.stdout);
    assert!(
        sb.read("/.standin/rbac.json")
            .contains("RoleBinding/ns2/pipeline-deployment-manager")
    );
    let pruned = sb.profile(
        "pruned.toml",
        &text[..cut].replace("[access]\n", "[access]\nprune = true\n"),
    );
    let out = run(&sb, cluster.path(), "apply", &pruned);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(kubectl_calls(&sb).contains(&"kubectl --kubeconfig /etc/kubernetes/admin.conf delete rolebinding pipeline-deployment-manager -n ns2".to_string()));
    assert!(
        !sb.read("/.standin/rbac.json")
            .contains("RoleBinding/ns2/pipeline-deployment-manager")
    );
    assert_eq!(
        run(&sb, cluster.path(), "apply", &pruned).summary()["changed"],
        0
    );
}

#[test]
fn a_permission_the_cluster_grants_beyond_the_profile_fails_naming_the_binding_and_rule() {
    let (sb, cluster) = control_plane();
    // Another tool's ClusterRoleBinding lets every service account edit everything.
    sb.write(
        "/.standin/rbac.json",
        r#"{"managers": {}, "objects": {"ClusterRoleBinding//too-wide": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "too-wide"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}, "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:serviceaccounts"}]}}}"#,
    );
    let profile = exercise(&sb, "");
    let out = run(&sb, cluster.path(), "apply", &profile);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("service account ns1/pipeline must not create deployments.apps in namespace ns2: kubectl auth can-i answered yes [RoleBinding ns1/pipeline-deployment-manager grants nothing more]"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_bad_access_section_applies_nothing() {
    let (sb, cluster) = control_plane();
    let profile = exercise(
        &sb,
        "\n[[access.bindings]]\nname = \"x\"\nrole = \"view\"\nusers = [\"jane\"]\n",
    );
    let out = run(&sb, cluster.path(), "apply", &profile);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("can only reference a ClusterRole"),
        "{}",
        out.stdout
    );
    assert!(sb.take_changing_calls().is_empty(), "nothing ran");
}
