//! The step contract, for every real step: `apply` carries out exactly the changes `plan`
//! showed, in order, and nothing else. On the same sandbox root, `plan --output json` then
//! `apply --output json`: per step, the applied changes are the planned ones (a re-plan
//! point followed by the changes planned there), and every effect the apply had (each
//! journal record, each changing call a stand-in recorded) is named by a change of the step
//! that made it.
//!
//! Scenarios cover every step and every kind of work: a control plane initialised from a
//! bundle (hosts, modules, sysctl, swap, containerd, cgroup, preflight, kubeadm init, user
//! kubeconfig, CNI, wait for Ready), a classic init (join command stored), a worker joining
//! it, the binary method with a fresh containerd (parallel download, per-file installs,
//! containerd installed then configured after a re-plan), and the apt method on a node with
//! the legacy repository.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::release;
use common::server::Server;
use common::{Out, Sandbox};

/// Effects whose change names them in words rather than by path or command line: (step, a
/// word of the change's summary, how the effect's target starts).
const IN_WORDS: [(&str, &str, &str); 11] = [
    (
        "packages",
        "enable kubelet.service",
        "/etc/systemd/system/multi-user.target.wants/kubelet.service",
    ),
    (
        "packages",
        "reload systemd units",
        "systemctl daemon-reload",
    ),
    ("modules", "load kernel module ", "modprobe "),
    ("swap", "turn off swap", "swapoff "),
    ("swap", "mask ", "/etc/systemd/system/"),
    ("swap", "reload systemd units", "systemctl daemon-reload"),
    ("packages", "refresh ", "apt-get "),
    ("packages", "install ", "apt-get "),
    ("packages", "hold ", "apt-mark hold "),
    ("containerd", "refresh apt package lists", "apt-get "),
    ("containerd", "install containerd", "apt-get "),
];

/// `systemctl VERB UNIT` is named by "VERB UNIT" (or "VERB containerd" for its service).
fn systemctl_named(summary: &str, target: &str) -> bool {
    let Some(rest) = target.strip_prefix("systemctl ") else {
        return false;
    };
    let mut words = rest.split_whitespace();
    let (Some(verb), Some(unit)) = (words.next(), words.next()) else {
        return false;
    };
    let unit = unit.trim_end_matches(".service");
    summary.starts_with(&format!("{verb} {unit}"))
}

/// Whether a change summary of `step` names an effect on `target` (a node path or a
/// command line).
fn names(step: &str, summary: &str, action: &str, target: &str) -> bool {
    if summary.contains(target) || systemctl_named(summary, target) {
        return true;
    }
    if action == "set" {
        // "set net.ipv4.ip_forward = 1 (was 0)" sets /proc/sys/net/ipv4/ip_forward.
        let key = target.trim_start_matches("/proc/sys/").replace('/', ".");
        return summary.starts_with(&format!("set {key} = "));
    }
    if let Some(dir) = summary
        .split_whitespace()
        .find(|w| w.starts_with('/') && w.ends_with('/'))
        && target.starts_with(dir)
    {
        return true;
    }
    IN_WORDS
        .iter()
        .any(|(s, word, prefix)| *s == step && summary.contains(word) && target.starts_with(prefix))
}

/// Change summaries per step, with each change's outcome in apply (`""` in plan).
fn changes(out: &Out) -> BTreeMap<String, Vec<(String, String)>> {
    let mut per_step: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for e in out.events().iter().filter(|e| e["event"] == "change") {
        per_step
            .entry(e["step"].as_str().unwrap().to_string())
            .or_default()
            .push((
                e["summary"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap_or("").to_string(),
            ));
    }
    per_step
}

/// The journal's records: (step, action, target).
fn journal(sb: &Sandbox) -> Vec<(String, String, String)> {
    let path = sb.path("/var/lib/bootstrap/journal.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
            (field("step"), field("action"), field("target"))
        })
        .collect()
}

/// The steps, in the order they run.
const STEPS: [&str; 9] = [
    "hosts",
    "modules",
    "sysctl",
    "swap",
    "packages",
    "containerd",
    "cgroup",
    "preflight",
    "kubeadm",
];

