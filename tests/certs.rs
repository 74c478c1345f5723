//! Certificate expiry and renewal on a sandbox control plane: certificates made by openssl in
//! kubeadm's layout, some short-lived; `check` warns about exactly those expiring within 30
//! days; `certs renew` runs the kubeadm stand-in's `certs renew all` (which re-signs with
//! openssl, independently of the agent's x509 parsing) and restarts the control-plane static
//! pods by moving their manifests out and back.

mod common;

use std::path::Path;

use base64::Engine;
use common::{MASTER_PROFILE, Sandbox, openssl};

/// `name.{crt,key}` in `dir`, signed by `ca` (a base name in `dir`) or self-signed, valid
/// `days` days.
fn cert(dir: &Path, name: &str, ca: Option<&str>, days: &str) {
    std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
    let (key, crt, csr) = (
        format!("{name}.key"),
        format!("{name}.crt"),
        format!("{name}.csr"),
    );
    let subj = format!("/CN={}", name.rsplit('/').next().unwrap());
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key,
    ];
    match ca {
        None => {
            let mut a = vec!["req", "-x509"];
            a.extend(ec);
            a.extend(["-out", &crt, "-days", days, "-subj", &subj]);
            openssl(dir, &a);
        }
        Some(ca) => {
            let mut a = vec!["req"];
            a.extend(ec);
            a.extend(["-out", &csr, "-subj", &subj]);
            openssl(dir, &a);
            let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca_crt,
                    "-CAkey",
                    &ca_key,
                    "-CAcreateserial",
                    "-days",
                    days,
                    "-out",
                    &crt,
                ],
            );
        }
    }
}

const MANIFESTS: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// A control plane whose apiserver certificate expires in 10 days, admin.conf's in 5 and the
/// kubelet's client certificate in 3; everything else lives for years.
fn control_plane() -> Sandbox {
    let sb = Sandbox::new();
    let pki = sb.path("/etc/kubernetes/pki");
    std::fs::create_dir_all(&pki).unwrap();
    cert(&pki, "ca", None, "3650");
    cert(&pki, "apiserver", Some("ca"), "10");
    cert(&pki, "apiserver-kubelet-client", Some("ca"), "365");
    cert(&pki, "front-proxy-ca", None, "3650");
    cert(&pki, "front-proxy-client", Some("front-proxy-ca"), "365");
    cert(&pki, "etcd/ca", None, "3650");
    cert(&pki, "etcd/server", Some("etcd/ca"), "365");
    cert(&pki, "admin", Some("ca"), "5");
    let b64 = base64::engine::general_purpose::STANDARD;
    let read = |f: &str| b64.encode(std::fs::read(pki.join(f)).unwrap());
    sb.write(
        "/etc/kubernetes/admin.conf",
        &format!("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://192.168.33.13:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\ncurrent-context: kubernetes-admin@kubernetes\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n", read("ca.crt"), read("admin.crt"), read("admin.key")),
    );
    for f in ["admin.crt", "admin.key", "admin.csr"] {
        std::fs::remove_file(pki.join(f)).unwrap();
    }
    let kubelet = sb.path("/var/lib/kubelet/pki");
    std::fs::create_dir_all(&kubelet).unwrap();
    cert(
        &kubelet,
        "kubelet-client",
        Some("../../../../etc/kubernetes/pki/ca"),
        "3",
    );
    let pem = [
        std::fs::read(kubelet.join("kubelet-client.crt")).unwrap(),
        std::fs::read(kubelet.join("kubelet-client.key")).unwrap(),
    ]
    .concat();
    std::fs::write(kubelet.join("kubelet-client-current.pem"), pem).unwrap();
    sb.write(
        "/etc/kubernetes/kubelet.conf",
        "apiVersion: v1\nkind: Config\nusers:\n- name: default-auth\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n",
    );
    for pod in MANIFESTS {
        sb.write(
            &format!("/etc/kubernetes/manifests/{pod}.yaml"),
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  namespace: kube-system\n"
            ),
        );
    }
    std::os::unix::fs::symlink(common::kubeadm_standin(), sb.bin.join("kubeadm")).unwrap();
    sb
}

