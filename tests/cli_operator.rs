//! What an operator meets in the first hour: exit codes (64 for usage errors), help that
//! documents them, `--output json` everywhere it means something, hints that repeat the run's
//! options, completions and man pages, `version`, and the day-2 `join-command`/`token`.

mod common;

use std::path::Path;

use common::{MASTER_PROFILE, Sandbox};

const SUBCOMMANDS: [&[&str]; 15] = [
    &[],
    &["plan"],
    &["apply"],
    &["check"],
    &["profile"],
    &["profile", "validate"],
    &["profile", "show"],
    &["render", "kubeadm"],
    &["secrets", "generate"],
    &["version"],
    &["join-command"],
    &["token", "create"],
    &["token", "list"],
    &["completions"],
    &["man"],
];

fn rendered_profile(sb: &Sandbox) -> std::path::PathBuf {
    sb.profile(
        "render.toml",
        "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = \"192.168.56.10\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\nmode = \"init\"\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\n",
    )
}

#[test]
fn usage_errors_exit_64_and_help_and_version_exit_0() {
    let sb = Sandbox::new();
    for args in [
        &["plan", "--bogus"][..],
        &["plan", "--profile"],
        &[],
        &["frobnicate"],
        &["plan", "--only", "swapp"],
        &["secrets", "generate"],
        &["profile", "validate", "a.toml", "--profile", "b.toml"],
        &["--output", "xml", "version"],
    ] {
        let out = sb.run(args);
        assert_eq!(out.code, 64, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: usage errors go to stderr");
    }
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["--version"],
        &["help", "apply"],
    ] {
        let out = sb.run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn every_command_documents_the_exit_codes_in_its_help() {
    let sb = Sandbox::new();
    for args in SUBCOMMANDS {
        let mut full = args.to_vec();
        full.push("--help");
        let out = sb.run(&full);
        assert_eq!(out.code, 0, "{full:?}");
        for line in ["Exit codes:", "  2   changes pending", "  64  usage error"] {
            assert!(
                out.stdout.contains(line),
                "{full:?} lacks {line:?}:\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn profile_validate_and_show_take_profile_like_the_other_commands() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let path = profile.to_str().unwrap();
    for verb in ["validate", "show"] {
        let by_flag = sb.run(&["profile", verb, "--profile", path]);
        let by_short = sb.run(&["profile", verb, "-p", path]);
        let positional = sb.run(&["profile", verb, path]);
        assert_eq!(by_flag.code, 0, "{verb}: {}", by_flag.stderr);
        assert_eq!(by_flag.stdout, positional.stdout, "{verb}");
        assert_eq!(by_short.stdout, positional.stdout, "{verb}");
    }
    let out = sb.run(&["--output", "json", "profile", "validate", "--profile", path]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["event"], "profile_valid");
    assert_eq!(v["profile"], path);
}

#[test]
fn only_and_skip_list_the_steps_in_help_and_completions() {
    let sb = Sandbox::new();
    let help = sb.run(&["plan", "--help"]).stdout;
    let steps = "hosts, modules, sysctl, swap, packages, containerd, cgroup, preflight, kubeadm, certificates";
    assert!(help.contains(steps), "{help}");
    let bash = sb.run(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(
        bash.stdout
            .contains("--only)\n                    COMPREPLY=($(compgen -W \"hosts modules sysctl swap packages containerd cgroup preflight kubeadm certificates\""),
        "{}",
        bash.stdout
    );
}

#[test]
fn completions_and_man_survive_a_closed_pipe() {
    let sb = Sandbox::new();
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["version"],
        &["profile", "show", "-p"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = sb.command();
        command.args(args);
        if args.ends_with(&["-p"]) {
            command.arg(sb.profile("p.toml", MASTER_PROFILE));
        }
        let out = command.stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 1),
            "{args:?}: {:?}",
            out.status
        );
    }
}

#[test]
fn json_output_where_it_means_something_and_refused_where_it_does_not() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let json = |args: &[&str]| {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        let out = sb.run(&full);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout.lines().count(), 1, "{args:?}: one document");
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    let shown = json(&["profile", "show", "-p", profile.to_str().unwrap()]);
    assert_eq!(shown["profile"]["node"]["name"], "master");
    let render = rendered_profile(&sb);
    let rendered = json(&["render", "kubeadm", "-p", render.to_str().unwrap()]);
    assert!(
        rendered["yaml"]
            .as_str()
            .unwrap()
            .contains("kind: InitConfiguration")
    );
    assert!(
        !rendered.to_string().contains("0123456789abcdef"),
        "redacted: {rendered}"
    );
    let kinds: Vec<&str> = rendered["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"InitConfiguration") && kinds.contains(&"ClusterConfiguration"),
        "{kinds:?}"
    );
    let out_dir = sb.dir.path().join("bundle");
    let secrets = json(&["secrets", "generate", "--out", out_dir.to_str().unwrap()]);
    assert!(
        secrets["ca_cert_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(secrets["files"].as_array().unwrap().len() >= 4, "{secrets}");
    let token = std::fs::read_to_string(out_dir.join("token")).unwrap();
    assert!(
        !secrets.to_string().contains(token.trim()),
        "no secret in the JSON"
    );
    let version = json(&["version"]);
    assert_eq!(version["bootstrap"]["version"], env!("CARGO_PKG_VERSION"));
    for args in [&["completions", "bash"][..], &["man"]] {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        let out = sb.run(&full);
        assert_eq!(out.code, 64, "{args:?} refuses json: {}", out.stdout);
        assert!(
            out.stderr.contains("--output json has no meaning"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn the_apply_hint_repeats_root_profile_only_and_skip() {
    let sb = Sandbox::new();
    let profile = sb.profile("my profile.toml", MASTER_PROFILE);
    let path = profile.to_str().unwrap();
    let root = sb.root.to_str().unwrap();
    for (verb, extra, expect) in [
        (
            "plan",
            &["--only", "hosts", "--only", "swap"][..],
            "--only hosts --only swap",
        ),
        ("check", &["--skip", "packages"], "--skip packages"),
    ] {
        let mut args = vec![verb, "--profile", path];
        args.extend_from_slice(extra);
        let out = sb.run(&args);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let hint = format!("`bootstrap apply --root {root} --profile '{path}' {expect}`");
        assert!(
            out.stdout.contains(&hint),
            "{verb}: {hint} not in\n{}",
            out.stdout
        );
    }
}

#[test]
fn man_pages_come_from_the_clap_definitions() {
    let sb = Sandbox::new();
    let page = sb.run(&["man"]);
    assert_eq!(page.code, 0);
    assert!(page.stdout.starts_with(".ie") && page.stdout.contains(".TH bootstrap 1"));
    assert!(
        page.stdout.contains("usage error"),
        "exit codes in the man page"
    );
    let dir = sb.dir.path().join("man1");
    let out = sb.run(&["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for page in [
        "bootstrap.1",
        "bootstrap-plan.1",
        "bootstrap-join-command.1",
        "bootstrap-token-list.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
}

/// Writes an executable script into the sandbox's stand-in directory.
fn standin(sb: &Sandbox, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = sb.bin.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn version_reports_the_agent_and_each_installed_program() {
    let sb = Sandbox::new();
    // Outputs as the upstream programs print them: `kubeadm version -o short` (v1.35.0),
    // `kubelet --version` (Kubernetes v1.35.0), `runc --version` (runc version 1.2.5 ...).
    standin(
        &sb,
        "kubeadm",
        "#!/bin/sh\n[ \"$*\" = 'version -o short' ] || exit 1\necho v1.35.0\n",
    );
    standin(
        &sb,
        "kubelet",
        "#!/bin/sh\n[ \"$*\" = --version ] || exit 1\necho 'Kubernetes v1.34.2'\n",
    );
    standin(
        &sb,
        "runc",
        "#!/bin/sh\nprintf 'runc version 1.2.5\\ncommit: v1.2.5-0-g59923ef\\nspec: 1.2.0\\n'\n",
    );
    standin(
        &sb,
        "kubectl",
        "#!/bin/sh\necho 'kubectl: not really' >&2; exit 3\n",
    );
    sb.write("/usr/bin/containerd", "");
    let out = sb.run(&["--output", "json", "version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let commit = v["bootstrap"]["commit"].as_str().unwrap();
    assert!(commit.len() >= 7 && commit != "unknown", "{v}");
    let p = &v["programs"];
    assert_eq!(p["kubeadm"]["version"], "1.35.0");
    assert_eq!(p["kubelet"]["version"], "1.34.2");
    assert_eq!(p["runc"]["version"], "1.2.5");
    assert_eq!(p["containerd"]["version"], "1.6.20~ds1");
    assert_eq!(p["kubectl"]["installed"], true);
    assert!(
        p["kubectl"]["error"]
            .as_str()
            .unwrap()
            .contains("not really"),
        "{v}"
    );
    let human = sb.run(&["version"]).stdout;
    assert!(
        human.starts_with(&format!(
            "bootstrap  {} (commit {commit})",
            env!("CARGO_PKG_VERSION")
        )),
        "{human}"
    );
    assert!(human.contains("kubeadm    1.35.0\n"), "{human}");
}

/// A kubeadm stand-in for the token commands, after the kubeadm reference
/// (https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-token/): `token create
/// --print-join-command` prints one `kubeadm join` line; with `--certificate-key K` it adds
/// `--control-plane --certificate-key K`; `init phase upload-certs --upload-certs` prints the
/// new key on its last line; `token list -o json` prints one JSON object per token. It refuses
/// a missing kubeconfig and a TTL that is not a Go duration.
const KUBEADM_TOKENS: &str = r#"#!/bin/sh
echo "kubeadm $*" >> "$STANDIN_LOG"
kc=""; ttl=1h; key=""; args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kc=$2; shift 2 ;;
    --ttl) ttl=$2; shift 2 ;;
    --certificate-key) key=$2; shift 2 ;;
    *) args="$args $1"; shift ;;
  esac
done
[ -f "$kc" ] || { echo "couldn't load kubeconfig $kc" >&2; exit 1; }
echo "$ttl" | grep -Eq '^([0-9]+(h|m|s))+$' || { echo "invalid argument \"$ttl\" for \"--ttl\" flag: time: invalid duration" >&2; exit 1; }
case "$args" in
  " token create --print-join-command")
    line="kubeadm join 192.168.56.10:6443 --token q1w2e3.r4t5y6u7i8o9p0a1 --discovery-token-ca-cert-hash sha256:$(printf 'ab%.0s' $(seq 32))"
    [ -n "$key" ] && line="$line --control-plane --certificate-key $key"
    echo "$line" ;;
  " token create") echo "z9y8x7.w6v5u4t3s2r1q0p9" ;;
  " init phase upload-certs --upload-certs")
    echo '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace'
    echo '[upload-certs] Using certificate key:'
    echo 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00' ;;
  " token list -o json")
    echo '{"kind":"BootstrapToken","apiVersion":"output.kubeadm.k8s.io/v1alpha3","token":"abcdef.0123456789abcdef","description":"made by kubeadm init","expires":"2026-12-02T10:00:00Z","usages":["authentication","signing"],"groups":["system:bootstrappers:kubeadm:default-node-token"]}'
    echo '{"kind":"BootstrapToken","apiVersion":"output.kubeadm.k8s.io/v1alpha3","token":"q1w2e3.r4t5y6u7i8o9p0a1","usages":["authentication"],"groups":[]}' ;;
  *) echo "unknown command: $args" >&2; exit 1 ;;
esac
"#;

#[test]
fn join_command_prints_a_fresh_command_and_token_lists_hide_secrets() {
    let sb = Sandbox::new();
    standin(&sb, "kubeadm", KUBEADM_TOKENS);
    let not_cp = sb.run(&["join-command"]);
    assert_eq!(not_cp.code, 1);
    assert!(
        not_cp.stderr.contains("run this on a control plane"),
        "{}",
        not_cp.stderr
    );
    sb.write("/etc/kubernetes/admin.conf", "apiVersion: v1\n");
    let admin = sb.path("/etc/kubernetes/admin.conf");

    let worker = sb.run(&["join-command", "--ttl", "30m"]);
    assert_eq!(worker.code, 0, "{}", worker.stderr);
    assert!(
        worker
            .stdout
            .starts_with("kubeadm join 192.168.56.10:6443 --token q1w2e3.r4t5y6u7i8o9p0a1 "),
        "{}",
        worker.stdout
    );
    assert!(!worker.stdout.contains("--control-plane"));
    let calls = sb.take_calls();
    assert!(
        calls.contains(&format!(
            "kubeadm token create --print-join-command --ttl 30m --kubeconfig {}",
            admin.display()
        )),
        "{calls:?}"
    );

    let cp = sb.run(&["--output", "json", "join-command", "--control-plane"]);
    assert_eq!(cp.code, 0, "{}", cp.stderr);
    let v: serde_json::Value = serde_json::from_str(&cp.stdout).unwrap();
    assert_eq!(v["role"], "control-plane");
    assert!(v["command"].as_str().unwrap().ends_with("--control-plane --certificate-key c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"), "{v}");
    let journal = sb.root.join("var/lib/bootstrap");
    assert!(
        !journal.exists(),
        "a day-2 command writes nothing on the node"
    );

    let bad = sb.run(&["join-command", "--ttl", "forever"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("invalid duration"), "{}", bad.stderr);

    let created = sb.run(&["token", "create", "--ttl", "2h"]);
    assert_eq!(created.stdout, "z9y8x7.w6v5u4t3s2r1q0p9\n");
    for output in ["human", "json"] {
        let list = sb.run(&["--output", output, "token", "list"]);
        assert_eq!(list.code, 0, "{}", list.stderr);
        assert!(
            list.stdout.contains("abcdef") && list.stdout.contains("q1w2e3"),
            "{}",
            list.stdout
        );
        for secret in ["0123456789abcdef", "r4t5y6u7i8o9p0a1"] {
            assert!(!list.stdout.contains(secret), "{output}: {}", list.stdout);
        }
    }
}

#[test]
fn readme_documents_exit_codes_and_the_man_page() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains("bootstrap man"),
        "README installs the man page"
    );
    assert!(readme.contains("64"), "README states the usage exit code");
}

/// Four mistakes of four kinds: an unknown key, an unknown value, a malformed value of a
/// required key, and a validation problem.
const FOUR_MISTAKES: &str = r#"[node]
name = "n1"
role = "worker"
adress = "10.0.0.5"

[swap]
policy = "offf"

[kubernetes]
version = "1.35"

[modules]
load = ["overlay"]
"#;

#[test]
fn every_profile_problem_is_reported_at_once() {
    let sb = Sandbox::new();
    let profile = sb.profile("four.toml", FOUR_MISTAKES);
    let path = profile.to_str().unwrap();
    let out = sb.run(&["profile", "validate", "--profile", path]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "invalid profile {path}: 4 problems; nothing was changed"
        )),
        "{}",
        out.stderr
    );
    let located: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with(path)).collect();
    assert_eq!(
        located,
        [
            format!("{path}:4:1: node.adress: unknown key `adress`"),
            format!("{path}:7:10: swap.policy: unknown value `offf`"),
            format!("{path}:10:11: kubernetes.version: invalid Kubernetes version `1.35`"),
            format!(
                "{path}:13:8: modules.load: `net.bridge.bridge-nf-call-iptables`, `net.bridge.bridge-nf-call-ip6tables` exist only when br_netfilter is loaded, but modules.load leaves it out"
            ),
        ]
    );
    // A missing required key is one problem, not followed by what its absence implies.
    let no_node = sb.profile(
        "no-node.toml",
        "[swap]\npolicy = \"of\"\n[hosts]\nentries = 3\n",
    );
    let out = sb.run(&["profile", "validate", no_node.to_str().unwrap()]);
    assert!(out.stderr.contains(": 3 problems;"), "{}", out.stderr);
}

#[test]
fn json_errors_carry_structured_diagnostics() {
    let sb = Sandbox::new();
    let profile = sb.profile("four.toml", FOUR_MISTAKES);
    let path = profile.to_str().unwrap();
    for args in [
        vec!["--output", "json", "profile", "validate", "--profile", path],
        vec!["--output", "json", "plan", "--profile", path],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.code, 1);
        let event: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(event["event"], "error");
        let d = event["diagnostics"].as_array().unwrap();
        assert_eq!(d.len(), 4, "{event}");
        assert_eq!(
            d[0],
            serde_json::json!({
                "file": path, "line": 4, "column": 1, "key": "node.adress",
                "message": "unknown key `adress`",
                "expected": "one of: name, role, address",
                "help": "did you mean `address`?",
            })
        );
        assert_eq!(d[2]["key"], "kubernetes.version");
        assert_eq!(d[2]["expected"], "MAJOR.MINOR.PATCH such as 1.31.4");
        assert_eq!(d[3]["line"], 13);
    }
}

#[test]
fn kubernetes_versions_outside_the_supported_range_are_located_errors() {
    let sb = Sandbox::new();
    for (version, ok) in [
        ("1.23.17", false),
        ("1.24.0", true),
        ("1.37.1", true),
        ("1.38.0", false),
    ] {
        let profile = sb.profile(
            "v.toml",
            &format!(
                "[node]\nname = \"n\"\nrole = \"worker\"\n\n[kubernetes]\nversion = \"{version}\"\n"
            ),
        );
        let out = sb.run(&["profile", "validate", profile.to_str().unwrap()]);
        assert_eq!(out.code == 0, ok, "{version}: {}", out.stderr);
        if !ok {
            assert!(
                out.stderr.contains(&format!(
                    ":6:11: kubernetes.version: Kubernetes {version} is outside the supported range"
                )),
                "{}",
                out.stderr
            );
            assert!(
                out.stderr
                    .contains("expected: a release from 1.24.0 to 1.37.x"),
                "{}",
                out.stderr
            );
        }
    }
}

#[test]
fn containerd_too_old_for_the_kubernetes_minor_is_warned_about() {
    let sb = Sandbox::new();
    sb.write("/usr/bin/containerd", "");
    // The containerd stand-in reports Debian 12's 1.6.20~ds1 by default.
    for (version, warned) in [("1.35.2", true), ("1.31.4", true)] {
        let profile = sb.profile(
            "c.toml",
            &format!("[node]\nname = \"n\"\nrole = \"worker\"\naddress = \"10.0.0.5\"\n[kubernetes]\nversion = \"{version}\"\n"),
        );
        let out = sb.json("plan", &profile, &["--only", "containerd"]);
        let warnings = out.notes("warning");
        assert_eq!(
            warnings
                .iter()
                .any(|w| w.contains("is not recommended for Kubernetes")),
            warned,
            "{version}: {warnings:?}"
        );
    }
    sb.write("/.standin/containerd-version", "2.2.1");
    let profile = sb.profile(
        "c.toml",
        "[node]\nname = \"n\"\nrole = \"worker\"\naddress = \"10.0.0.5\"\n[kubernetes]\nversion = \"1.35.2\"\n",
    );
    let out = sb.json("plan", &profile, &["--only", "containerd"]);
    assert!(
        !out.notes("warning")
            .iter()
            .any(|w| w.contains("not recommended")),
        "{:?}",
        out.notes("warning")
    );
}

#[test]
fn the_node_name_defaults_to_the_hostname_as_kubeadm_does() {
    let sb = Sandbox::new();
    sb.write("/proc/sys/kernel/hostname", "Worker-7\n");
    let profile = sb.profile(
        "noname.toml",
        "[node]\nrole = \"worker\"\naddress = \"10.0.0.7\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\ncontrol_plane_endpoint = \"10.0.0.1:6443\"\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\nca_cert_hash = \"sha256:abababababababababababababababababababababababababababababababab\"\n",
    );
    assert_eq!(
        sb.run(&["profile", "validate", profile.to_str().unwrap()])
            .code,
        0
    );
    let out = sb.run(&[
        "--output",
        "json",
        "render",
        "kubeadm",
        "-p",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let join = v["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "JoinConfiguration")
        .unwrap();
    assert_eq!(
        join["nodeRegistration"]["name"], "worker-7",
        "lowercased like kubeadm"
    );
    sb.write("/proc/sys/kernel/hostname", "bad_name\n");
    let bad = sb.run(&["render", "kubeadm", "-p", profile.to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("hostname `bad_name` is not a valid node name"),
        "{}",
        bad.stderr
    );
}

/// The profile embedded in a cloud-init user-data file (its `/etc/bootstrap/profile.toml`).
fn embedded(user_data: &serde_json::Value) -> (String, Vec<serde_json::Value>) {
    let files = user_data["write_files"].as_array().unwrap().clone();
    let profile = files
        .iter()
        .find(|f| f["path"] == "/etc/bootstrap/profile.toml")
        .and_then(|f| f["content"].as_str())
        .unwrap()
        .to_string();
    (profile, files)
}

#[test]
fn cloud_init_examples_serve_many_machines_and_ship_the_bundle() {
    use base64::Engine;
    let sb = Sandbox::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cloud-init");
    let plain = std::fs::read_to_string(dir.join("user-data.yaml")).unwrap();
    assert!(plain.starts_with("#cloud-config\n"));
    let marked: Vec<&str> = plain
        .lines()
        .filter(|l| l.ends_with("# bootstrap-binary"))
        .collect();
    assert_eq!(
        marked.len(),
        1,
        "the VM tier replaces exactly one marked line"
    );
    assert!(
        marked[0].starts_with("  - ") && marked[0].contains("sha256sum -c"),
        "{}",
        marked[0]
    );
    let doc: serde_json::Value = serde_norway::from_str(&plain).unwrap();
    let (profile, _) = embedded(&doc);
    assert!(
        !profile.contains("name ="),
        "no node name: the hostname is used"
    );

    let jinja = std::fs::read_to_string(dir.join("user-data-cluster.yaml")).unwrap();
    assert!(
        jinja.starts_with("## template: jinja\n#cloud-config\n"),
        "cloud-init's Jinja header"
    );
    assert!(jinja.contains("{{ v1.local_hostname }}"));
    // Rendered as cloud-init would for a machine called worker-9.
    let rendered = jinja.replace("{{ v1.local_hostname }}", "worker-9");
    let doc: serde_json::Value = serde_norway::from_str(&rendered).unwrap();
    let (profile, files) = embedded(&doc);
    let path = sb.profile("cluster.toml", &profile);
    let out = sb.run(&["profile", "validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (file, shape) in [("token", "abcdef."), ("ca-cert-hash", "sha256:")] {
        let f = files
            .iter()
            .find(|f| f["path"] == format!("/etc/bootstrap/cluster/{file}"))
            .unwrap_or_else(|| panic!("{file} shipped"));
        assert_eq!(f["permissions"], "0600", "{file}");
        assert_eq!(f["encoding"], "b64", "{file}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(f["content"].as_str().unwrap())
            .unwrap();
        assert!(
            String::from_utf8(bytes).unwrap().starts_with(shape),
            "{file}"
        );
    }
}

#[test]
#[cfg_attr(
    not(ruby),
    ignore = "ruby is not installed: the Vagrantfile's syntax cannot be checked"
)]
fn the_vagrantfile_is_valid_ruby() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vagrant/Vagrantfile");
    let text = std::fs::read_to_string(&file).unwrap();
    for ip in ["192.168.56.13", "192.168.56.14", "192.168.56.15"] {
        assert!(text.contains(ip), "{ip}");
    }
    assert!(
        text.contains("install -m 0600"),
        "the provisioner places the bundle 0600"
    );
    let out = std::process::Command::new("ruby")
        .arg("-c")
        .arg(&file)
        .output()
        .expect("ruby runs (build.rs found it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `bootstrap-binary` runcmd entry of a user-data file, as cloud-init writes it into its
/// `#!/bin/sh` script (one line per entry, no `set -e`).
fn binary_entry(file: &str) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/cloud-init")
            .join(file),
    )
    .unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    doc["runcmd"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .find(|c| c.contains("sha256sum -c"))
        .unwrap_or_else(|| panic!("{file}: no runcmd entry checks a sha256"))
        .to_string()
}

#[test]
fn the_cloud_init_download_fails_closed_with_the_real_curl_and_sha256sum() {
    let server = common::server::Server::start();
    let release = b"\x7fELF a release build\n".to_vec();
    server.put("/bootstrap", release.clone());
    let digest = common::release::sha256(&release);
    for file in ["user-data.yaml", "user-data-cluster.yaml"] {
        let entry = binary_entry(file);
        let url = entry.split('"').nth(1).unwrap().to_string();
        let pinned = entry
            .split('"')
            .nth(3)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        assert_eq!(pinned.len(), 64, "{file}: a sha256 is pinned");
        // (pinned sha256, what is served, an older binary already there) -> installed bytes
        let cases: [(&str, &str, bool, Option<&[u8]>); 4] = [
            ("matching digest", &digest, false, Some(&release)),
            ("wrong digest", &pinned, false, None),
            (
                "wrong digest over an older binary",
                &pinned,
                true,
                Some(b"old\n"),
            ),
            ("download fails", &digest, false, None),
        ];
        for (case, sum, old, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            let bin = format!("{}/", dir.path().display());
            let target = dir.path().join("bootstrap");
            if old {
                use std::os::unix::fs::PermissionsExt;
                std::fs::write(&target, b"old\n").unwrap();
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let served = if case == "download fails" {
                format!("{}/missing", server.url())
            } else {
                format!("{}/bootstrap", server.url())
            };
            let script = format!(
                "#!/bin/sh\n{}\ntest -x {bin}bootstrap && echo RAN\n",
                entry
                    .replace(&url, &served)
                    .replace(&pinned, sum)
                    .replace("/usr/local/bin/", &bin)
            );
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("sh runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let got = std::fs::read(&target).ok();
            assert_eq!(got.as_deref(), expected, "{file}, {case}: {script}");
            assert!(
                !dir.path().join("bootstrap.download").exists(),
                "{file}, {case}: the unverified download is removed"
            );
            assert_eq!(
                stdout.contains("RAN"),
                expected.is_some() && (case == "matching digest" || old),
                "{file}, {case}: {stdout}"
            );
        }
    }
}

/// Every table path of a JSON object (`""` for the top level), with its keys.
fn tables(value: &serde_json::Value, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    let Some(object) = value.as_object() else {
        return;
    };
    out.push((path.to_string(), object.keys().cloned().collect()));
    for (key, child) in object {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        tables(child, &child_path, out);
    }
}

/// The keys serde accepts in each table of the profile schema, read from the profile's own
/// `deny_unknown_fields` answer to an unknown key put in every table of `shown` (tables that
/// are maps, such as `[sysctl]`, answer otherwise and are left out).
fn schema(sb: &Sandbox, shown: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut doc: toml_edit::DocumentMut = shown.parse().unwrap();
    let mut found = Vec::new();
    let value: serde_json::Value = toml::from_str(shown).unwrap();
    tables(&value, "", &mut found);
    for (path, _) in &found {
        let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        for seg in path.split('.').filter(|s| !s.is_empty()) {
            table = table
                .get_mut(seg)
                .and_then(toml_edit::Item::as_table_like_mut)
                .unwrap_or_else(|| panic!("{path} is a table"));
        }
        table.insert("zz_probe", toml_edit::value(1));
    }
    let probed = sb.profile("probe.toml", &doc.to_string());
    let out = sb.run(&[
        "--output",
        "json",
        "profile",
        "validate",
        "-p",
        probed.to_str().unwrap(),
    ]);
    let error: serde_json::Value =
        serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let mut schema = std::collections::BTreeMap::new();
    for d in error["diagnostics"].as_array().unwrap() {
        let key = d["key"].as_str().unwrap_or("");
        let Some(table) = key.strip_suffix("zz_probe") else {
            continue;
        };
        let Some(fields) = d["expected"]
            .as_str()
            .and_then(|e| e.strip_prefix("one of: "))
        else {
            continue;
        };
        schema.insert(
            table.trim_end_matches('.').to_string(),
            fields.split(", ").map(str::to_string).collect(),
        );
    }
    schema
}

#[test]
fn profile_show_carries_every_key_of_the_schema_and_round_trips() {
    let sb = Sandbox::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    // The schema, from a profile with every optional table present.
    let full = std::fs::read_to_string(dir.join("ha-cp-1.toml")).unwrap()
        + "[containerd.mirrors]\n\"docker.io\" = [\"https://mirror.example\"]\n";
    let full = sb.profile("full.toml", &full);
    let shown_full = sb
        .run(&["profile", "show", "-p", full.to_str().unwrap()])
        .stdout;
    let schema = schema(&sb, &shown_full);
    for table in [
        "",
        "node",
        "containerd",
        "packages",
        "kubeadm",
        "kubeadm.secrets",
        "kubeadm.kube_vip",
        "kubeadm.cni",
        "kubeadm.extra_args",
        "kubeadm.discovery",
    ] {
        assert!(
            schema.contains_key(table),
            "probe found [{table}]: {schema:?}"
        );
    }
    let mut profiles: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    profiles.push(sb.profile("min.toml", "[node]\nname = \"n\"\nrole = \"worker\"\n"));
    profiles.push(full);
    for path in profiles {
        let p = path.to_str().unwrap();
        let out = sb.run(&["--output", "json", "profile", "show", "-p", p]);
        assert_eq!(out.code, 0, "{p}: {}", out.stderr);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let human = sb.run(&["profile", "show", "-p", p]).stdout;
        // The human TOML carries the same values as the JSON, and every note as a comment.
        let values: serde_json::Value = toml::from_str(&human).unwrap();
        assert_eq!(values, json["profile"], "{p}");
        let notes = json["notes"].as_array().unwrap();
        for note in notes {
            let key = note["key"].as_str().unwrap();
            assert!(
                human.lines().any(|l| l.starts_with("# ")
                    && (l.contains(&format!("{key} =")) || l.contains(&format!("{key}:")))),
                "{p}: note {note} shown in\n{human}"
            );
        }
        // Every schema key of every table shown is a value or a note.
        let mut shown = Vec::new();
        tables(&json["profile"], "", &mut shown);
        for (table, keys) in shown {
            let Some(fields) = schema.get(&table) else {
                continue;
            };
            for field in fields {
                let noted = notes.iter().any(|n| {
                    let t = n["table"].as_str().unwrap();
                    (t == table && n["key"] == field.as_str())
                        || t == format!(
                            "{}{field}",
                            if table.is_empty() {
                                String::new()
                            } else {
                                format!("{table}.")
                            }
                        )
                });
                assert!(
                    keys.contains(field) || noted,
                    "{p}: [{table}] {field} is neither shown nor noted\n{human}"
                );
            }
        }
        // Fed back, the shown profile is the same effective profile.
        let again = sb.profile("again.toml", &human);
        let reshown = sb.run(&[
            "--output",
            "json",
            "profile",
            "show",
            "-p",
            again.to_str().unwrap(),
        ]);
        assert_eq!(reshown.code, 0, "{p}: {}", reshown.stderr);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&reshown.stdout).unwrap(),
            json,
            "{p}"
        );
    }
}
