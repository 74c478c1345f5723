//! `kubeadm certs renew all`: renews, with the local CAs, every certificate kubeadm manages
//! that exists, whatever its expiry ("Renewals are run unconditionally, regardless of
//! expiration date", kubernetes.io/docs/reference/setup-tools/kubeadm/generated/kubeadm_certs/kubeadm_certs_renew_all),
//! keeping subject and extensions; the CAs themselves are not renewed. The list and the
//! lines printed follow kubeadm's renewal (cmd/kubeadm/app/phases/certs/renewal/,
//! cmd/kubeadm/app/cmd/certs.go): "<name> renewed", "MISSING! <name>: <path>" for a
//! certificate that is not there, "Detected external <ca>, <name> can't be renewed" when the
//! CA key is absent. Kubeconfigs get a new embedded client certificate. Signing is done
//! with the openssl CLI, independently of the agent's own x509 parsing.

use std::path::Path;
use std::process::Command;

use base64::Engine;

use super::{Env, Res, fail};

/// kubeadm's renewable certificates: (long name, cert base name under pki, CA base name).
const CERTS: [(&str, &str, &str); 7] = [
    (
        "certificate for serving the Kubernetes API",
        "apiserver",
        "ca",
    ),
    (
        "certificate for the API server to connect to kubelet",
        "apiserver-kubelet-client",
        "ca",
    ),
    (
        "certificate the apiserver uses to access etcd",
        "apiserver-etcd-client",
        "etcd/ca",
    ),
    (
        "certificate for the front proxy client",
        "front-proxy-client",
        "front-proxy-ca",
    ),
    (
        "certificate for liveness probes to healthcheck etcd",
        "etcd/healthcheck-client",
        "etcd/ca",
    ),
    (
        "certificate for etcd nodes to communicate with each other",
        "etcd/peer",
        "etcd/ca",
    ),
    ("certificate for serving etcd", "etcd/server", "etcd/ca"),
];

/// kubeadm's kubeconfigs with an embedded client certificate signed by the cluster CA.
const KUBECONFIGS: [(&str, &str); 4] = [
    (
        "certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself",
        "admin.conf",
    ),
    (
        "certificate embedded in the kubeconfig file for the super-admin",
        "super-admin.conf",
    ),
    (
        "certificate embedded in the kubeconfig file for the controller manager to use",
        "controller-manager.conf",
    ),
    (
        "certificate embedded in the kubeconfig file for the scheduler manager to use",
        "scheduler.conf",
    ),
];

fn openssl(dir: &Path, args: &[&str]) -> Res<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| super::Exit(format!("openssl: {e}"), 1))?;
    if !out.status.success() {
        return fail(
            1,
            format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)),
        );
    }
    Ok(())
}

/// A new certificate for `crt`'s key and subject, extensions kept, signed by `ca`, one year.
fn resign(work: &Path, crt: &Path, key: &Path, ca: &Path) -> Res<Vec<u8>> {
    let s = |p: &Path| p.display().to_string();
    let (csr, out) = (work.join("renew.csr"), work.join("renew.crt"));
    let ca_crt = s(&ca.with_extension("crt"));
    let ca_key = s(&ca.with_extension("key"));
    openssl(
        work,
        &[
            "x509",
            "-x509toreq",
            "-copy_extensions",
            "copyall",
            "-in",
            &s(crt),
            "-signkey",
            &s(key),
            "-out",
            &s(&csr),
        ],
    )?;
    openssl(
        work,
        &[
            "x509",
            "-req",
            "-in",
            &s(&csr),
            "-copy_extensions",
            "copyall",
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "365",
            "-out",
            &s(&out),
        ],
    )?;
    std::fs::read(&out).map_err(|e| super::Exit(format!("{}: {e}", out.display()), 1))
}

fn renew_kubeconfig(env: &Env, work: &Path, file: &str) -> Res<bool> {
    let path = env.path(&format!("/etc/kubernetes/{file}"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |name: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{name}: "))
                .map(str::to_string)
        })
    };
    let (Some(cert), Some(key)) = (field("client-certificate-data"), field("client-key-data"))
    else {
        return fail(
            1,
            format!("{}: no embedded client certificate", path.display()),
        );
    };
    let decode = |v: &str| {
        b64.decode(v.trim())
            .map_err(|e| super::Exit(format!("{}: {e}", path.display()), 1))
    };
    std::fs::write(work.join("kc.crt"), decode(&cert)?).unwrap();
    std::fs::write(work.join("kc.key"), decode(&key)?).unwrap();
    let new = resign(
        work,
        &work.join("kc.crt"),
        &work.join("kc.key"),
        &env.path("/etc/kubernetes/pki/ca"),
    )?;
    std::fs::write(&path, text.replace(&cert, &b64.encode(new))).unwrap();
    Ok(true)
}

/// `kubeadm certs renew all [--cert-dir DIR] [--config F] [--kubeconfig F]`.
pub fn renew_all(env: &Env, args: &[String]) -> Res<String> {
    let mut pki = env.path("/etc/kubernetes/pki");
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = arg
            .split_once('=')
            .map_or((arg.as_str(), None), |(f, v)| (f, Some(v.to_string())));
        let value =
            |rest: &mut std::slice::Iter<String>| inline.clone().or_else(|| rest.next().cloned());
        match flag {
            "--cert-dir" => pki = value(&mut rest).map(Into::into).unwrap_or(pki),
            "--config" | "--kubeconfig" => {
                value(&mut rest);
            }
            other => return fail(1, format!("unknown flag: {other}")),
        }
    }
    let work = tempfile_dir(env)?;
    let mut out = String::new();
    for (name, base, ca) in CERTS {
        let (crt, key) = (
            pki.join(format!("{base}.crt")),
            pki.join(format!("{base}.key")),
        );
        if !crt.exists() {
            out.push_str(&format!("MISSING! {name}: {}\n", crt.display()));
        } else if !pki.join(format!("{ca}.key")).exists() {
            out.push_str(&format!(
                "Detected external {ca} certificate authority, {name} can't be renewed\n"
            ));
        } else {
            let new = resign(&work, &crt, &key, &pki.join(ca))?;
            std::fs::write(&crt, new).unwrap();
            out.push_str(&format!("{name} renewed\n"));
        }
    }
    for (name, file) in KUBECONFIGS {
        if renew_kubeconfig(env, &work, file)? {
            out.push_str(&format!("{name} renewed\n"));
        } else {
            out.push_str(&format!("MISSING! {name}\n"));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    out.push_str("\nDone renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates.\n");
    Ok(out)
}

fn tempfile_dir(env: &Env) -> Res<std::path::PathBuf> {
    let dir = env.path("/.standin/certs-renew");
    std::fs::create_dir_all(&dir).map_err(|e| super::Exit(format!("{}: {e}", dir.display()), 1))?;
    Ok(dir)
}
