//! `bootstrap upgrade plan|apply`, `drain` and `uncordon` against the kubeadm stand-in
//! (examples/kubeadm_standin, `upgrade plan|apply|node`), the kubectl stand-in over nodes
//! and pods (examples/kubectl_node_standin), and the apt/systemctl stand-ins: each node kind
//! upgrades one minor, every policy refusal changes nothing, a run killed at each phase
//! converges when run again and never repeats `kubeadm upgrade apply`. No real cluster.

mod common;

use std::path::{Path, PathBuf};

use common::release;
use common::server::Server;
use common::{Out, Sandbox};

const FROM: &str = "1.34.3";
const TO: &str = "1.35.2";

/// The kubectl stand-in beside the kubeadm one.
fn kubectl_standin() -> PathBuf {
    common::kubeadm_standin().with_file_name("kubectl_node_standin")
}

fn program(version: &str) -> String {
    format!(
        "#!/bin/sh\n# fake Kubernetes program\nV={version}\ncase \"$*\" in\n  \"version -o short\") echo \"v$V\" ;;\n  \"version --client\") printf 'Client Version: v%s\\n' \"$V\" ;;\n  *) echo \"Kubernetes v$V\" ;;\nesac\n"
    )
}

fn kubeconfig(user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://192.168.33.13:6443\n  name: kubernetes\nusers:\n- name: {user}\n  user:\n    client-certificate-data: c3RhbmRpbg==\n"
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    First,
    OtherControlPlane,
    Worker,
}

struct Node {
    sb: Sandbox,
    name: &'static str,
    cluster: PathBuf,
    profile: PathBuf,
}

fn serve_keys(server: &Server) {
    let mut key = vec![0x99, 0x01, 0x0d, 0x04];
    key.extend((0u8..200).map(|i| i.wrapping_mul(7)));
    let armored = bootstrap::formats::armor::armor(&key);
    for minor in ["1.33", "1.34", "1.35", "1.36"] {
        server.put(
            &format!("/core:/stable:/v{minor}/deb/Release.key"),
            armored.clone(),
        );
    }
}

fn profile_text(server: &Server, name: &str, kind: Kind, version: &str, extra: &str) -> String {
    let (role, kubeadm) = match kind {
        Kind::First => ("control-plane", "mode = \"init\"\n".to_string()),
        Kind::OtherControlPlane => (
            "control-plane",
            format!(
                "mode = \"join\"\ncontrol_plane_endpoint = \"192.168.33.13:6443\"\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\ncertificate_key = \"{}\"\nca_cert_hash = \"sha256:{}\"\n",
                "0123456789abcdef".repeat(4),
                "ab".repeat(32)
            ),
        ),
        Kind::Worker => (
            "worker",
            format!(
                "control_plane_endpoint = \"192.168.33.13:6443\"\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\nca_cert_hash = \"sha256:{}\"\n",
                "ab".repeat(32)
            ),
        ),
    };
    format!(
        "[node]\nname = \"{name}\"\nrole = \"{role}\"\naddress = \"192.168.33.13\"\n[kubernetes]\nversion = \"{version}\"\n[packages]\nmethod = \"apt\"\n{}{extra}\n[kubeadm]\n{kubeadm}",
        release::urls(&server.url())
    )
}

