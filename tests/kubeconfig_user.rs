//! `bootstrap kubeconfig user`: the certificate checked with the real openssl (chain to the
//! bundle's CA, subject, key usages, dates, the key matching it) and the kubeconfig parsed
//! by a real kubectl (`kubectl config view`, Debian's kubernetes-client).
#![cfg_attr(not(real_kubectl), allow(dead_code, unused_imports))]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::Sandbox;

const PROFILE: &str = "[node]\nname = \"cp\"\nrole = \"control-plane\"\naddress = \"192.168.56.10\"\n[kubernetes]\nversion = \"1.35.2\"\n[kubeadm]\nmode = \"init\"\ncontrol_plane_endpoint = \"k8s-api.example:6443\"\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n";

fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn node() -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new();
    let bundle = sb.path("/etc/bootstrap/cluster");
    let out = sb.run(&["secrets", "generate", "--out", bundle.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let profile = sb.profile("cp.toml", PROFILE);
    (sb, profile)
}

#[test]
#[cfg_attr(
    not(real_kubectl),
    ignore = "needs a real kubectl (Debian's kubernetes-client; .ci/run installs it)"
)]
fn a_user_kubeconfig_is_signed_by_the_cluster_ca_and_read_by_kubectl() {
    let (sb, profile) = node();
    let out_file = sb.dir.path().join("jane.conf");
    let out = sb.run(&[
        "kubeconfig",
        "user",
        "jane",
        "--group",
        "manager",
        "--group",
        "dev ops",
        "--days",
        "30",
        "--profile",
        profile.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let file = out_file.to_str().unwrap();
    // The key is never printed.
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(!out.stdout.contains("PRIVATE") && !out.stderr.contains("PRIVATE"));
    // kubectl reads it: server, user, context.
    let (ok, view) = tool(
        "kubectl",
        &["config", "view", "--kubeconfig", file, "-o", "json"],
    );
    assert!(ok, "{view}");
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(
        view["clusters"][0]["cluster"]["server"],
        "https://k8s-api.example:6443"
    );
    assert_eq!(view["current-context"], "jane@kubernetes");
    assert_eq!(view["users"][0]["name"], "jane");
    let raw = |path: &str| {
        let (ok, data) = tool(
            "kubectl",
            &[
                "config",
                "view",
                "--kubeconfig",
                file,
                "--raw",
                "-o",
                &format!("jsonpath={{{path}}}"),
            ],
        );
        assert!(ok, "{data}");
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .unwrap()
    };
    let dir = sb.dir.path();
    std::fs::write(
        dir.join("jane.crt"),
        raw(".users[0].user.client-certificate-data"),
    )
    .unwrap();
    std::fs::write(dir.join("jane.key"), raw(".users[0].user.client-key-data")).unwrap();
    std::fs::write(
        dir.join("ca.crt"),
        raw(".clusters[0].cluster.certificate-authority-data"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(dir.join("ca.crt")).unwrap(),
        std::fs::read(sb.path("/etc/bootstrap/cluster/ca.crt")).unwrap()
    );
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // openssl: chain to the bundle's CA for client auth, subject, usages, dates, key.
    let (ok, verify) = tool(
        "openssl",
        &[
            "verify",
            "-CAfile",
            &p("ca.crt"),
            "-purpose",
            "sslclient",
            &p("jane.crt"),
        ],
    );
    assert!(ok, "{verify}");
    let (ok, shown) = tool(
        "openssl",
        &[
            "x509",
            "-in",
            &p("jane.crt"),
            "-noout",
            "-subject",
            "-startdate",
            "-enddate",
            "-ext",
            "keyUsage,extendedKeyUsage,basicConstraints",
        ],
    );
    assert!(ok, "{shown}");
    assert!(
        shown.contains("subject=O = manager, O = dev ops, CN = jane"),
        "{shown}"
    );
    assert!(
        shown.contains("Digital Signature, Key Encipherment"),
        "{shown}"
    );
    assert!(shown.contains("TLS Web Client Authentication"), "{shown}");
    assert!(shown.contains("CA:FALSE"), "{shown}");
    let (ok, _) = tool(
        "openssl",
        &[
            "x509",
            "-in",
            &p("jane.crt"),
            "-noout",
            "-checkend",
            &(29 * 86_400).to_string(),
        ],
    );
    assert!(ok, "valid for 29 more days");
    let (expires, _) = tool(
        "openssl",
        &[
            "x509",
            "-in",
            &p("jane.crt"),
            "-noout",
            "-checkend",
            &(31 * 86_400).to_string(),
        ],
    );
    assert!(!expires, "not valid for 31 days");
    let (_, cert_pub) = tool(
        "openssl",
        &["x509", "-in", &p("jane.crt"), "-noout", "-pubkey"],
    );
    let (_, key_pub) = tool("openssl", &["pkey", "-in", &p("jane.key"), "-pubout"]);
    assert_eq!(
        cert_pub, key_pub,
        "the key in the kubeconfig is the certificate's"
    );
    // openssl can fail: another CA does not verify it.
    let other = dir.join("other");
    assert_eq!(
        sb.run(&["secrets", "generate", "--out", other.to_str().unwrap()])
            .code,
        0
    );
    let (ok, _) = tool(
        "openssl",
        &[
            "verify",
            "-CAfile",
            other.join("ca.crt").to_str().unwrap(),
            &p("jane.crt"),
        ],
    );
    assert!(!ok, "a certificate from another CA is refused");
    // Two runs make two different keys, and an existing file is never replaced.
    let again = sb.run(&[
        "kubeconfig",
        "user",
        "jane",
        "--profile",
        profile.to_str().unwrap(),
        "--out",
        file,
    ]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("never replaced"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), text);
}

#[test]
fn user_kubeconfigs_refuse_what_cannot_work() {
    let (sb, profile) = node();
    let p = profile.to_str().unwrap();
    let out_dir = sb.dir.path();
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "a",
            &["jane", "--days", "4000"],
            "would outlive the cluster CA",
        ),
        ("b", &["ja\nne"], "invalid user \"ja\\\\nne\""),
        ("c", &["jane"], "lacks ca.crt or ca.key"),
    ];
    for (file, args, want) in cases {
        if file == "c" {
            std::fs::remove_file(sb.path("/etc/bootstrap/cluster/ca.key")).unwrap();
        }
        let out_file = out_dir.join(file);
        let tail = ["--profile", p, "--out", out_file.to_str().unwrap()];
        let out = sb.run(&[&["kubeconfig", "user"][..], args, &tail].concat());
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(
            !Path::new(&out_file).exists(),
            "nothing written for {args:?}"
        );
    }
}