fn warnings(sb: &Sandbox) -> Vec<String> {
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = sb.json("check", &profile, &["--only", "certificates"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.status("certificates"), "ok", "{}", out.stdout);
    out.notes("warning")
}

#[test]
fn check_warns_about_certificates_expiring_within_30_days_and_renew_fixes_them() {
    let sb = control_plane();
    let found = warnings(&sb);
    let about = |what: &str| found.iter().filter(|w| w.contains(what)).count();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(
        about("certificate /etc/kubernetes/pki/apiserver.crt (CN=apiserver) expires on"),
        1,
        "{found:#?}"
    );
    assert_eq!(
        about("/etc/kubernetes/admin.conf (user kubernetes-admin)"),
        1,
        "{found:#?}"
    );
    assert_eq!(
        about("/var/lib/kubelet/pki/kubelet-client-current.pem"),
        1,
        "{found:#?}"
    );
    assert!(
        found.iter().any(|w| w.contains("in 10 days (within 30)")),
        "{found:#?}"
    );
    assert!(found.iter().all(|w| !w.contains("PRIVATE KEY")));

    // The plan alone changes nothing.
    let before = sb.snapshot();
    let plan = sb.run(&["certs", "renew"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("kubeadm certs renew all"),
        "{}",
        plan.stdout
    );
    sb.assert_unchanged(&before, "certs renew without --yes");

    let manifests: Vec<String> = MANIFESTS
        .iter()
        .map(|p| sb.read(&format!("/etc/kubernetes/manifests/{p}.yaml")))
        .collect();
    let out = sb.run(&["certs", "renew", "--yes", "--restart-wait", "1s"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("certificate for serving the Kubernetes API renewed"),
        "{}",
        out.stdout
    );
    let calls = sb.take_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("kubeadm certs renew all --cert-dir ")),
        "{calls:?}"
    );
    for (pod, text) in MANIFESTS.iter().zip(&manifests) {
        assert_eq!(
            &sb.read(&format!("/etc/kubernetes/manifests/{pod}.yaml")),
            text,
            "{pod} back byte for byte"
        );
        assert!(
            !sb.path(&format!(
                "/etc/kubernetes/manifests-stopped-by-bootstrap/{pod}.yaml"
            ))
            .exists()
        );
    }
    // The moves went through the journal.
    let journal = sb.read("/var/lib/bootstrap/journal.jsonl");
    assert!(
        journal.contains("\"target\":\"/etc/kubernetes/manifests/kube-apiserver.yaml\""),
        "{journal}"
    );

    // Renewed: only the kubelet's own certificate is still reported, with its own advice.
    let after = warnings(&sb);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert!(
        after[0].contains("kubelet-client-current.pem")
            && after[0].contains("the kubelet renews this one itself"),
        "{after:#?}"
    );
}

#[test]
fn a_failed_kubeadm_leaves_the_pods_running_and_a_worker_is_refused() {
    let mut sb = control_plane();
    sb.fail = "kubeadm".into();
    let before = sb.snapshot();
    let out = sb.run(&["certs", "renew", "--yes", "--restart-wait", "1s"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("kubeadm certs renew all"),
        "{}",
        out.stderr
    );
    for pod in MANIFESTS {
        assert!(
            sb.path(&format!("/etc/kubernetes/manifests/{pod}.yaml"))
                .exists()
        );
    }
    let _ = before;
    let worker = Sandbox::new();
    let out = worker.run(&["certs", "renew"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("run this on a control plane"),
        "{}",
        out.stderr
    );
    // A node kubeadm has not touched: the step is skipped, not failed.
    let profile = worker.profile("p.toml", MASTER_PROFILE);
    let check = worker.json("check", &profile, &["--only", "certificates"]);
    assert_eq!(check.status("certificates"), "skipped", "{}", check.stdout);
}
