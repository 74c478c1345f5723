//! Cluster formation against the strict kubeadm stand-in (examples/kubeadm_standin.rs,
//! built by `cargo test`): init, joins from one secrets bundle, HA with kube-vip, the
//! classic join-command flow, idempotency, failure diagnosis, golden renderings, and no
//! secret in any output. Real kubeadm is not run.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{Out, Sandbox};

/// Where `cargo test` puts the stand-in.
fn standin() -> PathBuf {
    common::kubeadm_standin()
}

/// containerd 2.x config with the systemd cgroup driver (what the runtime step writes).
const CONTAINERD_V3: &str = "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10.1'\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n";

/// The uid the test user gets: not ours when we are root, so chown has work to do.
fn vagrant_uid() -> u32 {
    let me = nix::unistd::geteuid().as_raw();
    if me == 0 { 4321 } else { me }
}

/// A node of a test cluster: a sandbox with the kubeadm stand-in, a regular user, containerd
/// configured, and a cluster directory shared with the other nodes.
struct Node {
    sb: Sandbox,
    cluster: PathBuf,
    env: Vec<(String, String)>,
}

impl Node {
    fn new(cluster: &Path) -> Node {
        let sb = Sandbox::new();
        std::fs::copy(standin(), sb.bin.join("kubeadm")).unwrap();
        let uid = vagrant_uid();
        sb.write(
            "/etc/passwd",
            &format!("root:x:0:0:root:/root:/bin/bash\nvagrant:x:{uid}:{uid}:Vagrant:/home/vagrant:/bin/bash\n"),
        );
        sb.mkdir("/home/vagrant");
        sb.write("/etc/containerd/config.toml", CONTAINERD_V3);
        // A version 3 config is containerd 2.x's: 1.x ignores its plugin tables.
        sb.write("/.standin/containerd-version", "2.1.4");
        sb.write(
            "/etc/bootstrap/cni/kube-flannel.yml",
            "kind: DaemonSet\nmetadata:\n  name: kube-flannel-ds\n",
        );
        sb.write(
            "/etc/bootstrap/cni/calico.yaml",
            "kind: DaemonSet\nmetadata:\n  name: calico-node\n",
        );
        Node {
            sb,
            cluster: cluster.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// The binary with this node's sandbox. Runs of the steps skip `packages`: its tests are
    /// tests/packages_*.rs, and here the Kubernetes programs are the stand-ins on PATH.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.sb.command();
        c.env("STANDIN_CLUSTER", &self.cluster).args(args);
        if args.iter().any(|a| ["apply", "plan", "check"].contains(a)) {
            c.args(["--skip", "packages"]);
        }
        for proxy in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            c.env_remove(proxy);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        let output = self.command(args).output().unwrap();
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `bootstrap VERB --output json --profile PROFILE EXTRA…`.
    fn json(&self, verb: &str, profile: &Path, extra: &[&str]) -> Out {
        let head = [
            verb,
            "--output",
            "json",
            "--profile",
            profile.to_str().unwrap(),
        ];
        self.run(&[&head[..], extra].concat())
    }

    fn apply(&self, profile: &Path, extra: &[&str]) -> Out {
        self.json("apply", profile, extra)
    }

    /// The recorded calls of one program, without the containerd step's read-only
    /// `kubeadm config images list` (it asks kubeadm for the pause image).
    fn calls(&self, program: &str) -> Vec<String> {
        self.sb
            .take_calls()
            .into_iter()
            .filter(|c| c.starts_with(&format!("{program} ")))
            .filter(|c| {
                !c.starts_with("kubeadm config images") && !c.starts_with("kubeadm config print")
            })
            .collect()
    }

    /// How many `kubeadm join` runs were recorded (and clears the record).
    fn joins(&self) -> usize {
        self.calls("kubeadm")
            .iter()
            .filter(|c| c.starts_with("kubeadm join"))
            .count()
    }

    fn mode(&self, node_path: &str) -> u32 {
        std::fs::metadata(self.sb.path(node_path))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name)
}

/// Generates a bundle into `node`'s /etc/bootstrap/cluster with the real binary.
fn generate_bundle(node: &Node) -> Out {
    let dir = node.sb.path("/etc/bootstrap/cluster");
    let out = node.run(&["secrets", "generate", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

/// Copies bundle files from one node to another.
fn copy_bundle(from: &Node, to: &Node, files: &[&str]) {
    to.sb.mkdir("/etc/bootstrap/cluster");
    for f in files {
        let p = format!("/etc/bootstrap/cluster/{f}");
        std::fs::copy(from.sb.path(&p), to.sb.path(&p)).unwrap();
    }
}

/// The secret values of a bundle: the token, its secret half, the certificate key and the
/// base64 lines of the CA key.
fn bundle_secrets(node: &Node) -> Vec<String> {
    let read = |f: &str| {
        node.sb
            .read(&format!("/etc/bootstrap/cluster/{f}"))
            .trim()
            .to_string()
    };
    let token = read("token");
    let mut secrets = vec![
        token.clone(),
        token[7..].to_string(),
        read("certificate-key"),
    ];
    secrets.extend(
        read("ca.key")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    secrets
}

/// No secret in the outputs, the bootstrap journal, the stand-ins' call log.
fn assert_no_secret(node: &Node, outs: &[&Out], secrets: &[String]) {
    let journal = std::fs::read_to_string(node.sb.path("/var/lib/bootstrap/journal.jsonl"))
        .unwrap_or_default();
    let calls = std::fs::read_to_string(&node.sb.log).unwrap_or_default();
    let mut texts: Vec<(&str, &str)> = vec![("journal", &journal), ("calls", &calls)];
    for out in outs {
        texts.push(("stdout", &out.stdout));
        texts.push(("stderr", &out.stderr));
    }
    for (what, text) in texts {
        for s in secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret is in the {what}:\n{text}"
            );
        }
    }
}

/// An example profile with text replaced, written beside the node's sandbox.
fn edited_example(node: &Node, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(example(name)).unwrap();
    let text = edits.iter().fold(text, |t, (from, to)| t.replace(from, to));
    node.sb.profile(name, &text)
}

/// Applies a profile whose kubeadm step must fail; returns the step's reason.
fn kubeadm_failure(node: &Node, profile: &Path, extra: &[&str]) -> String {
    let out = node.apply(profile, extra);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.status("kubeadm"), "failed");
    reason(&out, "kubeadm")
}

fn reason(out: &Out, step: &str) -> String {
    out.events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .and_then(|e| e["reason"].as_str().map(str::to_string))
        .unwrap_or_default()
}

use common::SINGLE_CONTROL_PLANE as SINGLE;

#[test]
fn single_node_init_then_a_second_apply_changes_nothing() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    let generated = generate_bundle(&node);
    let secrets = bundle_secrets(&node);
    let profile = node.sb.profile("single.toml", SINGLE);

    let plan = node.json("plan", &profile, &[]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout.contains(
            "run `kubeadm init --config /var/lib/bootstrap/kubeadm/init.yaml --upload-certs`"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("token: <redacted>"),
        "the config diff is shown redacted: {}",
        plan.stdout
    );
    assert!(node.calls("kubeadm").is_empty(), "plan runs no kubeadm");

    let first = node.apply(&profile, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(first.status("kubeadm"), "changed");
    let calls = node.sb.take_changing_calls();
    let kube: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("kube") || c.starts_with("chown"))
        .collect();
    let uid = vagrant_uid();
    assert_eq!(
        kube,
        [
            "kubeadm init --config /var/lib/bootstrap/kubeadm/init.yaml --upload-certs",
            "kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /var/lib/bootstrap/cni/flannel.yaml",
            "kubectl --kubeconfig /etc/kubernetes/admin.conf get node k8s-single -o jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]
    );
    // The bundle's CA was placed and kept; secret files are 0600.
    assert_eq!(
        node.sb.read("/etc/kubernetes/pki/ca.crt"),
        node.sb.read("/etc/bootstrap/cluster/ca.crt")
    );
    assert_eq!(node.mode("/etc/kubernetes/pki/ca.key"), 0o600);
    assert_eq!(node.mode("/var/lib/bootstrap/kubeadm/init.yaml"), 0o600);
    let config = node.sb.read("/var/lib/bootstrap/kubeadm/init.yaml");
    assert!(
        config.contains("taints: []"),
        "schedule_workloads removes the taint:\n{config}"
    );
    // The user's kubeconfig: a copy of admin.conf, 0600, owned by the user.
    assert_eq!(
        node.sb.read("/home/vagrant/.kube/config"),
        node.sb.read("/etc/kubernetes/admin.conf")
    );
    assert_eq!(node.mode("/home/vagrant/.kube/config"), 0o600);
    // Owner set on the descriptors (fchown), not by a `chown` on paths the user controls.
    for path in ["/home/vagrant/.kube", "/home/vagrant/.kube/config"] {
        let meta = std::fs::metadata(node.sb.path(path)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, uid), "{path}");
    }
    assert_eq!(
        node.sb.read("/var/lib/bootstrap/cni/flannel.yaml"),
        node.sb.read("/etc/bootstrap/cni/kube-flannel.yml")
    );
    assert!(
        !node
            .sb
            .path("/var/lib/bootstrap/kubeadm/join-command")
            .exists(),
        "a bundle needs no stored join command"
    );

    let before = node.sb.snapshot();
    let second = node.apply(&profile, &[]);
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert_eq!(second.summary()["changes"], 0, "{}", second.stdout);
    assert_eq!(second.status("kubeadm"), "ok");
    let changing = node.sb.take_changing_calls();
    assert!(
        changing.is_empty(),
        "a converged node runs nothing: {changing:?}"
    );
    node.sb
        .assert_unchanged(&before, "a converged apply touches no file");
    let check = node.run(&["check", "--profile", profile.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}", check.stdout);

    assert_no_secret(
        &node,
        &[&generated, &plan, &first, &second, &check],
        &secrets,
    );
}

#[test]
fn three_nodes_boot_at_once_from_one_bundle_and_converge() {
    let cluster = tempfile::tempdir().unwrap();
    let master = Node::new(cluster.path());
    let workers = [Node::new(cluster.path()), Node::new(cluster.path())];
    generate_bundle(&master);
    let secrets = bundle_secrets(&master);
    for w in &workers {
        // Workers get only what they need: no CA key, no certificate key.
        copy_bundle(&master, w, &["token", "ca-cert-hash"]);
    }
    // The workers boot first: their joins fail while the control plane is not up, and retry.
    let started: Vec<std::process::Child> = workers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let profile = example(&format!("cluster-worker-{}.toml", i + 1));
            w.command(&[
                "apply",
                "--output",
                "json",
                "--profile",
                profile.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for w in &workers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::fs::read_to_string(&w.sb.log)
            .unwrap_or_default()
            .contains("kubeadm join")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the worker never tried to join"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let master_out = master.apply(&example("cluster-master.toml"), &[]);
    assert_eq!(
        master_out.code, 0,
        "{}\n{}",
        master_out.stdout, master_out.stderr
    );
    let mut outs = vec![master_out];
    for (child, w) in started.into_iter().zip(&workers) {
        let output = child.wait_with_output().unwrap();
        let out = Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(out.status("kubeadm"), "changed");
        let joins = w.calls("kubeadm");
        assert!(
            joins.len() >= 2,
            "the first join found no API server and was retried: {joins:?}"
        );
        assert!(
            joins
                .iter()
                .all(|c| c == "kubeadm join --config /var/lib/bootstrap/kubeadm/join.yaml")
        );
        assert!(w.sb.path("/etc/kubernetes/kubelet.conf").exists());
        outs.push(out);
    }
    let nodes: Vec<String> = std::fs::read_dir(cluster.path().join("192.168.33.13_6443/nodes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    // Every node converged: a second apply changes nothing.
    for (node, profile) in [
        (&master, "cluster-master.toml"),
        (&workers[0], "cluster-worker-1.toml"),
        (&workers[1], "cluster-worker-2.toml"),
    ] {
        node.sb.take_calls();
        let again = node.apply(&example(profile), &[]);
        assert_eq!(again.summary()["changes"], 0, "{profile}: {}", again.stdout);
        assert!(node.calls("kubeadm").is_empty(), "{profile}");
        assert_no_secret(node, &[&again], &secrets);
    }
    for (out, node) in outs.iter().zip([&master, &workers[0], &workers[1]]) {
        assert_no_secret(node, &[out], &secrets);
    }
}

#[test]
fn ha_control_planes_with_kube_vip_and_the_certificate_key() {
    let cluster = tempfile::tempdir().unwrap();
    let cp1 = Node::new(cluster.path());
    let cp2 = Node::new(cluster.path());
    generate_bundle(&cp1);
    copy_bundle(&cp1, &cp2, &["token", "ca-cert-hash", "certificate-key"]);
    let secrets = bundle_secrets(&cp1);

    let out1 = cp1.apply(&example("ha-cp-1.toml"), &[]);
    assert_eq!(out1.code, 0, "{}\n{}", out1.stdout, out1.stderr);
    assert!(
        out1.stdout
            .contains("switch kube-vip to /etc/kubernetes/admin.conf once init is done")
    );
    let vip = cp1.sb.read("/etc/kubernetes/manifests/kube-vip.yaml");
    assert!(
        vip.contains("path: /etc/kubernetes/admin.conf"),
        "after init kube-vip uses admin.conf:\n{vip}"
    );
    let init = cp1.sb.read("/var/lib/bootstrap/kubeadm/init.yaml");
    assert!(
        init.contains("controlPlaneEndpoint: \"192.168.33.100:6443\""),
        "{init}"
    );
    assert!(
        init.contains("certSANs:\n  - k8s.example.internal"),
        "{init}"
    );
    assert!(
        init.contains("- name: audit-log-maxage\n    value: \"30\""),
        "{init}"
    );
    // kube-vip was written before init with super-admin.conf (Kubernetes >= 1.29).
    let journal = cp1.sb.read("/var/lib/bootstrap/journal.jsonl");
    let vip_writes = journal
        .matches("\"target\":\"/etc/kubernetes/manifests/kube-vip.yaml\"")
        .count();
    assert_eq!(vip_writes, 2, "{journal}");

    let out2 = cp2.apply(&example("ha-cp-2.toml"), &[]);
    assert_eq!(out2.code, 0, "{}\n{}", out2.stdout, out2.stderr);
    let join = cp2.sb.read("/var/lib/bootstrap/kubeadm/join.yaml");
    assert!(
        join.contains(
            "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"192.168.33.22\""
        ),
        "{join}"
    );
    assert!(
        join.contains("apiServerEndpoint: \"192.168.33.100:6443\""),
        "{join}"
    );
    assert!(
        cp2.sb
            .path("/etc/kubernetes/manifests/kube-apiserver.yaml")
            .exists()
    );
    assert!(
        cp2.sb
            .read("/etc/kubernetes/manifests/kube-vip.yaml")
            .contains("path: /etc/kubernetes/admin.conf")
    );
    for (node, profile) in [(&cp1, "ha-cp-1.toml"), (&cp2, "ha-cp-2.toml")] {
        let again = node.apply(&example(profile), &[]);
        assert_eq!(again.summary()["changes"], 0, "{profile}: {}", again.stdout);
    }
    assert_no_secret(&cp1, &[&out1], &secrets);
    assert_no_secret(&cp2, &[&out2], &secrets);

    // A third control plane with a wrong certificate key is told why.
    let cp3 = Node::new(cluster.path());
    copy_bundle(&cp1, &cp3, &["token", "ca-cert-hash"]);
    cp3.sb.write(
        "/etc/bootstrap/cluster/certificate-key",
        &format!("{}\n", "0".repeat(64)),
    );
    let profile = edited_example(&cp3, "ha-cp-2.toml", &[("cp-2", "cp-3"), (".22", ".23")]);
    let why = kubeadm_failure(&cp3, &profile, &[]);
    assert!(
        why.contains("likely cause: the control-plane certificates could not be downloaded"),
        "{why}"
    );
    assert!(
        !why.contains(&"0".repeat(64)),
        "the certificate key is redacted: {why}"
    );
}

#[test]
fn classic_flow_stores_a_join_command_that_a_worker_profile_takes() {
    let cluster = tempfile::tempdir().unwrap();
    let master = Node::new(cluster.path());
    let profile = master.sb.profile(
        "m.toml",
        "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = \"192.168.33.13\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\nmode = \"init\"\n",
    );
    let out = master.apply(&profile, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(
        "store a join command for workers in /var/lib/bootstrap/kubeadm/join-command (0600)"
    ));
    assert_eq!(
        master.mode("/var/lib/bootstrap/kubeadm/join-command"),
        0o600
    );
    let command = master.sb.read("/var/lib/bootstrap/kubeadm/join-command");
    assert!(
        command.starts_with("kubeadm join 192.168.33.13:6443 --token "),
        "{command}"
    );
    let token = command.split_whitespace().nth(4).unwrap().to_string();
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    assert_eq!(master.apply(&profile, &[]).summary()["changes"], 0);

    let worker = Node::new(cluster.path());
    let wp = worker.sb.profile(
        "w.toml",
        &format!(
            "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm.secrets]\njoin_command = \"{}\"\n",
            command.trim()
        ),
    );
    let joined = worker.apply(&wp, &[]);
    assert_eq!(joined.code, 0, "{}\n{}", joined.stdout, joined.stderr);
    assert!(
        worker
            .sb
            .read("/var/lib/bootstrap/kubeadm/join.yaml")
            .contains("apiServerEndpoint: \"192.168.33.13:6443\"")
    );
    assert_eq!(worker.apply(&wp, &[]).summary()["changes"], 0);
    let shown = worker.run(&["profile", "show", wp.to_str().unwrap()]);
    assert!(
        !shown.stdout.contains(&token),
        "profile show redacts the join command"
    );
}

/// A single control plane whose kubeadm init fails, for the diagnosis tests.
fn failing_init(
    setup: impl FnOnce(&mut Node),
    extra: &[&str],
) -> (tempfile::TempDir, Node, PathBuf, String) {
    let cluster = tempfile::tempdir().unwrap();
    let mut node = Node::new(cluster.path());
    generate_bundle(&node);
    let profile = node.sb.profile("single.toml", SINGLE);
    setup(&mut node);
    let out = node.apply(&profile, extra);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.status("kubeadm"), "failed");
    let why = reason(&out, "kubeadm");
    assert!(why.contains("`kubeadm init --config /var/lib/bootstrap/kubeadm/init.yaml --upload-certs` failed (exit code 1)"), "{why}");
    assert!(
        why.contains("kubelet journal (journalctl -u kubelet):"),
        "{why}"
    );
    assert!(why.contains("containers (crictl ps -a):"), "{why}");
    assert_no_secret(&node, &[&out], &bundle_secrets(&node));
    (cluster, node, profile, why)
}

/// The half-done node is reported on the next run with evidence and left alone.
fn half_done_is_reported(node: &Node, profile: &Path, extra: &[&str], cause: &str) {
    node.sb.take_calls();
    let before = node.sb.snapshot();
    let again = node.apply(profile, extra);
    assert_eq!(again.code, 1);
    let why = reason(&again, "kubeadm");
    assert!(
        why.contains("kubeadm's files on this node are incomplete"),
        "{why}"
    );
    assert!(why.contains(cause), "{why}");
    assert!(why.contains("kubeadm reset -f"), "{why}");
    assert!(
        !node
            .calls("kubeadm")
            .iter()
            .any(|c| c.starts_with("kubeadm init --config")),
        "never re-initialised"
    );
    node.sb
        .assert_unchanged(&before, "a half-done node is left alone");
}

#[test]
fn diagnosis_swap_on() {
    let (_cluster, node, profile, why) = failing_init(|_| {}, &["--skip", "swap"]);
    assert!(why.contains("likely cause: swap is on"), "{why}");
    assert!(why.contains("/proc/swaps lists /swapfile (file)"), "{why}");
    // The journal excerpt is quoted in the report (the words are the kubeadm stand-in's
    // kubelet journal, so this proves the quoting, not the kubelet's wording).
    assert!(
        why.contains("running with swap on is not supported"),
        "the kubelet journal is quoted: {why}"
    );
    assert!(why.contains("fix: turn swap off now and at boot"), "{why}");
    half_done_is_reported(&node, &profile, &["--skip", "swap"], "swap is on");
}

#[test]
fn diagnosis_cgroup_driver_mismatch() {
    // The runtime steps would fix (containerd) or stop on (cgroup) this mismatch; skipping
    // them stands for a runtime configured by hand, which kubeadm then trips over.
    const HAND_MADE_RUNTIME: [&str; 4] = ["--skip", "containerd", "--skip", "cgroup"];
    let (_cluster, node, profile, why) = failing_init(
        |n| {
            n.sb.write(
                "/etc/containerd/config.toml",
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"registry.k8s.io/pause:3.6\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n",
            );
            // configured by hand, and running (kubeadm's CRI check needs it to answer)
            n.sb.write("/.standin/units/containerd.service", "active enabled\n");
            n.sb.executable("/usr/bin/containerd");
        },
        &HAND_MADE_RUNTIME,
    );
    assert!(why.contains("likely cause: cgroup driver mismatch: the kubelet uses systemd, containerd uses cgroupfs"), "{why}");
    assert!(why.contains("SystemdCgroup = false in [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]"), "{why}");
    assert!(why.contains("likely cause: sandbox image mismatch: containerd uses registry.k8s.io/pause:3.6, kubeadm expects registry.k8s.io/pause:3.10.1"), "{why}");
    half_done_is_reported(
        &node,
        &profile,
        &HAND_MADE_RUNTIME,
        "cgroup driver mismatch",
    );
}

#[test]
fn diagnosis_kubelet_config_missing_and_the_phase_that_repairs_it() {
    let (_cluster, node, profile, why) = failing_init(
        |n| {
            n.env
                .push(("STANDIN_KUBEADM_BREAK".into(), "kubelet-config".into()))
        },
        &[],
    );
    let fix = "kubeadm init phase kubelet-start --config /var/lib/bootstrap/kubeadm/init.yaml";
    assert!(
        why.contains("likely cause: the kubelet config /var/lib/kubelet/config.yaml is missing"),
        "{why}"
    );
    assert!(why.contains(fix), "{why}");
    half_done_is_reported(&node, &profile, &[], fix);

    // The seed's case: an initialised node whose kubelet config went missing. The report
    // names the phase; running it brings the node back, and nothing is re-initialised.
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    generate_bundle(&node);
    let profile = node.sb.profile("single.toml", SINGLE);
    assert_eq!(node.apply(&profile, &[]).code, 0);
    std::fs::remove_file(node.sb.path("/var/lib/kubelet/config.yaml")).unwrap();
    half_done_is_reported(&node, &profile, &[], fix);
    let repaired = node.run_kubeadm(&fix.split(' ').skip(1).collect::<Vec<_>>());
    assert_eq!(repaired.code, 0, "{}", repaired.stderr);
    node.sb.take_calls();
    let out = node.apply(&profile, &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.summary()["changes"], 0, "{}", out.stdout);
    assert!(node.calls("kubeadm").is_empty());
}

#[test]
fn a_join_gives_up_after_its_attempts_and_says_why() {
    let cluster = tempfile::tempdir().unwrap();
    let cp = Node::new(cluster.path());
    generate_bundle(&cp);
    let worker = Node::new(cluster.path());
    copy_bundle(&cp, &worker, &["token", "ca-cert-hash"]);
    let profile = edited_example(
        &worker,
        "cluster-worker-1.toml",
        &[("attempts = 40", "attempts = 3"), ("\"2s\"", "\"10ms\"")],
    );
    let why = kubeadm_failure(&worker, &profile, &[]);
    assert!(why.starts_with("gave up after 3 join attempts"), "{why}");
    assert!(
        why.contains("likely cause: the API server endpoint did not answer"),
        "{why}"
    );
    assert_eq!(worker.joins(), 3);
    // A wrong CA hash is not retried: it is named at once.
    cp.apply(&example("cluster-master.toml"), &[]);
    worker.sb.write(
        "/etc/bootstrap/cluster/ca-cert-hash",
        &format!("sha256:{}\n", "ab".repeat(32)),
    );
    let out = worker.apply(&profile, &[]);
    let why = reason(&out, "kubeadm");
    assert!(
        why.contains("likely cause: the CA hash does not match the cluster's CA"),
        "{why}"
    );
    assert_eq!(worker.joins(), 1, "a wrong CA hash is named at once");
}

#[test]
fn a_pinned_cni_url_is_verified_before_it_is_applied() {
    let manifest = "kind: DaemonSet\nmetadata:\n  name: calico-node\n";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/calico.yaml", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{manifest}",
                manifest.len()
            );
        }
    });
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    node.sb.use_real_program("curl");
    generate_bundle(&node);
    let good = "3f1cd3c9ed3c9a6f4d1b6b6bd6a5bd6e5b4cbd1f6e1b8d1f5ef6a6f3f9a2b4c1";
    let profile_for = |sum: &str| {
        node.sb.profile(
            "p.toml",
            &SINGLE.replace(
                "manifest = \"/etc/bootstrap/cni/kube-flannel.yml\"",
                &format!("url = \"{url}\"\nsha256 = \"{sum}\""),
            ),
        )
    };
    let out = node.apply(&profile_for(good), &[]);
    assert_eq!(out.code, 1, "a wrong pin applies nothing: {}", out.stdout);
    let why = reason(&out, "kubeadm");
    assert!(
        why.contains(&format!("but the profile pins {good}; nothing was applied")),
        "{why}"
    );
    assert!(!node.calls("kubectl").iter().any(|c| c.contains(" apply ")));
    let actual = why
        .split("has sha256 ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let out = node.apply(&profile_for(&actual), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        node.sb.read("/var/lib/bootstrap/cni/flannel.yaml"),
        manifest
    );
    server.join().unwrap();
}

/// (golden file, profile text, stand-in version): rendered with fixed secrets.
fn golden_cases() -> Vec<(&'static str, String)> {
    let secrets = format!(
        "[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\ncertificate_key = \"{}\"\n",
        "0123456789abcdef".repeat(4)
    );
    let join_secrets = format!("{secrets}ca_cert_hash = \"sha256:{}\"\n", "ab".repeat(32));
    let node = |name: &str, role: &str, address: &str| {
        format!("[node]\nname = \"{name}\"\nrole = \"{role}\"\naddress = \"{address}\"\n")
    };
    vec![
        (
            "init-v1beta4.yaml",
            format!(
                "{}[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\nmode = \"init\"\ncontrol_plane_endpoint = \"k8s.example.internal\"\ncert_sans = [\"10.0.0.100\"]\nkube_proxy_mode = \"nftables\"\n[kubeadm.extra_args]\nkubelet = {{ \"max-pods\" = \"110\" }}\napi_server = {{ \"audit-log-maxage\" = \"30\" }}\netcd = {{ \"quota-backend-bytes\" = \"8589934592\" }}\n{secrets}",
                node("master", "control-plane", "192.168.33.13")
            ),
        ),
        (
            "init-v1beta3.yaml",
            format!(
                "{}[kubernetes]\nversion = \"1.30.5\"\ncgroup_driver = \"cgroupfs\"\n[swap]\npolicy = \"keep\"\n[kubeadm]\nmode = \"init\"\nschedule_workloads = true\n[kubeadm.extra_args]\nkubelet = {{ \"max-pods\" = \"110\" }}\napi_server = {{ \"audit-log-maxage\" = \"30\" }}\n",
                node("master", "control-plane", "192.168.33.13")
            ),
        ),
        (
            "join-worker-v1beta4.yaml",
            format!(
                "{}[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\ncontrol_plane_endpoint = \"192.168.33.13:6443\"\n{}",
                node("worker-1", "worker", "192.168.33.14"),
                join_secrets.replace(
                    &format!("certificate_key = \"{}\"\n", "0123456789abcdef".repeat(4)),
                    ""
                )
            ),
        ),
        (
            "join-control-plane-v1beta3.yaml",
            format!(
                "{}[kubernetes]\nversion = \"1.30.5\"\n[kubeadm]\nmode = \"join\"\ncontrol_planes = 3\ncontrol_plane_endpoint = \"192.168.33.100\"\n{join_secrets}",
                node("cp-2", "control-plane", "192.168.33.22")
            ),
        ),
    ]
}

#[test]
fn rendering_matches_the_golden_files_in_both_api_versions() {
    let sb = Sandbox::new();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut rewritten = Vec::new();
    for (golden, text) in golden_cases() {
        let profile = sb.profile("p.toml", &text);
        let out = sb.run(&[
            "render",
            "kubeadm",
            "--show-secrets",
            "--profile",
            profile.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{golden}: {}", out.stderr);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(golden);
        if update {
            // An update run rewrites and then fails: a rewritten file is not a checked one.
            std::fs::write(&path, &out.stdout).unwrap();
            rewritten.push(golden);
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        assert_eq!(out.stdout, want, "{golden} differs from the golden file");
        let redacted = sb.run(&["render", "kubeadm", "--profile", profile.to_str().unwrap()]);
        assert_eq!(redacted.code, 0);
        assert!(
            !redacted.stdout.contains("0123456789abcdef"),
            "{golden}: {}",
            redacted.stdout
        );
        let v4 = golden.contains("v1beta4");
        assert_eq!(
            out.stdout.contains("apiVersion: kubeadm.k8s.io/v1beta4"),
            v4,
            "{golden}"
        );
        assert_eq!(
            out.stdout.contains("apiVersion: kubeadm.k8s.io/v1beta3"),
            !v4,
            "{golden}"
        );
    }
    assert!(
        rewritten.is_empty(),
        "UPDATE_GOLDEN rewrote {rewritten:?}: review `git diff tests/golden`, then run again without UPDATE_GOLDEN (an update run is not a pass)"
    );
}

#[test]
fn the_standin_accepts_our_renderings_and_is_strict() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    for (golden, _) in golden_cases() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden")
                .join(golden),
        )
        .unwrap();
        let v3 = golden.contains("v1beta3");
        let mut n = Node::new(cluster.path());
        n.env.push((
            "STANDIN_KUBEADM_VERSION".into(),
            if v3 { "1.30.5" } else { "1.35.2" }.into(),
        ));
        n.sb.write("/cfg.yaml", &text);
        n.sb.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        std::fs::remove_file(n.sb.path("/etc/containerd/config.toml")).unwrap();
        let verb = if golden.starts_with("init") {
            "init"
        } else {
            "join"
        };
        let out = n.run_kubeadm(&[verb, "--config", "/cfg.yaml"]);
        // Joins find no cluster here: they must get past validation to discovery.
        assert!(
            out.code == 0
                || out
                    .stderr
                    .contains("couldn't validate the identity of the API Server"),
            "{golden}: {}",
            out.stderr
        );
        if v3 {
            // kubeadm 1.30 does not serve v1beta4, and v1beta3 has map-shaped extraArgs.
            n.sb.write(
                "/cfg.yaml",
                &text.replace("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"),
            );
            let out = n.run_kubeadm(&[verb, "--config", "/cfg.yaml"]);
            assert_eq!(out.code, 3, "{golden}: {}", out.stderr);
        }
    }
    let init = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/init-v1beta4.yaml"),
    )
    .unwrap();
    for (bad, complaint) in [
        (init.replace("podSubnet", "podSubnets"), "unknown field \"networking.podSubnets\""),
        (init.replace("kind: KubeProxyConfiguration", "kind: ProxyConfiguration"), "no kind \"ProxyConfiguration\""),
        (
            init.replace("certificateKey: \"01", "certificateKey: \"0x"),
            "certificateKey: Invalid value: \"0x23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\": certificate key decoding error: encoding/hex: invalid byte: U+0078 'x'",
        ),
        (
            init.replace(
                "  kubeletExtraArgs:\n  - name: max-pods\n    value: \"110\"\n  - name: node-ip\n    value: \"192.168.33.13\"",
                "  kubeletExtraArgs:\n    max-pods: \"110\"\n    node-ip: \"192.168.33.13\"",
            ),
            "of type []v1beta4.Arg",
        ),
    ] {
        node.sb.write("/cfg.yaml", &bad);
        let out = node.run_kubeadm(&["init", "--config", "/cfg.yaml"]);
        assert_eq!(out.code, 3, "{complaint}: {}", out.stderr);
        assert!(out.stderr.contains(complaint), "{complaint}: {}", out.stderr);
    }
    // Refused before validation, in kubeadm's words (bootstraptoken/v1 NewBootstrapTokenString;
    // util/config NormalizeKubernetesVersion): exit 1, not the validation exit 3.
    for (bad, complaint) in [
        (
            init.replace(
                "token: abcdef.0123456789abcdef",
                "token: abcdef-0123456789abcdef",
            ),
            r#"the bootstrap token "abcdef-0123456789abcdef" was not of the form "\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z""#,
        ),
        (
            init.replace("v1.35.2", "v1.33.0"),
            "control plane version >= 1.34.0. Current version: v1.33.0",
        ),
    ] {
        node.sb.write("/cfg.yaml", &bad);
        let out = node.run_kubeadm(&["init", "--config", "/cfg.yaml"]);
        assert_eq!(out.code, 1, "{complaint}: {}", out.stderr);
        assert!(
            out.stderr.contains(complaint),
            "{complaint}: {}",
            out.stderr
        );
    }
    node.sb.write("/cfg.yaml", &init);
    let out = node.run_kubeadm(&["init", "--config", "/cfg.yaml", "--certificate-key", "x"]);
    assert!(
        out.stderr
            .contains("can not mix '--config' with arguments [certificate-key]"),
        "{}",
        out.stderr
    );
}

impl Node {
    /// Runs the stand-in directly, as a person would run kubeadm.
    fn run_kubeadm(&self, args: &[&str]) -> Out {
        let run = || {
            std::process::Command::new(self.sb.bin.join("kubeadm"))
                .args(args)
                .env("SANDBOX_ROOT", &self.sb.root)
                .env("STANDIN_LOG", &self.sb.log)
                .env("STANDIN_CLUSTER", &self.cluster)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .output()
        };
        // A stand-in just copied into place can still be open for writing in a child that
        // another test thread forked at that moment (ETXTBSY): wait for that child's exec.
        let mut output = run();
        for _ in 0..50 {
            match &output {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    output = run();
                }
                _ => break,
            }
        }
        let output = output.unwrap();
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

#[test]
fn the_bundle_ca_hash_matches_openssl_and_verbose_logs_hold_no_secret() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    let out = generate_bundle(&node);
    let hash = node
        .sb
        .read("/etc/bootstrap/cluster/ca-cert-hash")
        .trim()
        .to_string();
    assert!(out.stdout.contains(&format!("CA hash (public): {hash}")));
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum",
        )
        .arg("sh")
        .arg(node.sb.path("/etc/bootstrap/cluster/ca.crt"))
        .output()
        .unwrap();
    let want = String::from_utf8_lossy(&shell.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(hash, format!("sha256:{want}"));
    let again = node.run(&[
        "secrets",
        "generate",
        "--out",
        node.sb.path("/etc/bootstrap/cluster").to_str().unwrap(),
    ]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("never overwritten"),
        "{}",
        again.stderr
    );
    let profile = node.sb.profile("single.toml", SINGLE);
    let verbose = node.run(&["-vvv", "apply", "--profile", profile.to_str().unwrap()]);
    assert_eq!(verbose.code, 0, "{}", verbose.stderr);
    assert!(
        verbose.stderr.contains("kubeadm init"),
        "trace logs are on: {}",
        verbose.stderr
    );
    assert_no_secret(&node, &[&verbose], &bundle_secrets(&node));
}

/// Strings that YAML 1.1 (kubeadm's reader: sigs.k8s.io/yaml over go-yaml v2) reads as
/// booleans, numbers or null reach kubeadm as the same strings: a node named `no`, an
/// extra-arg value `off`, an extra-arg name `on` (which v1beta3's map shape would turn into
/// the key `"true"`), a SAN `y`. The stand-in decodes with its own YAML 1.1 scalar rules and
/// refuses the unquoted forms, so this fails against a renderer that leaves them plain.
#[test]
fn strings_yaml_1_1_would_misread_reach_kubeadm_as_strings() {
    for (version, api) in [("1.35.2", "v1beta4"), ("1.30.5", "v1beta3")] {
        let cluster = tempfile::tempdir().unwrap();
        let mut node = Node::new(cluster.path());
        node.env
            .push(("STANDIN_KUBEADM_VERSION".into(), version.into()));
        let profile = node.sb.profile(
            "p.toml",
            &format!(
                "[node]\nname = \"no\"\nrole = \"control-plane\"\naddress = \"192.168.56.10\"\n\n[kubernetes]\nversion = \"{version}\"\n\n[kubeadm]\nmode = \"init\"\ncert_sans = [\"y\"]\n\n[kubeadm.extra_args]\nkubelet = {{ \"v\" = \"off\" }}\napi_server = {{ \"on\" = \"1_000\", \"audit-log-maxage\" = \"010\" }}\n"
            ),
        );
        let out = node.run(&[
            "render",
            "kubeadm",
            "--show-secrets",
            "--profile",
            profile.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let text = out.stdout;
        assert!(text.contains(&format!("apiVersion: kubeadm.k8s.io/{api}")));
        node.sb.write("/cfg.yaml", &text);
        node.sb
            .write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        std::fs::remove_file(node.sb.path("/etc/containerd/config.toml")).unwrap();
        let ok = node.run_kubeadm(&["init", "--config", "/cfg.yaml"]);
        assert_eq!(ok.code, 0, "{api}: {}\n{text}", ok.stderr);
        let registered: Vec<String> = std::fs::read_dir(cluster.path())
            .unwrap()
            .flatten()
            .flat_map(|d| {
                std::fs::read_dir(d.path().join("nodes"))
                    .into_iter()
                    .flatten()
            })
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(registered, ["no"], "{api}");
        // The same document with the quotes taken off is refused, as kubeadm refuses it.
        for (quoted, plain, complaint) in [
            (
                "name: \"no\"",
                "name: no",
                "cannot unmarshal bool into Go struct field InitConfiguration.nodeRegistration.name of type string",
            ),
            (
                "\"off\"",
                "off",
                "cannot unmarshal bool into Go struct field InitConfiguration.nodeRegistration.kubeletExtraArgs",
            ),
            (
                "- \"y\"",
                "- y",
                "cannot unmarshal bool into Go struct field ClusterConfiguration.apiServer.certSANs[0] of type string",
            ),
        ] {
            assert!(text.contains(quoted), "{quoted}: {text}");
            let bad = text.replace(quoted, plain);
            let fresh = Node::new(cluster.path());
            fresh.sb.write("/cfg.yaml", &bad);
            let mut env = fresh;
            env.env
                .push(("STANDIN_KUBEADM_VERSION".into(), version.into()));
            let out = env.run_kubeadm(&["init", "--config", "/cfg.yaml"]);
            assert_eq!(out.code, 3, "{api} {plain}: {}", out.stderr);
            assert!(
                out.stderr.contains(complaint),
                "{api} {plain}: {}",
                out.stderr
            );
        }
    }
}

/// A stored configuration from an earlier run holds another token and certificate key than
/// this run's: the plan's diff shows neither (they are secrets by position, not by value).
#[test]
fn the_diff_against_an_earlier_config_shows_no_old_secret() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    generate_bundle(&node);
    let profile = node.sb.profile("single.toml", SINGLE);
    let old_token = "q1w2e3.r4t5y6u7i8o9p0aa";
    let old_key = "9".repeat(64);
    node.sb.write(
        "/var/lib/bootstrap/kubeadm/init.yaml",
        &format!("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n- token: {old_token}\n  ttl: 24h0m0s\ncertificateKey: '{old_key}'\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: \"{old_token}\"\n"),
    );
    let plan = node.json("plan", &profile, &[]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("update /var/lib/bootstrap/kubeadm/init.yaml"),
        "{}",
        plan.stdout
    );
    for secret in [old_token, "q1w2e3", "r4t5y6u7i8o9p0aa", &old_key] {
        assert!(
            !plan.stdout.contains(secret),
            "{secret} shown: {}",
            plan.stdout
        );
    }
    assert!(
        plan.stdout.contains("- token: <redacted>"),
        "{}",
        plan.stdout
    );
}

/// Profiles that would break a real cluster are refused with a located error and the fix:
/// a control plane that does not say whether it inits (a shared profile would make every
/// control plane init its own cluster), a CRI socket containerd does not listen on, an
/// init of an HA cluster with no certificate key, kube-vip values that would add keys to
/// its static pod.
#[test]
fn profiles_that_would_break_a_cluster_are_refused_with_the_fix() {
    let sb = Sandbox::new();
    let cp = "[node]\nname = \"cp-1\"\nrole = \"control-plane\"\naddress = \"192.168.33.21\"\n[kubernetes]\nversion = \"1.35.2\"\n";
    for (text, located, words) in [
        (
            format!("{cp}[kubeadm]\ncontrol_plane_endpoint = \"192.168.33.100:6443\"\n"),
            "p.toml:7:1: kubeadm: kubeadm.mode is not set on a control plane",
            vec!["mode = \"init\" on exactly one control plane", "help: "],
        ),
        (
            format!(
                "{cp}[containerd]\nsocket = \"/run/k8s/containerd.sock\"\n[kubeadm]\nmode = \"init\"\ncri_socket = \"unix:///var/run/containerd/containerd.sock\"\n"
            ),
            "p.toml:11:14: kubeadm.cri_socket: cri_socket `unix:///var/run/containerd/containerd.sock` is not the socket containerd listens on (containerd.socket = `/run/k8s/containerd.sock`)",
            vec!["expected: unix:///run/k8s/containerd.sock", "help: "],
        ),
        (
            format!(
                "{cp}[kubeadm]\nmode = \"init\"\ncontrol_planes = 3\ncontrol_plane_endpoint = \"192.168.33.100:6443\"\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\n"
            ),
            "kubeadm.secrets: the first of 3 control planes has no certificate key",
            vec!["secrets.bundle", "help: "],
        ),
        (
            format!(
                "{cp}[kubeadm]\nmode = \"init\"\ncontrol_plane_endpoint = \"192.168.33.100:6443\"\n[kubeadm.kube_vip]\naddress = \"192.168.33.100\"\ninterface = \"eth1\\nprivileged: true\"\nimage = \"ghcr.io/kube-vip/kube-vip:v1\\n    securityContext: {{privileged: true}}\"\n"
            ),
            "kubeadm.kube_vip.interface: invalid interface name `eth1\\nprivileged: true`",
            vec!["kubeadm.kube_vip.image: invalid image reference", "help: "],
        ),
    ] {
        let profile = sb.profile("p.toml", &text);
        let out = sb.run(&["profile", "validate", profile.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{text}\n{}", out.stderr);
        assert!(out.stderr.contains(located), "{located}\n{}", out.stderr);
        for w in words {
            assert!(out.stderr.contains(w), "{w}\n{}", out.stderr);
        }
    }
    // With the socket set once, in containerd.socket, kubeadm gets that socket.
    let profile = sb.profile(
        "p.toml",
        &format!(
            "{cp}[containerd]\nsocket = \"/run/k8s/containerd.sock\"\n[kubeadm]\nmode = \"init\"\n"
        ),
    );
    let out = sb.run(&["render", "kubeadm", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("criSocket: unix:///run/k8s/containerd.sock\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_node_that_never_becomes_ready_fails_after_the_ready_timeout() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    generate_bundle(&node);
    let text = SINGLE.replace("[kubeadm]\n", "[kubeadm]\nready_timeout = \"1s\"\n");
    let profile = node.sb.profile("single.toml", &text);
    // kubectl reports the node's Ready condition as False (a CNI that never starts).
    node.sb.write("/.standin/node-ready", "False");
    let started = std::time::Instant::now();
    let out = node.apply(&profile, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let why = reason(&out, "kubeadm");
    assert!(why.contains("node k8s-single was not Ready after"), "{why}");
    assert!(why.contains("Ready=False"), "{why}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let polls = node
        .sb
        .take_calls()
        .iter()
        .filter(|c| c.starts_with("kubectl ") && c.contains(" get node k8s-single "))
        .count();
    assert!(
        polls > 1,
        "Ready is polled until the timeout, not asked once: {polls}"
    );
}

/// A user's planted links: root never writes or chowns through them (the user's directory
/// is theirs to change at any time), and the step says what it found.
#[test]
fn links_planted_in_the_users_home_are_refused() {
    for (link, to) in [
        ("/home/vagrant/.kube/config", "../../../etc/shadow"),
        ("/home/vagrant/.kube", "../../etc"),
    ] {
        let cluster = tempfile::tempdir().unwrap();
        let node = Node::new(cluster.path());
        generate_bundle(&node);
        node.sb.write("/etc/shadow", "root:$6$secret:19000::::::\n");
        let etc = std::fs::metadata(node.sb.path("/etc")).unwrap();
        node.sb.mkdir("/home/vagrant/.kube");
        if link.ends_with(".kube") {
            std::fs::remove_dir(node.sb.path(link)).unwrap();
        }
        std::os::unix::fs::symlink(to, node.sb.path(link)).unwrap();
        let profile = node.sb.profile("single.toml", SINGLE);
        let out = node.apply(&profile, &[]);
        assert_eq!(out.status("kubeadm"), "failed", "{link}: {}", out.stdout);
        let reason = out.reason("kubeadm");
        assert!(
            reason.contains(&format!("is a symlink to {to}")),
            "{reason}"
        );
        assert_eq!(
            node.sb.read("/etc/shadow"),
            "root:$6$secret:19000::::::\n",
            "{link}"
        );
        assert!(!node.sb.path("/etc/config").exists(), "{link}");
        let after = std::fs::metadata(node.sb.path("/etc")).unwrap();
        assert_eq!(
            (after.uid(), after.mode()),
            (etc.uid(), etc.mode()),
            "{link}"
        );
        assert!(
            !node.sb.take_calls().iter().any(|c| c.starts_with("chown")),
            "{link}: no chown by path"
        );
    }
}

/// A run killed right after a successful `kubeadm init`, before bootstrap wrote its record:
/// the next run finds a complete control plane whose API server answers through admin.conf,
/// records it and runs nothing, instead of calling a healthy control plane half-done with
/// `kubeadm reset -f` as the remedy. (A run that failed waiting for the control plane, whose
/// API server never answered, is still reported: see the half-done tests.)
#[test]
fn a_kill_after_a_successful_init_is_recognised_from_the_node() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    generate_bundle(&node);
    let profile = node.sb.profile("single.toml", SINGLE);
    let first = node.apply(&profile, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let marker = node.sb.path("/var/lib/bootstrap/kubeadm/member");
    std::fs::remove_file(&marker).unwrap();
    node.sb.take_calls();
    let again = node.apply(&profile, &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(!again.stdout.contains("kubeadm reset"), "{}", again.stdout);
    assert!(
        again.stdout.contains("record that kubeadm finished"),
        "{}",
        again.stdout
    );
    assert!(marker.exists());
    assert!(node.calls("kubeadm").is_empty(), "nothing re-run");
    assert_eq!(node.apply(&profile, &[]).summary()["changes"], 0);
}

/// A bundle without the token and a missing CNI manifest are named, all at once, by plan,
/// check, render and apply before anything runs (kubeadm would otherwise init with a random
/// token the workers never learn); a worker's copy without the CA hash likewise.
#[test]
fn missing_inputs_are_all_named_before_anything_runs() {
    let cluster = tempfile::tempdir().unwrap();
    let node = Node::new(cluster.path());
    generate_bundle(&node);
    std::fs::remove_file(node.sb.path("/etc/bootstrap/cluster/token")).unwrap();
    std::fs::remove_file(node.sb.path("/etc/bootstrap/cni/kube-flannel.yml")).unwrap();
    let profile = node.sb.profile("single.toml", SINGLE);
    let named = |text: &str| {
        for word in [
            "/etc/bootstrap/cluster/token",
            "/etc/bootstrap/cni/kube-flannel.yml",
            "bootstrap secrets generate",
        ] {
            assert!(text.contains(word), "{word}: {text}");
        }
    };
    for verb in ["plan", "check", "apply"] {
        let out = node.json(verb, &profile, &[]);
        assert_eq!(out.status("kubeadm"), "failed", "{verb}: {}", out.stdout);
        assert_ne!(out.code, 0, "{verb}");
        named(&out.reason("kubeadm"));
    }
    assert!(node.calls("kubeadm").is_empty(), "nothing was run");
    assert!(
        !node
            .sb
            .path("/var/lib/bootstrap/kubeadm/init.yaml")
            .exists()
    );
    let render = node.run(&["render", "kubeadm", "--profile", profile.to_str().unwrap()]);
    assert_eq!(render.code, 1);
    assert!(
        render.stderr.contains("/etc/bootstrap/cluster/token"),
        "{}",
        render.stderr
    );
    assert!(
        render.stderr.contains("bootstrap secrets generate"),
        "{}",
        render.stderr
    );

    let worker = Node::new(cluster.path());
    generate_bundle(&worker);
    std::fs::remove_file(worker.sb.path("/etc/bootstrap/cluster/ca-cert-hash")).unwrap();
    let wp = worker.sb.profile(
        "w.toml",
        "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\ncontrol_plane_endpoint = \"192.168.33.13:6443\"\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n",
    );
    let out = worker.json("plan", &wp, &[]);
    assert_eq!(out.status("kubeadm"), "failed", "{}", out.stdout);
    assert!(
        out.reason("kubeadm")
            .contains("/etc/bootstrap/cluster/ca-cert-hash")
    );
}

/// A worker whose kubelet and containerd use cgroupfs joins a cluster initialised with the
/// systemd driver. JoinConfiguration carries no KubeletConfiguration, so its own driver
/// reaches its kubelet through kubeadm's `kubeletconfiguration` patch; without the patch
/// it gets the cluster's systemd driver and its kubelet cannot run against its containerd.
#[test]
fn a_cgroupfs_worker_joins_a_systemd_cluster_with_its_own_driver() {
    let cluster = tempfile::tempdir().unwrap();
    let master = Node::new(cluster.path());
    generate_bundle(&master);
    let mp = master.sb.profile("single.toml", SINGLE);
    let out = master.apply(&mp, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        master
            .sb
            .read("/var/lib/kubelet/config.yaml")
            .contains("cgroupDriver: systemd")
    );

    let worker = Node::new(cluster.path());
    copy_bundle(&master, &worker, &["token", "ca-cert-hash"]);
    worker.sb.write(
        "/etc/containerd/config.toml",
        &CONTAINERD_V3.replace("SystemdCgroup = true", "SystemdCgroup = false"),
    );
    let wp = worker.sb.profile(
        "w.toml",
        "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.56.11\"\n[kubernetes]\nversion = \"1.35.2\"\ncgroup_driver = \"cgroupfs\"\n[kubeadm]\ncontrol_plane_endpoint = \"192.168.56.10:6443\"\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n",
    );
    let out = worker.apply(&wp, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let config = worker.sb.read("/var/lib/kubelet/config.yaml");
    assert!(config.contains("cgroupDriver: cgroupfs"), "{config}");
    let join = worker.sb.read("/var/lib/bootstrap/kubeadm/join.yaml");
    assert!(
        join.contains("patches:\n  directory: /var/lib/bootstrap/kubeadm/patches\n"),
        "{join}"
    );
    assert_eq!(worker.apply(&wp, &[]).summary()["changes"], 0);
}

/// The failure diagnosis reads containerd's config where the profile says it is
/// (containerd.config_path), through the same reader as the runtime steps: a mismatch in a
/// custom config file is found and named, not "no /etc/containerd/config.toml".
#[test]
fn diagnosis_reads_containerd_config_where_the_profile_says() {
    let cluster = tempfile::tempdir().unwrap();
    let mut node = Node::new(cluster.path());
    generate_bundle(&node);
    node.sb.write(
        "/etc/containerd/custom.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n",
    );
    // configured by hand, and running (kubeadm's CRI check needs it to answer)
    node.sb
        .write("/.standin/units/containerd.service", "active enabled\n");
    node.sb.executable("/usr/bin/containerd");
    node.env
        .push(("STANDIN_KUBEADM_BREAK".into(), "kubelet-config".into()));
    let profile = node.sb.profile(
        "single.toml",
        &format!("{SINGLE}\n[containerd]\nconfig_path = \"/etc/containerd/custom.toml\"\n"),
    );
    let out = node.apply(&profile, &["--skip", "containerd", "--skip", "cgroup"]);
    assert_eq!(out.status("kubeadm"), "failed", "{}", out.stdout);
    let why = reason(&out, "kubeadm");
    assert!(
        why.contains("cgroup driver mismatch: the kubelet uses systemd, containerd uses cgroupfs"),
        "{why}"
    );
    assert!(why.contains("of /etc/containerd/custom.toml"), "{why}");
}

#[test]
fn a_long_ready_wait_says_what_it_waits_for_with_elapsed_time_and_deadline() {
    let cluster = tempfile::tempdir().unwrap();
    let mut node = Node::new(cluster.path());
    // The interval shortened for the test (honoured only under a sandbox root).
    node.env
        .push(("BOOTSTRAP_TEST_PROGRESS_EVERY".into(), "300ms".into()));
    node.env.push(("NO_COLOR".into(), String::new()));
    generate_bundle(&node);
    let text = SINGLE.replace("[kubeadm]\n", "[kubeadm]\nready_timeout = \"3s\"\n");
    let profile = node.sb.profile("single.toml", &text);
    node.sb.write("/.standin/node-ready", "False");
    let out = node.apply(&profile, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // JSON: progress events on stdout, between the other events.
    let events: Vec<serde_json::Value> = out
        .events()
        .into_iter()
        .filter(|e| {
            e["event"] == "progress"
                && e["waiting_for"]
                    .as_str()
                    .is_some_and(|w| w.starts_with("node k8s-single to be Ready"))
        })
        .collect();
    assert!(
        events.len() >= 4,
        "about one per 300 ms of a 3 s wait: {events:?}"
    );
    for e in &events {
        assert_eq!(e["setting"], "kubeadm.ready_timeout", "{e}");
        assert_eq!(e["deadline_s"], 3, "{e}");
        let what = e["waiting_for"].as_str().unwrap();
        assert!(
            what.starts_with("node k8s-single to be Ready (last: Ready=False"),
            "{what}"
        );
    }
    let elapsed: Vec<u64> = events
        .iter()
        .map(|e| e["elapsed_s"].as_u64().unwrap())
        .collect();
    assert!(
        elapsed.windows(2).all(|w| w[0] <= w[1]) && elapsed[0] <= 1,
        "{elapsed:?}"
    );
    // For people: the same on stderr, without ANSI escapes (not a terminal).
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("waiting for node k8s-single to be Ready"))
        .collect();
    assert_eq!(lines.len(), events.len(), "{}", out.stderr);
    assert!(
        lines[0]
            .starts_with("bootstrap: waiting for node k8s-single to be Ready (last: Ready=False"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with("of up to 3s waited (kubeadm.ready_timeout)"),
        "{}",
        lines[0]
    );
    assert!(!out.stderr.contains('\x1b'), "{}", out.stderr);
}

#[test]
fn a_join_retrying_discovery_says_so_with_its_deadline() {
    let cluster = tempfile::tempdir().unwrap();
    let cp = Node::new(cluster.path());
    generate_bundle(&cp);
    let mut worker = Node::new(cluster.path());
    worker
        .env
        .push(("BOOTSTRAP_TEST_PROGRESS_EVERY".into(), "300ms".into()));
    copy_bundle(&cp, &worker, &["token", "ca-cert-hash"]);
    // No control plane answers: discovery fails every time; pauses 0.3, 0.6, 1.2 s.
    let profile = edited_example(
        &worker,
        "cluster-worker-1.toml",
        &[("attempts = 40", "attempts = 4"), ("\"2s\"", "\"300ms\"")],
    );
    let out = worker.apply(&profile, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("waiting for the API server to answer kubeadm join's discovery"))
        .collect();
    assert!(lines.len() >= 2, "{}", out.stderr);
    assert!(
        lines.iter().all(|l| l.contains("(kubeadm.discovery)")),
        "{lines:?}"
    );
}

/// Per-minor knowledge comes from the installed kubeadm where there is one: the configuration
/// API it writes by default (`kubeadm config print init-defaults`) is the one rendered, and a
/// default this agent cannot render keeps the table's with a warning. The stand-in's
/// `STANDIN_KUBEADM_DEFAULT_API` stands for a kubeadm whose default differs from the table.
#[test]
fn the_configuration_api_is_the_installed_kubeadms_default() {
    for (default, rendered, note) in [
        ("", "kubeadm.k8s.io/v1beta4", None),
        (
            "kubeadm.k8s.io/v1beta3",
            "kubeadm.k8s.io/v1beta3",
            Some("the installed kubeadm writes kubeadm.k8s.io/v1beta3 by default"),
        ),
        (
            "kubeadm.k8s.io/v1beta5",
            "kubeadm.k8s.io/v1beta4",
            Some("which this agent does not render: rendering kubeadm.k8s.io/v1beta4"),
        ),
    ] {
        let cluster = tempfile::tempdir().unwrap();
        let mut node = Node::new(cluster.path());
        node.env
            .push(("STANDIN_KUBEADM_DEFAULT_API".into(), default.into()));
        generate_bundle(&node);
        let profile = node.sb.profile("single.toml", SINGLE);
        let out = node.run(&["render", "kubeadm", "--profile", profile.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout.contains(&format!("apiVersion: {rendered}\n")),
            "{default}: {}",
            out.stdout
        );
        let plan = node.json("plan", &profile, &["--only", "kubeadm"]);
        match note {
            Some(note) => assert!(plan.stdout.contains(note), "{default}: {}", plan.stdout),
            None => assert!(
                !plan.stdout.contains("writes kubeadm.k8s.io"),
                "{}",
                plan.stdout
            ),
        }
    }
}