impl Node {
    /// A member node at FROM: kubeadm's files, packages held at FROM from the v1.34
    /// repository, the kubelet running, and its Node in the shared cluster state.
    fn new(cluster: &Path, server: &Server, name: &'static str, kind: Kind, extra: &str) -> Node {
        let sb = Sandbox::new();
        std::fs::copy(common::kubeadm_standin(), sb.bin.join("kubeadm")).unwrap();
        std::fs::copy(kubectl_standin(), sb.bin.join("kubectl")).unwrap();
        sb.write(
            "/etc/kubernetes/kubelet.conf",
            &kubeconfig(&format!("system:node:{name}")),
        );
        sb.write(
            "/var/lib/kubelet/config.yaml",
            "kind: KubeletConfiguration\n",
        );
        sb.write("/etc/kubernetes/pki/ca.crt", "ca\n");
        if kind != Kind::Worker {
            sb.write(
                "/etc/kubernetes/admin.conf",
                &kubeconfig("kubernetes-admin"),
            );
            sb.write("/etc/kubernetes/pki/ca.key", "key\n");
            for m in [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
            ] {
                sb.write(
                    &format!("/etc/kubernetes/manifests/{m}.yaml"),
                    &format!("kind: Pod\nmetadata:\n  name: {m}\n"),
                );
            }
        }
        sb.write(
            "/.standin/dpkg-status",
            &format!("ca-certificates\t20230311\tii \nkubeadm\t{FROM}-1.1\thi \nkubelet\t{FROM}-1.1\thi \nkubectl\t{FROM}-1.1\thi \n"),
        );
        for p in ["kubeadm", "kubelet", "kubectl"] {
            sb.write(&format!("/usr/bin/{p}"), &program(FROM));
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                sb.path(&format!("/usr/bin/{p}")),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        sb.write("/.standin/units/kubelet.service", "active enabled\n");
        let profile = sb.profile("p.toml", &profile_text(server, name, kind, FROM, extra));
        let node = Node {
            sb,
            name,
            cluster: cluster.to_path_buf(),
            profile,
        };
        // Converge packages at FROM first (repository, key, holds), as `bootstrap apply` left it.
        let out = node.run(&[
            "apply",
            "--only",
            "packages",
            "--output",
            "json",
            "--profile",
            node.profile.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        node.sb.take_calls();
        node
    }

    fn run(&self, args: &[&str]) -> Out {
        self.sb
            .run_with_env(args, &[("STANDIN_CLUSTER", self.cluster.to_str().unwrap())])
    }

    fn target(&self, server: &Server, kind: Kind, version: &str, extra: &str) {
        std::fs::write(
            &self.profile,
            profile_text(server, self.name, kind, version, extra),
        )
        .unwrap();
    }

    /// `bootstrap VERB... --output json --profile P`.
    fn json(&self, verb: &str) -> Out {
        let mut args: Vec<&str> = verb.split(' ').collect();
        args.extend([
            "--output",
            "json",
            "--profile",
            self.profile.to_str().unwrap(),
        ]);
        self.run(&args)
    }

    fn upgrade(&self, verb: &str) -> Out {
        self.run(&["upgrade", verb, "--profile", self.profile.to_str().unwrap()])
    }
}

/// The cluster state both stand-ins read: the API server's version, the nodes, and pods:
/// a Deployment's pod under a PDB that refuses `blocks` evictions first, a DaemonSet pod,
/// and (when `bare`) a pod no controller manages.
fn cluster(dir: &Path, server: &str, nodes: &[(&str, &Node)], blocks: u32, bare: bool) {
    let mut json_nodes = serde_json::Map::new();
    for (name, node) in nodes {
        let unit = node.sb.path("/.standin/units/kubelet.service");
        let stamp = std::fs::metadata(&unit)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            .to_string();
        json_nodes.insert(name.to_string(), serde_json::json!({"root": node.sb.root, "kubeletVersion": format!("v{FROM}"), "restartedAt": stamp, "ready": true}));
    }
    let first = nodes[0].0;
    let mut pods = vec![
        serde_json::json!({"namespace": "default", "name": "web-1", "node": first, "owner": "ReplicaSet", "app": "web"}),
        serde_json::json!({"namespace": "kube-system", "name": "kube-proxy-x1", "node": first, "owner": "DaemonSet"}),
        serde_json::json!({"namespace": "kube-system", "name": "cache-1", "node": first, "owner": "ReplicaSet", "emptyDir": true}),
    ];
    if bare {
        pods.push(serde_json::json!({"namespace": "default", "name": "debug", "node": first, "owner": null}));
    }
    let state = serde_json::json!({
        "serverVersion": server,
        "nodes": json_nodes,
        "pods": pods,
        "pdbs": [{"namespace": "default", "app": "web", "blocks": blocks}],
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("kube.json"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
}

fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("kube.json")).unwrap()).unwrap()
}

const DRAIN_OK: &str = "[upgrade.drain]\ndelete_emptydir_data = true\ntimeout = \"1m\"\n";

fn server() -> Server {
    let server = Server::start();
    serve_keys(&server);
    server
}

/// One first control plane at FROM in its own cluster (see [`cluster`] for the pods).
struct One {
    server: Server,
    _dir: tempfile::TempDir,
    cluster_dir: PathBuf,
    cp: Node,
}

fn one(extra: &str, blocks: u32, bare: bool) -> One {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let cluster_dir = dir.path().join("cluster");
    let cp = Node::new(&cluster_dir, &server, "cp-1", Kind::First, extra);
    cluster(&cluster_dir, FROM, &[("cp-1", &cp)], blocks, bare);
    One {
        server,
        _dir: dir,
        cluster_dir,
        cp,
    }
}

#[test]
fn first_control_plane_upgrades_one_minor_then_nothing_is_left() {
    let One {
        server,
        _dir,
        cluster_dir,
        cp,
    } = one(DRAIN_OK, 2, false);
    cp.target(&server, Kind::First, TO, DRAIN_OK);

    let plan = cp.upgrade("plan");
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for line in [
        "first control plane",
        "kubeadm v1.34.3, kubelet v1.34.3, kubectl v1.34.3; API server v1.34.3",
        "kubeadm upgrade apply v1.35.2 --yes",
        "kubectl --kubeconfig /etc/kubernetes/admin.conf drain cp-1 --ignore-daemonsets --timeout=60s --delete-emptydir-data",
        "install kubeadm=1.35.2-*",
        "install kubelet=1.35.2-* kubectl=1.35.2-*",
    ] {
        assert!(
            plan.stdout.contains(line),
            "missing {line:?} in\n{}",
            plan.stdout
        );
    }
    assert!(
        plan.stdout
            .contains("changes pending: run `bootstrap upgrade apply --root"),
        "{}",
        plan.stdout
    );
    assert!(
        cp.sb
            .take_changing_calls()
            .iter()
            .all(|c| !c.contains("upgrade apply")
                && !c.contains("drain")
                && !c.starts_with("apt-get")),
        "plan changed something"
    );

    let out = cp.upgrade("apply");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let calls = cp.sb.take_changing_calls();
    let pos = |needle: &str| {
        calls
            .iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {calls:#?}"))
    };
    // kubeadm first, then the control plane, then drain, kubelet, restart, uncordon.
    assert!(
        pos("install -y --allow-change-held-packages kubeadm=1.35.2-*")
            < pos("kubeadm upgrade plan v1.35.2")
    );
    assert!(pos("kubeadm upgrade plan v1.35.2") < pos("kubeadm upgrade apply v1.35.2 --yes"));
    assert!(pos("kubeadm upgrade apply") < pos(" drain cp-1"));
    assert!(pos(" drain cp-1") < pos("kubelet=1.35.2-*"));
    assert!(pos("kubelet=1.35.2-*") < pos("systemctl restart kubelet"));
    assert!(pos("systemctl restart kubelet") < pos("uncordon cp-1"));
    assert!(
        cp.sb
            .read("/etc/apt/sources.list.d/kubernetes.list")
            .contains("/v1.35/deb")
    );
    assert!(
        cp.sb
            .read("/.standin/dpkg-status")
            .contains("kubelet\t1.35.2-1.1\thi")
    );
    assert!(
        cp.sb
            .path("/var/lib/bootstrap/upgrade/backup-before-v1.35.2/etc-kubernetes/admin.conf")
            .exists()
    );
    let st = state(&cluster_dir);
    assert_eq!(st["serverVersion"], TO);
    assert_eq!(st["nodes"]["cp-1"]["kubeletVersion"], format!("v{TO}"));
    assert_eq!(st["nodes"]["cp-1"]["unschedulable"], false);
    assert_eq!(
        st["pods"][0]["node"], "<rescheduled>",
        "the PDB blocked twice, then allowed"
    );
    assert_eq!(st["pods"][1]["node"], "cp-1", "DaemonSet pods stay");

    let again = cp.upgrade("apply");
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        cp.sb
            .take_changing_calls()
            .iter()
            .all(|c| !c.contains("kubeadm upgrade") && !c.starts_with("apt-get install"))
    );
    assert_eq!(cp.upgrade("plan").code, 0);
}

#[test]
fn policy_refusals_change_nothing() {
    let One {
        server,
        _dir,
        cluster_dir,
        cp,
    } = one(DRAIN_OK, 0, false);
    let cases = [("1.36.1", "skips 1.35"), ("1.34.1", "downgrades")];
    for (version, why) in cases {
        cp.target(&server, Kind::First, version, DRAIN_OK);
        let before = cp.sb.snapshot();
        for verb in ["plan", "apply"] {
            let out = cp.upgrade(verb);
            assert_eq!(
                out.code, 1,
                "{version} {verb}: {}\n{}",
                out.stdout, out.stderr
            );
            assert!(
                out.stderr.contains(why) && out.stderr.contains("nothing was changed"),
                "{version}: {}",
                out.stderr
            );
        }
        cp.sb.assert_unchanged(&before, version);
        assert!(cp.sb.take_changing_calls().iter().all(|c| {
            c.starts_with("kubectl --kubeconfig /etc/kubernetes/admin.conf get")
                || c.starts_with("dpkg-query")
        }));
    }
    // A worker whose control plane is still at FROM refuses to go ahead; so does one
    // without credentials to evict pods.
    let w = Node::new(&cluster_dir, &server, "w-1", Kind::Worker, "");
    cluster(&cluster_dir, FROM, &[("w-1", &w)], 0, false);
    w.target(&server, Kind::Worker, TO, "");
    let before = w.sb.snapshot();
    let out = w.upgrade("apply");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("go ahead of the control plane"),
        "{}",
        out.stderr
    );
    let st = state(&cluster_dir);
    std::fs::write(
        cluster_dir.join("kube.json"),
        serde_json::to_string(&{
            let mut s = st;
            s["serverVersion"] = TO.into();
            s
        })
        .unwrap(),
    )
    .unwrap();
    let out = w.upgrade("apply");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("only the kubelet's credentials")
            && out.stderr.contains("upgrade.drain.kubeconfig"),
        "{}",
        out.stderr
    );
    w.sb.assert_unchanged(&before, "worker refusals");
}

#[test]
fn a_bare_pod_stops_the_drain_and_the_node_stays_cordoned_with_advice() {
    let One {
        server,
        _dir,
        cluster_dir,
        cp,
    } = one(DRAIN_OK, 0, true);
    cp.target(&server, Kind::First, TO, DRAIN_OK);
    let out = cp.json("upgrade apply");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.reason("upgrade-drain").contains(
            "cannot delete Pods declare no controller (use --force to override): default/debug"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(state(&cluster_dir)["nodes"]["cp-1"]["unschedulable"], true);
    // With force the re-run continues: kubeadm upgrade apply is not run again.
    let force = "[upgrade.drain]\ndelete_emptydir_data = true\nforce = true\n";
    cp.target(&server, Kind::First, TO, force);
    cp.sb.take_calls();
    let out = cp.upgrade("apply");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !cp.sb
            .take_calls()
            .iter()
            .any(|c| c.contains("upgrade apply"))
    );
    assert_eq!(state(&cluster_dir)["pods"][3]["node"], "<deleted>");
}

#[test]
fn killed_at_every_phase_a_rerun_converges_without_repeating_kubeadm_upgrade_apply() {
    // Each program the phases run, killed right after it took effect (or as it starts).
    for kill in [
        "apt-get",
        "kubeadm-upgrade",
        "kubectl-drain",
        "systemctl",
        "apt-mark",
        "kubectl-uncordon",
    ] {
        let One {
            server,
            _dir,
            cluster_dir,
            mut cp,
        } = one(DRAIN_OK, 0, false);
        cp.target(&server, Kind::First, TO, DRAIN_OK);
        cp.sb.kill = kill.to_string();
        let out = cp.upgrade("apply");
        assert_ne!(
            out.code, 0,
            "{kill}: the run was not killed:\n{}",
            out.stdout
        );
        cp.sb.kill.clear();
        cp.sb.take_calls();
        let out = cp.upgrade("apply");
        assert_eq!(out.code, 0, "{kill}: {}\n{}", out.stdout, out.stderr);
        let calls = cp.sb.take_calls();
        if kill != "apt-get" && kill != "apt-mark" {
            assert!(
                !calls.iter().any(|c| c.contains("kubeadm upgrade apply")),
                "{kill}: apply repeated: {calls:#?}"
            );
        }
        let st = state(&cluster_dir);
        assert_eq!(st["serverVersion"], TO, "{kill}");
        assert_eq!(
            st["nodes"]["cp-1"]["kubeletVersion"],
            format!("v{TO}"),
            "{kill}"
        );
        assert_eq!(st["nodes"]["cp-1"]["unschedulable"], false, "{kill}");
        assert_eq!(cp.upgrade("plan").code, 0, "{kill}");
    }
}

#[test]
fn three_nodes_upgrade_one_minor_control_planes_first() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let cluster_dir = dir.path().join("cluster");
    let cp1 = Node::new(&cluster_dir, &server, "cp-1", Kind::First, DRAIN_OK);
    let cp2 = Node::new(
        &cluster_dir,
        &server,
        "cp-2",
        Kind::OtherControlPlane,
        DRAIN_OK,
    );
    let w = Node::new(&cluster_dir, &server, "w-1", Kind::Worker, "");
    // The worker evicts with an admin kubeconfig copied to it.
    w.sb.write("/etc/bootstrap/admin.conf", &kubeconfig("kubernetes-admin"));
    let w_drain = "[upgrade.drain]\nkubeconfig = \"/etc/bootstrap/admin.conf\"\ndelete_emptydir_data = true\n";
    cluster(
        &cluster_dir,
        FROM,
        &[("cp-1", &cp1), ("cp-2", &cp2), ("w-1", &w)],
        1,
        false,
    );
    let nodes = [
        (&cp1, Kind::First, DRAIN_OK),
        (&cp2, Kind::OtherControlPlane, DRAIN_OK),
        (&w, Kind::Worker, w_drain),
    ];
    for (node, kind, extra) in nodes {
        node.target(&server, kind, TO, extra);
    }
    // The worker and the other control plane may not go ahead of the control plane.
    for node in [&w, &cp2] {
        let before = node.sb.snapshot();
        let out = node.upgrade("apply");
        eprintln!(
            "== {} upgrade apply (before cp-1)\n{}{}",
            node.name, out.stdout, out.stderr
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("go ahead of the control plane"),
            "{}",
            out.stderr
        );
        node.sb.assert_unchanged(&before, node.name);
        node.sb.take_calls();
    }
    for (node, _, _) in nodes {
        let plan = node.upgrade("plan");
        eprintln!(
            "== {} upgrade plan\n{}{}",
            node.name, plan.stdout, plan.stderr
        );
        let out = node.upgrade("apply");
        eprintln!(
            "== {} upgrade apply\n{}{}",
            node.name, out.stdout, out.stderr
        );
        assert_eq!(out.code, 0, "{}: {}\n{}", node.name, out.stdout, out.stderr);
        let calls = node.sb.take_changing_calls();
        let apply = calls
            .iter()
            .any(|c| c.starts_with("kubeadm upgrade apply v1.35.2 --yes"));
        let upgrade_node = calls.iter().any(|c| c == "kubeadm upgrade node");
        assert_eq!(
            (apply, upgrade_node),
            (node.name == "cp-1", node.name != "cp-1"),
            "{calls:#?}"
        );
        let st = state(&cluster_dir);
        assert_eq!(st["serverVersion"], TO);
        assert_eq!(st["nodes"][node.name]["kubeletVersion"], format!("v{TO}"));
        assert_eq!(st["nodes"][node.name]["unschedulable"], false);
        let again = node.upgrade("apply");
        assert_eq!(again.code, 0);
        assert!(
            !node
                .sb
                .take_changing_calls()
                .iter()
                .any(|c| c.starts_with("kubeadm upgrade") || c.starts_with("apt-get"))
        );
    }
    assert!(
        !w.sb
            .path("/var/lib/bootstrap/upgrade/backup-before-v1.35.2")
            .exists(),
        "a worker has nothing to back up"
    );
    assert!(
        cp2.sb
            .path("/var/lib/bootstrap/upgrade/backup-before-v1.35.2/etc-kubernetes/admin.conf")
            .exists()
    );
}

