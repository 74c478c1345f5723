//! `bootstrap reset` against a prepared sandbox: the SHA-256 of every file is recorded,
//! a full profile (hosts, modules, sysctl, swap, containerd, cgroup, preflight, kubeadm init
//! with the strict kubeadm stand-in) is applied, `reset --yes` runs, and every file must be
//! back to its exact pre-apply bytes and mode, every created file gone; the stand-ins'
//! logs show `kubeadm reset -f`, the unload and the disable; a second reset does nothing.
//! Hostile cases: a backup deleted, a file edited after apply, a symlink planted where a
//! created file was.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{Out, Sandbox};
use sha2::{Digest, Sha256};

const CONTAINERD_V3: &str = "version = 3\n# the operator's comment\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.9'\n";

use common::SINGLE_CONTROL_PLANE as PROFILE;

/// A node as an operator left it: hosts, fstab with swap, sysctl.conf, a containerd
/// config with a comment, a user, a secrets bundle and a CNI manifest.
fn node() -> (Sandbox, tempfile::TempDir) {
    let sb = Sandbox::new();
    std::fs::copy(common::kubeadm_standin(), sb.bin.join("kubeadm")).unwrap();
    let uid = nix::unistd::geteuid().as_raw();
    sb.write(
        "/etc/passwd",
        &format!("root:x:0:0:root:/root:/bin/bash\nvagrant:x:{uid}:{uid}:Vagrant:/home/vagrant:/bin/bash\n"),
    );
    sb.mkdir("/home/vagrant");
    // A 64 KiB swap file, active; containerd installed, running and enabled.
    std::fs::write(sb.path("/swapfile"), vec![0u8; 64 * 1024]).unwrap();
    sb.write(
        "/proc/swaps",
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t60\t\t0\t\t-2\n",
    );
    sb.executable("/usr/bin/containerd");
    sb.write("/.standin/units/containerd.service", "active enabled\n");
    sb.write("/etc/containerd/config.toml", CONTAINERD_V3);
    // A mode of its own, which the restored file must have again.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        sb.path("/etc/containerd/config.toml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    // And an owner of its own when the test can give one (running as root).
    if nix::unistd::geteuid().is_root() {
        let other = Some(4321);
        std::os::unix::fs::chown(sb.path("/etc/containerd/config.toml"), other, other).unwrap();
    }
    sb.write("/.standin/containerd-version", "2.1.4");
    sb.write("/etc/sysctl.d/10-operator.conf", "vm.swappiness = 10\n");
    sb.write(
        "/etc/bootstrap/cni/kube-flannel.yml",
        "kind: DaemonSet\nmetadata:\n  name: kube-flannel-ds\n",
    );
    let dir = sb.path("/etc/bootstrap/cluster");
    let out = sb.run(&["secrets", "generate", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cluster = tempfile::tempdir().unwrap();
    (sb, cluster)
}

fn run(sb: &Sandbox, cluster: &Path, args: &[&str]) -> Out {
    let mut c = sb.command();
    c.env("STANDIN_CLUSTER", cluster).args(args);
    let o = c.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn apply(sb: &Sandbox, cluster: &Path) {
    let profile = sb.profile("single.toml", PROFILE);
    let out = run(
        sb,
        cluster,
        &[
            "apply",
            "--skip",
            "packages",
            "--profile",
            profile.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// SHA-256, mode and owner of every file and link under the root, the stand-ins' own state, the
/// agent's state directory and the lock file left out.
fn checksums(sb: &Sandbox) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let node = format!("/{}", path.strip_prefix(root).unwrap().display());
            if ["/.standin", "/var/lib/bootstrap", "/run/bootstrap.lock"].contains(&node.as_str()) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(root, &path, out);
                continue;
            }
            let what = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else {
                hex::encode(Sha256::digest(std::fs::read(&path).unwrap()))
            };
            let owner = format!("{}:{}", meta.uid(), meta.gid());
            out.insert(node, format!("{what} {:o} {owner}", meta.mode() & 0o7777));
        }
    }
    let mut out = BTreeMap::new();
    walk(&sb.root, &sb.root, &mut out);
    out
}

fn differences(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect()
}

/// `bootstrap check` as findings: its exit code and every event without timings.
fn check(sb: &Sandbox, cluster: &Path) -> (i32, Vec<String>) {
    let profile = sb.profile("single.toml", PROFILE);
    let out = run(
        sb,
        cluster,
        &[
            "check",
            "--skip",
            "packages",
            "--output",
            "json",
            "--profile",
            profile.to_str().unwrap(),
        ],
    );
    let events = out
        .events()
        .into_iter()
        .map(|mut e| {
            if let Some(o) = e.as_object_mut() {
                o.retain(|k, _| !k.contains("duration") && !k.contains("time"));
            }
            e.to_string()
        })
        .collect();
    (out.code, events)
}

#[test]
fn reset_puts_every_file_back_to_its_exact_pre_apply_bytes() {
    let (sb, cluster) = node();
    let before = checksums(&sb);
    let fresh = check(&sb, cluster.path());
    assert_eq!(fresh.0, 2, "a fresh node has drift: {:?}", fresh.1);
    apply(&sb, cluster.path());
    assert_eq!(check(&sb, cluster.path()).0, 0, "converged after apply");
    let applied = checksums(&sb);
    assert!(
        differences(&before, &applied).len() > 5,
        "apply changed files"
    );
    sb.take_calls();

    let plan = run(&sb, cluster.path(), &["reset"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("run `kubeadm reset -f`"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("restore /etc/fstab from"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("not shredded"), "{}", plan.stdout);
    assert_eq!(checksums(&sb), applied, "the plan changes nothing");

    let out = run(&sb, cluster.path(), &["reset", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let diff = differences(&before, &checksums(&sb));
    assert!(
        diff.is_empty(),
        "not back to the pre-apply bytes:\n{}\n{}",
        diff.join("\n"),
        out.stdout
    );
    let calls = sb.take_calls();
    assert_eq!(
        check(&sb, cluster.path()),
        fresh,
        "after reset `check` reports what it reported on the fresh node"
    );
    for wanted in [
        "kubeadm reset -f",
        "modprobe -r -- br_netfilter",
        "swapon /swapfile",
        "systemctl daemon-reload",
        "systemctl restart containerd",
    ] {
        assert!(
            calls.iter().any(|c| c == wanted),
            "{wanted} not in {calls:?}"
        );
    }
    for said in ["unmasked swap.target", "unmasked swapfile.swap"] {
        assert!(out.stdout.contains(said), "{said}: {}", out.stdout);
    }
    let archives = std::fs::read_dir(sb.path("/var/lib/bootstrap/archive"))
        .unwrap()
        .count();
    assert_eq!(archives, 1);
    assert!(!sb.path("/var/lib/bootstrap/journal.jsonl").exists());

    sb.take_calls();
    for args in [&["reset"][..], &["reset", "--yes"]] {
        let again = run(&sb, cluster.path(), args);
        assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
        assert!(again.stdout.contains("nothing to undo"), "{}", again.stdout);
    }
    assert!(sb.take_calls().is_empty(), "a second reset runs nothing");
}

#[test]
fn a_deleted_backup_or_a_later_edit_refuses_and_changes_nothing() {
    let (sb, cluster) = node();
    apply(&sb, cluster.path());
    std::fs::remove_file(sb.path("/var/lib/bootstrap/backups/etc/fstab")).unwrap();
    let hosts = sb.read("/etc/hosts") + "10.0.0.9 added-by-the-operator\n";
    sb.write("/etc/hosts", &hosts);
    let applied = checksums(&sb);
    sb.take_calls();
    let out = run(&sb, cluster.path(), &["reset", "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("/etc/fstab: its original's backup"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("/etc/hosts: changed since bootstrap wrote it"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("reset refused, nothing was changed: 2 file(s)"),
        "{}",
        out.stderr
    );
    assert_eq!(differences(&applied, &checksums(&sb)), Vec::<String>::new());
    assert!(sb.take_changing_calls().is_empty(), "nothing was run");

    let out = run(&sb, cluster.path(), &["reset", "--yes", "--keep-edited"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        sb.read("/etc/hosts"),
        hosts,
        "the edited file is left as it is"
    );
    assert!(
        out.stdout.contains("/etc/hosts left as it is"),
        "{}",
        out.stdout
    );
    assert_ne!(
        sb.read("/etc/fstab"),
        common::FSTAB,
        "fstab, whose backup is gone, is left as apply left it"
    );
    assert!(
        !sb.path("/etc/sysctl.d/99-bootstrap.conf").exists(),
        "the rest is undone"
    );
}

#[test]
fn a_symlink_planted_where_a_created_file_was_is_refused_and_its_target_kept() {
    let (sb, cluster) = node();
    apply(&sb, cluster.path());
    let journal = sb.read("/var/lib/bootstrap/journal.jsonl");
    let created = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| {
            e["action"] == "write"
                && e["existed"] == false
                && e["target"].as_str().unwrap().starts_with("/etc/")
        })
        .map(|e| e["target"].as_str().unwrap().to_string())
        .expect("a created file under /etc");
    sb.write("/etc/precious", "operator data\n");
    std::fs::remove_file(sb.path(&created)).unwrap();
    std::os::unix::fs::symlink("/etc/precious", sb.path(&created)).unwrap();
    let out = run(&sb, cluster.path(), &["reset", "--yes"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "{created}: changed since bootstrap wrote it: it is now a symlink to /etc/precious"
        )),
        "{}",
        out.stdout
    );
    assert_eq!(sb.read("/etc/precious"), "operator data\n");
    assert!(
        std::fs::symlink_metadata(sb.path(&created))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A fake binary OpenPGP public key (a public-key packet tag, then bytes).
fn key() -> Vec<u8> {
    let mut key = vec![0x99, 0x01, 0x0d, 0x04];
    key.extend((0u8..120).map(|i| i.wrapping_mul(11)));
    key
}

#[test]
fn packages_held_by_apply_are_unheld_and_the_apt_sources_put_back() {
    let sb = Sandbox::new();
    sb.write(
        "/etc/apt/sources.list.d/kubernetes.list",
        "deb https://apt.kubernetes.io/ kubernetes-xenial main\n",
    );
    let status = "ca-certificates\t20230311\tii \nkubeadm\t1.29.1-1.1\tii \nkubelet\t1.29.1-1.1\tii \nkubectl\t1.29.1-1.1\tii \ncri-tools\t1.29.0-1.1\tii \n";
    sb.write("/.standin/dpkg-status", status);
    let server = common::server::Server::start();
    server.put(
        "/core:/stable:/v1.29/deb/Release.key",
        bootstrap::formats::armor::armor(&key()),
    );
    let profile = sb.profile(
        "p.toml",
        &format!(
            "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n\n[kubernetes]\nversion = \"1.29.10\"\n\n[packages]\nmethod = \"apt\"\n{}",
            common::release::urls(&server.url())
        ),
    );
    let before = checksums(&sb);
    let out = sb.run(&[
        "apply",
        "--only",
        "packages",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        sb.read("/.standin/dpkg-status")
            .contains("kubelet\t1.29.10-1.1\thi")
    );
    sb.take_calls();

    let out = sb.run(&["reset", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let calls = sb.take_calls();
    assert!(
        calls.contains(&"apt-mark unhold kubeadm kubelet kubectl".to_string()),
        "{calls:?}"
    );
    let held: Vec<String> = sb
        .read("/.standin/dpkg-status")
        .lines()
        .filter(|l| l.ends_with("hi "))
        .map(str::to_string)
        .collect();
    assert!(held.is_empty(), "nothing held after reset: {held:?}");
    assert!(out.stdout.contains("stay installed"), "{}", out.stdout);
    // The packages themselves stay (upgraded): their programs differ; everything else is
    // back byte for byte (the sources list, no keyring).
    let mut after = checksums(&sb);
    after.retain(|k, _| !k.starts_with("/usr/bin/"));
    let mut before = before;
    before.retain(|k, _| !k.starts_with("/usr/bin/"));
    assert_eq!(differences(&before, &after), Vec::<String>::new());
}