/// Step by step (each planned just before it is applied, as apply itself does: a step's
/// plan depends on what the steps before it changed), `plan --only STEP` then
/// `apply --only STEP` on `sb`, checking the contract; `run` runs the binary there with a
/// verb and extra arguments. Returns every step's applied changes.
fn plan_then_apply(
    sb: &Sandbox,
    steps: &[&str],
    run: &dyn Fn(&str, &[&str]) -> Out,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut all = BTreeMap::new();
    for step in steps {
        let applied = step_contract(sb, step, run);
        all.insert(step.to_string(), applied);
    }
    let again = run("plan", &[]);
    assert_eq!(again.code, 0, "converged after apply: {}", again.stdout);
    all
}

/// The contract for one step: applied as planned, every effect named by a change.
fn step_contract(
    sb: &Sandbox,
    step: &str,
    run: &dyn Fn(&str, &[&str]) -> Out,
) -> Vec<(String, String)> {
    let plan = run("plan", &["--only", step]);
    assert!(
        plan.code == 0 || plan.code == 2,
        "{step}: {}\n{}",
        plan.stdout,
        plan.stderr
    );
    let want = changes(&plan).remove(step).unwrap_or_default();
    let before = journal(sb).len();
    sb.take_calls();
    let apply = run("apply", &["--only", step]);
    assert_eq!(apply.code, 0, "{step}: {}\n{}", apply.stdout, apply.stderr);
    let got = changes(&apply).remove(step).unwrap_or_default();
    let summaries: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
    let replanned = got.iter().position(|(_, o)| o == "replanned");
    let shown = replanned.map_or(got.len(), |i| i + 1);
    let want: Vec<&str> = want.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(want, summaries[..shown], "{step}: applied as planned");
    assert!(
        got.iter().all(|(_, o)| o == "done" || o == "replanned"),
        "{step}: {got:?}"
    );
    if let Some(i) = replanned {
        assert!(i + 1 < got.len(), "{step}: a re-plan shows what it planned");
    }
    let records = journal(sb);
    for (by, action, target) in &records[before..] {
        assert_eq!(by, step, "only the selected step changes the node");
        if action == "mkdir" {
            // A directory created for a file the step writes: that file's change names it.
            let inside = format!("{target}/");
            assert!(
                records[before..]
                    .iter()
                    .any(|(_, a, t)| a != "mkdir" && t.starts_with(&inside)),
                "{step} created {target} but wrote nothing into it"
            );
            continue;
        }
        assert!(
            got.iter()
                .any(|(summary, _)| names(step, summary, action, target)),
            "{step} did `{action} {target}`, which none of its changes names: {got:#?}"
        );
    }
    let journaled: Vec<&str> = records[before..]
        .iter()
        .filter(|(_, a, _)| a == "run")
        .map(|(_, _, t)| t.as_str())
        .collect();
    for call in sb.take_changing_calls() {
        let read_only = [
            "dpkg-query ",
            "kubeadm version",
            "kubectl --kubeconfig /etc/kubernetes/admin.conf get",
        ];
        if read_only.iter().any(|r| call.starts_with(r)) {
            continue;
        }
        assert!(
            journaled
                .iter()
                .any(|j| call.starts_with(j) || j.starts_with(&call)),
            "{step}: `{call}` changed the node outside any journaled change: {journaled:#?}"
        );
    }
    got
}

/// A node for the kubeadm scenarios: the kubeadm stand-in, a user, containerd configured.
fn kube_node() -> Sandbox {
    let sb = Sandbox::new();
    std::fs::copy(common::kubeadm_standin(), sb.bin.join("kubeadm")).unwrap();
    sb.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nvagrant:x:4321:4321:Vagrant:/home/vagrant:/bin/bash\n",
    );
    sb.mkdir("/home/vagrant");
    sb.write(
        "/etc/containerd/config.toml",
        "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10.1'\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
    );
    sb.write("/.standin/containerd-version", "2.1.4");
    sb.write(
        "/etc/bootstrap/cni/kube-flannel.yml",
        "kind: DaemonSet\nmetadata:\n  name: kube-flannel-ds\n",
    );
    sb
}

/// Runs `bootstrap VERB --output json` on a kubeadm node (packages skipped: the Kubernetes
/// programs are the stand-ins on PATH).
fn kube_run(sb: &Sandbox, cluster: &Path, verb: &str, extra: &[&str], profile: &Path) -> Out {
    let mut c = sb.command();
    c.env("STANDIN_CLUSTER", cluster)
        .args([verb, "--output", "json", "--skip", "packages", "--profile"])
        .arg(profile)
        .args(extra);
    let output = c.output().unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn profile_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name)
}