#[test]
fn plan_in_json_names_the_node_kind_versions_and_each_phase() {
    let One {
        server,
        _dir,
        cluster_dir: _,
        cp,
    } = one(DRAIN_OK, 0, false);
    cp.target(&server, Kind::First, TO, DRAIN_OK);
    let out = cp.json("upgrade plan");
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let events = out.events();
    let header = &events[0];
    assert_eq!(header["event"], "upgrade");
    assert_eq!(header["kind"], "FirstControlPlane");
    assert_eq!(
        (
            header["kubelet"].as_str(),
            header["api_server"].as_str(),
            header["target"].as_str()
        ),
        (Some(FROM), Some(FROM), Some(TO))
    );
    let phases: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "upgrade-kubeadm",
            "upgrade-backup",
            "upgrade-control-plane",
            "upgrade-drain",
            "upgrade-kubelet",
            "upgrade-restart",
            "upgrade-uncordon"
        ]
    );
    assert!(
        phases[..6].iter().all(|(_, s)| s == "pending"),
        "{phases:?}"
    );
    assert_eq!(out.summary()["exit_code"], 2);
}

#[test]
fn drain_settings_are_validated_with_their_location() {
    let sb = Sandbox::new();
    let cases = [
        (
            "kubeconfig = \"admin.conf\"\ntimeout = \"soon\"\n",
            &[
                "p.toml:5:14: upgrade.drain.kubeconfig: invalid path `admin.conf`",
                "upgrade.drain.timeout",
            ][..],
        ),
        (
            "skip = true\nforce = true\n",
            &["p.toml:5:8: upgrade.drain.skip: skip = true contradicts"][..],
        ),
    ];
    for (drain, wanted) in cases {
        let text = format!("[node]\nname = \"w\"\nrole = \"worker\"\n[upgrade.drain]\n{drain}");
        let file = sb.profile("p.toml", &text);
        let out = sb.run(&["profile", "validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 1);
        for want in wanted {
            assert!(out.stderr.contains(want), "{want}: {}", out.stderr);
        }
    }
}

#[test]
fn drain_respects_the_pdb_timeout_and_uncordon_undoes_the_cordon() {
    let settings = "[upgrade.drain]\ndelete_emptydir_data = true\ntimeout = \"30s\"\n";
    // The PDB refuses 10 evictions (50 s of kubectl's 5 s retries): more than the timeout.
    let One {
        server,
        _dir,
        cluster_dir,
        cp,
    } = one(settings, 10, false);
    let profile = cp.profile.to_str().unwrap();
    let out = cp.run(&["drain", "--profile", profile]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("global timeout reached: 30s"),
        "{}",
        out.stdout
    );
    let st = state(&cluster_dir);
    assert_eq!(
        st["nodes"]["cp-1"]["unschedulable"], true,
        "a failed drain leaves the node cordoned"
    );
    assert_eq!(st["pods"][0]["node"], "cp-1", "the PDB held the pod");
    // The PDB now allows (4 refusals left, 20 s): the drain finishes.
    let out = cp.run(&["drain", "--profile", profile]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(state(&cluster_dir)["pods"][0]["node"], "<rescheduled>");
    let out = cp.run(&["uncordon", "--profile", profile]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(state(&cluster_dir)["nodes"]["cp-1"]["unschedulable"], false);
    cp.sb.take_calls();
    let out = cp.run(&["uncordon", "--profile", profile]);
    assert_eq!(out.code, 0);
    assert!(
        !cp.sb.take_calls().iter().any(|c| c.contains(" uncordon ")),
        "an uncordoned node is left alone"
    );
    // A worker without eviction credentials is told so, and nothing is run.
    let w = Node::new(&cluster_dir, &server, "w-1", Kind::Worker, "");
    let out = w.run(&["drain", "--profile", w.profile.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("only the kubelet's credentials"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(!w.sb.take_calls().iter().any(|c| c.contains(" drain ")));
}

#[test]
fn the_etcd_snapshot_must_succeed_before_kubeadm_upgrade_apply() {
    let One {
        server,
        _dir,
        cluster_dir,
        cp,
    } = one(DRAIN_OK, 0, false);
    // A stacked etcd as kubeadm writes it, its client certificate present, but no etcdctl.
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/etcd/etcd.yaml"),
    )
    .unwrap();
    cp.sb
        .write("/etc/kubernetes/manifests/etcd.yaml", &manifest);
    for f in ["ca.crt", "healthcheck-client.crt", "healthcheck-client.key"] {
        cp.sb
            .write(&format!("/etc/kubernetes/pki/etcd/{f}"), "standin\n");
    }
    cp.target(&server, Kind::First, TO, DRAIN_OK);
    let plan = cp.upgrade("plan");
    assert!(
        plan.stdout.contains("save a snapshot of etcd member"),
        "{}",
        plan.stdout
    );
    let out = cp.json("upgrade apply");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.reason("upgrade-backup").contains("etcdctl"),
        "{}",
        out.reason("upgrade-backup")
    );
    assert!(
        !cp.sb
            .take_calls()
            .iter()
            .any(|c| c.contains("kubeadm upgrade apply"))
    );
    assert_eq!(state(&cluster_dir)["serverVersion"], FROM);
}

#[test]
fn maintain_reboot_drains_then_reboots_with_a_unit_that_uncordons_at_boot() {
    let One {
        server: _,
        _dir,
        cluster_dir,
        cp,
    } = one(DRAIN_OK, 0, false);
    let profile = cp.profile.to_str().unwrap();
    let out = cp.run(&["maintain", "--reboot", "--profile", profile]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let calls = cp.sb.take_changing_calls();
    let pos = |needle: &str| {
        calls
            .iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {calls:#?}"))
    };
    assert!(pos(" drain cp-1 ") < pos("systemctl enable bootstrap-uncordon.service"));
    assert_eq!(
        calls.last().unwrap(),
        "systemctl reboot",
        "the reboot comes last"
    );
    let unit = cp.sb.read("/etc/systemd/system/bootstrap-uncordon.service");
    assert!(
        unit.contains(&format!("uncordon --profile {profile}")),
        "{unit}"
    );
    assert!(
        unit.contains("Type=oneshot")
            && unit.contains("ConditionPathExists=/var/lib/bootstrap/maintain/uncordon-after-boot"),
        "{unit}"
    );
    assert_eq!(state(&cluster_dir)["nodes"]["cp-1"]["unschedulable"], true);
    // At boot the unit runs `bootstrap uncordon`: it waits for Ready, then uncordons.
    let out = cp.run(&["uncordon", "--profile", profile]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(state(&cluster_dir)["nodes"]["cp-1"]["unschedulable"], false);
    // Without --reboot there is nothing to do: a usage error.
    assert_eq!(cp.run(&["maintain", "--profile", profile]).code, 64);
}

#[test]
fn a_failure_after_the_drain_leaves_the_node_cordoned_and_says_how_to_continue() {
    let One {
        server,
        _dir,
        cluster_dir,
        mut cp,
    } = one(DRAIN_OK, 0, false);
    cp.target(&server, Kind::First, TO, DRAIN_OK);
    cp.sb.fail = "systemctl-restart".into();
    let out = cp.json("upgrade apply");
    assert_eq!(out.code, 1, "{}", out.stdout);
    let reason = out.reason("upgrade-restart");
    assert!(reason.contains("node cp-1 is left cordoned"), "{reason}");
    assert!(
        reason.contains("run `bootstrap upgrade apply` again"),
        "{reason}"
    );
    assert!(
        reason.contains("reinstall kubelet and kubectl 1.34.3"),
        "{reason}"
    );
    assert_eq!(state(&cluster_dir)["nodes"]["cp-1"]["unschedulable"], true);
    assert_eq!(out.status("upgrade-uncordon"), "skipped");
    cp.sb.fail.clear();
    let out = cp.upgrade("apply");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(state(&cluster_dir)["nodes"]["cp-1"]["unschedulable"], false);
}

#[test]
fn emptydir_data_is_deleted_only_when_the_profile_allows() {
    let settings = "[upgrade.drain]\ntimeout = \"30s\"\n";
    let One {
        server: _,
        _dir,
        cluster_dir,
        cp,
    } = one(settings, 0, false);
    let out = cp.json("drain");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.reason("drain").contains(
            "cannot delete Pods with local storage (use --delete-emptydir-data to override): kube-system/cache-1"
        ),
        "{}",
        out.reason("drain")
    );
    assert_eq!(state(&cluster_dir)["pods"][2]["node"], "cp-1");
}
