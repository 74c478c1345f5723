//! `bootstrap etcd snapshot …` refusals that need no running etcd: they happen before any
//! program runs, name the file or value at fault, say what to do, and change nothing.

mod common;

use std::path::Path;

use common::Sandbox;

const MANIFEST: &str = "/etc/kubernetes/manifests/etcd.yaml";

fn fixture() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/etcd/etcd.yaml"),
    )
    .unwrap()
}

/// A control plane with kubeadm's manifest and its etcd CA, with or without a client cert.
fn control_plane(client_cert: bool) -> Sandbox {
    let sb = Sandbox::new();
    sb.write(MANIFEST, &fixture());
    sb.write("/etc/kubernetes/pki/etcd/ca.crt", "pem\n");
    if client_cert {
        sb.write("/etc/kubernetes/pki/etcd/healthcheck-client.crt", "pem\n");
        sb.write(
            "/etc/kubernetes/pki/etcd/healthcheck-client.key",
            "secret-key-bytes\n",
        );
    }
    sb
}

#[test]
fn a_node_without_etcd_or_certificates_is_told_what_is_missing() {
    let worker = Sandbox::new();
    let out = worker.run(&["etcd", "snapshot", "save"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "/etc/kubernetes/manifests/etcd.yaml does not exist: run this on a control plane"
        ),
        "{}",
        out.stderr
    );
    let sb = control_plane(false);
    let before = sb.snapshot();
    let out = sb.run(&["etcd", "snapshot", "save"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("an etcd client certificate and key not found (looked for /etc/kubernetes/pki/etcd/healthcheck-client.{crt,key}, /etc/kubernetes/pki/apiserver-etcd-client.{crt,key})"),
        "{}",
        out.stderr
    );
    sb.assert_unchanged(&before, "a refused save");
    // The API server's client certificate serves when the healthcheck one is absent.
    sb.write("/etc/kubernetes/pki/apiserver-etcd-client.crt", "pem\n");
    sb.write("/etc/kubernetes/pki/apiserver-etcd-client.key", "k\n");
    let out = sb.run(&["etcd", "snapshot", "save", "--dry-run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("client certificate /etc/kubernetes/pki/apiserver-etcd-client.crt"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_manifest_missing_what_kubeadm_writes_is_named() {
    let sb = control_plane(true);
    sb.write(
        MANIFEST,
        &fixture()
            .replace("    - --name=master\n", "")
            .replace("    name: etcd-data\n", "    name: data\n"),
    );
    let out = sb.run(&["etcd", "snapshot", "save"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/etc/kubernetes/manifests/etcd.yaml: the etcd container has no --name, the hostPath of volume etcd-data (is this the etcd manifest kubeadm wrote?)"),
        "{}",
        out.stderr
    );
}

#[test]
fn save_refuses_keep_zero_and_restore_refuses_the_live_directory_before_anything() {
    let sb = control_plane(true);
    let out = sb.run(&["etcd", "snapshot", "save", "--keep", "0"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("--keep 0 would remove the snapshot just saved"),
        "{}",
        out.stderr
    );
    // A snapshot that passes its own SHA-256 check: 480 bytes and their digest.
    use sha2::Digest;
    let mut db = vec![0u8; 480];
    db.extend_from_slice(&sha2::Sha256::digest(&db));
    sb.write("/root/s.db", "");
    std::fs::write(sb.path("/root/s.db"), &db).unwrap();
    let before = sb.snapshot();
    for (dir, says) in [
        (
            "/var/lib/etcd/member",
            "--data-dir /var/lib/etcd/member overlaps the live data directory /var/lib/etcd",
        ),
        (
            "/var/lib",
            "--data-dir /var/lib overlaps the live data directory /var/lib/etcd",
        ),
        (
            "var/lib/x",
            "--data-dir var/lib/x: give an absolute path without `..`",
        ),
        ("/var/lib/../etc", "give an absolute path without `..`"),
        (
            "/etc/kubernetes",
            "/etc/kubernetes already exists; a restore goes into a new directory",
        ),
    ] {
        let out = sb.run(&[
            "etcd",
            "snapshot",
            "restore",
            "/root/s.db",
            "--data-dir",
            dir,
            "--yes",
        ]);
        assert_eq!(out.code, 1, "{dir}");
        assert!(out.stderr.contains(says), "{dir}: {}", out.stderr);
        assert!(!out.stderr.contains("secret-key-bytes"));
    }
    sb.assert_unchanged(&before, "a refused restore");
}
