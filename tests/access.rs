//! `[access]`: located errors for bad profiles, `render access` manifests checked against
//! the real Kubernetes OpenAPI schemas (PyPI's kubernetes-validate), and the shipped
//! examples' `can-i` checks answered by the RBAC stand-in (tests/standins/kubectl-rbac,
//! its own evaluator written from the RBAC docs).
#![cfg_attr(not(kubernetes_validate), allow(dead_code))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Sandbox;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name)
}

const HEAD: &str = "[node]\nname = \"n\"\nrole = \"control-plane\"\n";

fn render(sb: &Sandbox, profile: &Path) -> String {
    let out = sb.run(&["render", "access", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

/// The stand-in run directly by the test (as `kubectl`), with the sandbox's state.
fn standin(sb: &Sandbox, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    use std::io::Write;
    let mut cmd = Command::new(sb.bin.join("kubectl-rbac"));
    cmd.args(args)
        .env("SANDBOX_ROOT", &sb.root)
        .env("STANDIN_LOG", &sb.log)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Server-side apply of `yaml` through the stand-in, as the agent runs it.
fn apply(sb: &Sandbox, yaml: &str) -> (i32, String) {
    let args = [
        "apply",
        "--server-side",
        "--field-manager=bootstrap",
        "-f",
        "-",
    ];
    standin(sb, &args, Some(yaml))
}

/// The stand-in's exit code for `kubectl auth can-i ARGS` (space-separated).
fn can_i(sb: &Sandbox, args: &str) -> i32 {
    let mut argv = vec!["auth", "can-i"];
    argv.extend(args.split(' '));
    standin(sb, &argv, None).0
}

/// The checks `render access --output json` lists: (args, allowed, because).
fn checks(sb: &Sandbox, profile: &Path) -> Vec<(Vec<String>, bool, String)> {
    let out = sb.run(&[
        "--output",
        "json",
        "render",
        "access",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let args = c["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (
                args,
                c["allowed"].as_bool().unwrap(),
                c["because"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_shipped_rbac_examples_pass_their_can_i_checks_against_the_rbac_standin() {
    for name in ["rbac-exercise.toml", "rbac-examples.toml"] {
        let sb = Sandbox::new();
        let yaml = render(&sb, &example(name));
        let (code, text) = apply(&sb, &yaml);
        assert_eq!(code, 0, "{name}: {text}");
        let all = checks(&sb, &example(name));
        assert!(all.iter().filter(|c| c.1).count() >= 6, "{name}: {all:?}");
        assert!(
            all.iter().any(|c| !c.1),
            "{name}: some checks must be denied"
        );
        for (args, allowed, because) in &all {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, answer) = standin(&sb, &argv, None);
            assert_eq!(
                code == 0,
                *allowed,
                "{name}: kubectl {} answered {answer} ({because})",
                args.join(" ")
            );
        }
    }
    // The exercise itself, asked directly: pipeline may create Deployments in ns1 and ns2
    // and view cluster-wide, but not create Deployments elsewhere or read Secrets.
    let sb = Sandbox::new();
    let yaml = render(&sb, &example("rbac-exercise.toml"));
    assert_eq!(apply(&sb, &yaml).0, 0);
    for (args, want) in [
        (
            "create deployments.apps --as system:serviceaccount:ns1:pipeline -n ns1",
            0,
        ),
        (
            "delete deployments.apps --as system:serviceaccount:ns2:pipeline -n ns2",
            0,
        ),
        (
            "list pods --as system:serviceaccount:ns2:pipeline -n kube-system",
            0,
        ),
        (
            "create deployments.apps --as system:serviceaccount:ns1:pipeline -n default",
            1,
        ),
        (
            "create deployments.apps --as system:serviceaccount:ns1:pipeline -n ns2",
            1,
        ),
        (
            "get secrets --as system:serviceaccount:ns1:pipeline -n ns1",
            1,
        ),
    ] {
        assert_eq!(can_i(&sb, args), want, "can-i {args}");
    }
}

#[test]
fn bad_access_sections_are_refused_with_every_problem_located() {
    let sb = Sandbox::new();
    let profile = sb.profile(
        "bad.toml",
        &format!(
            "{HEAD}[access]\nnamespaces = [\"ns1\", \"ns1\"]\nservice_accounts = [{{ namespace = \"ns1\", name = \"pipeline\" }}]\n\
[[access.roles]]\nname = \"deployer\"\nnamespace = \"ns1\"\nrules = [{{ api_groups = [\"apps\"], resources = [\"deployments\"], verbs = [\"craete\", \"Delete\"] }}]\n\
[[access.roles]]\nname = \"deployer\"\nnamespace = \"ns1\"\n\
[[access.bindings]]\nname = \"global\"\nrole = \"deployer\"\nusers = [\"jane\"]\n\
[[access.bindings]]\nname = \"wrong-kind\"\nnamespace = \"ns1\"\nrole = \"view\"\nusers = [\"jane\"]\n\
[[access.bindings]]\nname = \"unknown\"\ncluster_role = \"veiw\"\ngroups = [\"manager\"]\n\
[[access.bindings]]\nname = \"ok-cluster-role-in-namespace\"\nnamespace = \"ns1\"\ncluster_role = \"edit\"\nservice_accounts = [{{ namespace = \"ns1\", name = \"pipeline\" }}]\n"
        ),
    );
    let out = sb.run(&["render", "access", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let err = &out.stderr;
    for want in [
        "7 problems",
        "bad.toml:5:22: access.namespaces[1]: namespace `ns1` is declared twice",
        "access.roles[0].rules[0].verbs[0]: unknown verb `craete`",
        "did you mean \"create\"?",
        "access.roles[0].rules[0].verbs[1]: unknown verb `Delete`",
        "access.roles[1].name: role `deployer` in namespace `ns1` is declared twice",
        "access.bindings[0].role: a cluster-wide binding (ClusterRoleBinding, no namespace) can only reference a ClusterRole",
        "access.bindings[1].role: `view` is a ClusterRole, not a Role",
        "write cluster_role = \"view\"",
        "access.bindings[2].cluster_role: cluster role `veiw` is neither declared nor built in",
        "did you mean \"view\"?",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    assert!(
        !err.contains("ok-cluster-role-in-namespace"),
        "a RoleBinding may reference a ClusterRole:\n{err}"
    );
    assert!(out.stdout.is_empty(), "nothing rendered");
}

#[test]
fn hostile_names_are_refused_escaped_and_never_break_the_report() {
    let sb = Sandbox::new();
    let huge = "a".repeat(100_000);
    let profile = sb.profile(
        "hostile.toml",
        &format!(
            "{HEAD}[access]\nnamespaces = [\"..\", \"ns\\nforged: line\", \"{huge}\"]\n\
[[access.cluster_roles]]\nname = \"../etc\"\nrules = [{{ api_groups = [\"\"], resources = [\"pods\\\"\"], verbs = [\"get\"] }}, {{ non_resource_urls = [\"healthz\"], verbs = [\"get\"] }}]\n\
[[access.bindings]]\nname = \"b\"\ncluster_role = \"view\"\nusers = [\"system:serviceaccount:ns:x\", \"evil\\u0007\"]\n"
        ),
    );
    let out = sb.run(&["profile", "validate", profile.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    let err = &out.stderr;
    assert!(
        !err.lines().any(|l| l.starts_with("forged")),
        "a newline in a value forged a line:\n{err}"
    );
    assert!(err.contains("namespace `ns\\nforged: line`"), "{err}");
    assert!(err.contains("invalid namespace `..`"), "{err}");
    assert!(err.contains("it is 100000 characters long"), "{err}");
    // Messages stay short (the source line itself is shown under them, as for any key).
    for line in err.lines().filter(|l| !l.contains(" | ")) {
        assert!(
            line.len() < 1000,
            "the huge value is echoed whole: {} bytes",
            line.len()
        );
    }
    assert!(
        err.contains("namespace `ns\\nforged: line`: it contains `\\n`"),
        "{err}"
    );
    assert!(
        err.contains("invalid cluster role name `../etc`: it contains '/'"),
        "{err}"
    );
    assert!(err.contains("invalid non-resource URL `healthz`"), "{err}");
    assert!(
        err.contains("a service account is not written as a user"),
        "{err}"
    );
    assert!(err.contains("invalid user `evil\\u{7}`"), "{err}");
}

#[test]
fn values_that_yaml_1_1_reads_as_booleans_stay_strings_for_the_standin() {
    let sb = Sandbox::new();
    let profile = sb.profile(
        "words.toml",
        &format!(
            "{HEAD}[access]\n[[access.cluster_roles]]\nname = \"on\"\nlabels = {{ \"example.com/aggregate\" = \"true\" }}\nrules = [{{ api_groups = [\"\"], resources = [\"pods\"], verbs = [\"get\"], resource_names = [\"no\", \"0x1F\"] }}]\n\
[[access.bindings]]\nname = \"yes\"\ncluster_role = \"on\"\nusers = [\"off\"]\ngroups = [\"null\"]\n"
        ),
    );
    let yaml = render(&sb, &profile);
    let (code, text) = apply(&sb, &yaml);
    assert_eq!(code, 0, "{text}\n{yaml}");
    for (args, want) in [
        ("get pods/no --as off", 0),
        ("get pods/0x1F --as off", 0),
        ("get pods/yes --as off", 1),
    ] {
        assert_eq!(can_i(&sb, &format!("{args} -A")), want, "{args}");
    }
}

/// The stand-in refuses what the API server refuses (so the checks above can fail): an
/// unquoted YAML 1.1 boolean as a name, a ClusterRoleBinding to a Role, a changed roleRef.
#[test]
fn the_rbac_standin_refuses_what_the_api_server_refuses() {
    let sb = Sandbox::new();
    let apply = |yaml: &str| apply(&sb, yaml);
    let crb = |kind: &str, name: &str| {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: {kind}\n  name: {name}\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: jane\n"
        )
    };
    assert_ne!(
        apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: on\n").0,
        0
    );
    assert_ne!(apply(&crb("Role", "x")).0, 0);
    assert_eq!(apply(&crb("ClusterRole", "view")).0, 0);
    let (code, text) = apply(&crb("ClusterRole", "edit"));
    assert_ne!(code, 0);
    assert!(text.contains("cannot change roleRef"), "{text}");
    assert_ne!(
        standin(&sb, &["apply", "-f", "-"], Some("")).0,
        0,
        "client-side apply is not modelled"
    );
}

/// Every Kubernetes minor kubernetes-validate carries from the supported range
/// (1.24–1.37): its schemas start at 1.25, so 1.24 is not covered.
const SCHEMA_MINORS: std::ops::RangeInclusive<u32> = 25..=37;

#[cfg(kubernetes_validate)]
fn kubernetes_validate(file: &Path, minor: u32) -> std::process::Output {
    Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet", "-k"])
        .arg(format!("1.{minor}.0"))
        .arg(file)
        .env("PYTHONPATH", env!("KUBERNETES_VALIDATE"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    not(kubernetes_validate),
    ignore = "needs PyPI's kubernetes-validate: set BOOTSTRAP_KUBERNETES_VALIDATE to its pip --target directory when building (.ci/run does)"
)]
fn rendered_manifests_are_valid_against_the_kubernetes_schemas_of_every_supported_minor() {
    #[cfg(kubernetes_validate)]
    {
        let sb = Sandbox::new();
        let full = sb.profile(
            "full.toml",
            &format!(
                "{HEAD}[access]\nnamespaces = [\"ns1\"]\nservice_accounts = [{{ namespace = \"ns1\", name = \"on\" }}]\n\
[[access.roles]]\nname = \"r\"\nnamespace = \"ns1\"\nrules = [{{ api_groups = [\"\", \"apps\"], resources = [\"pods\", \"pods/log\"], verbs = [\"get\", \"*\"], resource_names = [\"yes\"] }}]\n\
[[access.cluster_roles]]\nname = \"agg\"\naggregate_from = [{{ \"example.com/agg\" = \"true\" }}]\n\
[[access.cluster_roles]]\nname = \"part\"\nlabels = {{ \"example.com/agg\" = \"true\" }}\nrules = [{{ non_resource_urls = [\"/healthz\", \"/logs/*\"], verbs = [\"get\"] }}]\n\
[[access.bindings]]\nname = \"rb\"\nnamespace = \"ns1\"\nrole = \"r\"\nusers = [\"jane\"]\ngroups = [\"manager\"]\nservice_accounts = [{{ namespace = \"ns1\", name = \"on\" }}]\n\
[[access.bindings]]\nname = \"crb\"\ncluster_role = \"agg\"\ngroups = [\"manager\"]\n"
            ),
        );
        let mut files = vec![full];
        for name in ["rbac-exercise.toml", "rbac-examples.toml"] {
            files.push(example(name));
        }
        for profile in files {
            let yaml = render(&sb, &profile);
            let file = sb.dir.path().join("manifests.yaml");
            std::fs::write(&file, &yaml).unwrap();
            for minor in SCHEMA_MINORS {
                let out = kubernetes_validate(&file, minor);
                assert!(
                    out.status.success(),
                    "{}: 1.{minor}: {}{}\n{yaml}",
                    profile.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        // The validator can fail: a verb list written as one string, an unknown key.
        let bad = sb.dir.path().join("bad.yaml");
        std::fs::write(&bad, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n  namespace: ns1\nrules:\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: create\n").unwrap();
        assert!(!kubernetes_validate(&bad, 37).status.success());
        std::fs::write(
            &bad,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  lables: {}\n",
        )
        .unwrap();
        assert!(!kubernetes_validate(&bad, 25).status.success());
    }
}