#[test]
fn a_control_plane_from_a_bundle_then_a_worker_apply_exactly_what_they_planned() {
    let cluster = tempfile::tempdir().unwrap();
    let master = kube_node();
    let bundle = master.path("/etc/bootstrap/cluster");
    let out = master.run(&["secrets", "generate", "--out", bundle.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let profile = profile_file("cluster-master.toml");
    let applied = plan_then_apply(&master, &STEPS, &|verb, extra| {
        kube_run(&master, cluster.path(), verb, extra, &profile)
    });
    let kubeadm = applied["kubeadm"].clone();
    assert!(
        kubeadm
            .iter()
            .any(|(s, _)| s.starts_with("run `kubeadm init")),
        "{kubeadm:?}"
    );

    let worker = kube_node();
    worker.mkdir("/etc/bootstrap/cluster");
    for f in ["token", "ca-cert-hash"] {
        let p = format!("/etc/bootstrap/cluster/{f}");
        std::fs::copy(master.path(&p), worker.path(&p)).unwrap();
    }
    let profile = profile_file("cluster-worker-1.toml");
    let applied = plan_then_apply(&worker, &STEPS, &|verb, extra| {
        kube_run(&worker, cluster.path(), verb, extra, &profile)
    });
    assert!(
        applied["kubeadm"]
            .iter()
            .any(|(s, _)| s.starts_with("run `kubeadm join")),
        "{applied:#?}"
    );
}

#[test]
fn a_classic_init_applies_exactly_what_it_planned() {
    let cluster = tempfile::tempdir().unwrap();
    let node = kube_node();
    let profile = node.profile(
        "classic.toml",
        "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = \"192.168.33.13\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\nmode = \"init\"\n",
    );
    let applied = plan_then_apply(&node, &STEPS, &|verb, extra| {
        kube_run(&node, cluster.path(), verb, extra, &profile)
    });
    assert!(
        applied["kubeadm"]
            .iter()
            .any(|(s, _)| s.starts_with("store a join command")),
        "{applied:#?}"
    );
}

#[test]
fn the_binary_method_and_a_fresh_containerd_apply_exactly_what_they_planned() {
    let sb = Sandbox::new();
    let server = Server::start();
    release::publish(&server, &release::tree("1.31.4", "1.31.0", "1.6.2"));
    let text = format!(
        "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n[kubernetes]\nversion = \"1.31.4\"\n[packages]\nmethod = \"binary\"\ncni_plugins = \"1.6.2\"\n{}",
        release::urls(&server.url())
    );
    let profile = sb.profile("p.toml", &text);
    let all = plan_then_apply(&sb, &STEPS[..7], &|verb, extra| {
        let mut args = vec!["--skip", "kubeadm", "--skip", "preflight"];
        args.extend(extra);
        sb.json(verb, &profile, &args)
    });
    assert!(all["containerd"].iter().any(|(_, o)| o == "replanned"));
    assert!(
        all["packages"][0]
            .0
            .starts_with("download 5 files in parallel")
    );
}

#[test]
fn the_apt_method_on_a_node_with_the_legacy_repository_applies_exactly_what_it_planned() {
    let sb = Sandbox::new();
    sb.write(
        "/etc/apt/sources.list.d/kubernetes.list",
        "deb https://apt.kubernetes.io/ kubernetes-xenial main\n",
    );
    sb.write(
        "/.standin/dpkg-status",
        "ca-certificates\t20230311\tii \nkubeadm\t1.28.2-00\thi \nkubelet\t1.28.2-00\thi \nkubectl\t1.28.2-00\thi \ncri-tools\t1.26.0-00\tii \n",
    );
    let server = Server::start();
    let mut key = vec![0x99, 0x01, 0x0d, 0x04];
    key.extend((0u8..200).map(|i| i.wrapping_mul(7)));
    server.put(
        "/core:/stable:/v1.29/deb/Release.key",
        bootstrap::formats::armor::armor(&key),
    );
    let text = format!(
        "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n[kubernetes]\nversion = \"1.29.6\"\n[packages]\nmethod = \"apt\"\n{}",
        release::urls(&server.url())
    );
    let profile = sb.profile("p.toml", &text);
    plan_then_apply(&sb, &["packages"], &|verb, _| {
        sb.json(verb, &profile, &["--only", "packages"])
    });
}
