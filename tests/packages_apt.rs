//! The `packages` step's apt method with recording stand-ins for dpkg-query, apt-get and
//! apt-mark, and the repository key served on loopback: the exact sources file, keyring and
//! commands; the seed's legacy repository disabled; a converged node runs no package
//! command; a minor change repoints the repository; faults leave nothing half-done.

mod common;

use common::release;
use common::server::Server;
use common::{Out, Sandbox};

const NODE: &str = "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n";
const FORMAT: &str = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n";
const KEYRING: &str = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg";
const SOURCES: &str = "/etc/apt/sources.list.d/kubernetes.list";
const APT_GET: &str =
    "apt-get -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

/// A fake binary OpenPGP public key (a public-key packet tag, then bytes).
fn key() -> Vec<u8> {
    let mut key = vec![0x99, 0x01, 0x0d, 0x04];
    key.extend((0u8..200).map(|i| i.wrapping_mul(7)));
    key
}

fn serve_keys(server: &Server, minors: &[&str]) {
    let armored = bootstrap::formats::armor::armor(&key());
    for minor in minors {
        server.put(
            &format!("/core:/stable:/v{minor}/deb/Release.key"),
            armored.clone(),
        );
    }
}

fn profile(server: &Server, version: &str, extra: &str) -> String {
    format!(
        "{NODE}\n[kubernetes]\nversion = \"{version}\"\n\n[packages]\nmethod = \"apt\"\n{}{extra}",
        release::urls(&server.url())
    )
}

/// A node prepared by the old seed: the legacy repository, 1.28 packages held.
fn seed_node() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        SOURCES,
        "deb https://apt.kubernetes.io/ kubernetes-xenial main\n",
    );
    sb.write(
        "/etc/apt/sources.list.d/k8s-old.sources",
        "Types: deb\nURIs: https://packages.cloud.google.com/apt\nSuites: kubernetes-xenial\nComponents: main\n",
    );
    sb.write(
        "/etc/apt/sources.list.d/google-cloud-sdk.list",
        "deb https://packages.cloud.google.com/apt cloud-sdk main\n",
    );
    sb.write(
        "/.standin/dpkg-status",
        "ca-certificates\t20230311\tii \nkubeadm\t1.28.2-00\thi \nkubelet\t1.28.2-00\thi \nkubectl\t1.28.2-00\thi \ncri-tools\t1.26.0-00\tii \n",
    );
    sb
}

fn apply(sb: &Sandbox, text: &str) -> Out {
    let file = sb.profile("p.toml", text);
    sb.json("apply", &file, &["--only", "packages"])
}

/// The calls that change the node (dpkg-query only reads).
fn changing(calls: Vec<String>) -> Vec<String> {
    calls
        .into_iter()
        .filter(|c| !c.starts_with("dpkg-query "))
        .collect()
}

#[test]
fn the_seed_node_moves_to_pkgs_k8s_io_and_a_second_apply_runs_no_package_command() {
    let sb = seed_node();
    let server = Server::start();
    serve_keys(&server, &["1.29"]);
    let text = profile(&server, "1.29.10", "");

    let out = apply(&sb, &text);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.status("packages"), "changed");
    let calls = sb.take_calls();
    assert_eq!(
        calls[0],
        format!("dpkg-query -W -f {FORMAT} kubeadm kubelet kubectl cri-tools ca-certificates")
    );
    assert_eq!(
        changing(calls),
        [
            format!("{APT_GET} update"),
            format!(
                "{APT_GET} install -y --allow-change-held-packages kubeadm=1.29.10-* kubelet=1.29.10-* kubectl=1.29.10-*"
            ),
            "apt-mark hold kubeadm kubelet kubectl".to_string(),
        ]
    );
    assert_eq!(
        server.take_requests(),
        ["/core:/stable:/v1.29/deb/Release.key"]
    );

    assert_eq!(
        sb.read(SOURCES),
        format!(
            "# Kubernetes 1.29 packages; managed by bootstrap (packages step): edits are replaced.\ndeb [signed-by={KEYRING}] {}/core:/stable:/v1.29/deb/ /\n",
            server.url()
        )
    );
    assert_eq!(std::fs::read(sb.path(KEYRING)).unwrap(), key(), "dearmored");
    assert!(
        sb.read("/etc/apt/sources.list.d/k8s-old.sources")
            .lines()
            .all(|l| l.starts_with("# disabled by bootstrap")),
        "the legacy deb822 stanza is commented out"
    );
    assert_eq!(
        sb.read("/etc/apt/sources.list.d/google-cloud-sdk.list"),
        "deb https://packages.cloud.google.com/apt cloud-sdk main\n",
        "a live repository on the same host is kept"
    );
    let warned = out.notes("warning");
    assert!(
        warned
            .iter()
            .any(|w| w.contains("k8s-old.sources uses the legacy Kubernetes repository")),
        "{warned:?}"
    );
    assert!(
        warned
            .iter()
            .any(|w| w.contains("kubernetes.list pointed at the legacy Kubernetes repository")),
        "{warned:?}"
    );
    assert!(
        warned
            .iter()
            .any(|w| w.contains("from 1.28.2 to 1.29.10, a minor upgrade")),
        "{warned:?}"
    );
    assert_eq!(
        sb.read("/.standin/dpkg-status")
            .lines()
            .filter(|l| l.contains("1.29.10-1.1\thi"))
            .count(),
        3,
        "installed and held"
    );
    assert_eq!(
        sb.read("/etc/bash_completion.d/kubectl"),
        "# bash completion for kubectl v1.29.10\n"
    );
    assert_eq!(
        sb.read("/var/lib/bootstrap/backups/etc/apt/sources.list.d/kubernetes.list"),
        "deb https://apt.kubernetes.io/ kubernetes-xenial main\n",
        "the seed's file is backed up"
    );

    let before = sb.snapshot();
    let again = apply(&sb, &text);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.summary()["changes"], 0, "{}", again.stdout);
    assert_eq!(changing(sb.take_calls()), Vec::<String>::new());
    assert!(server.take_requests().is_empty());
    sb.assert_unchanged(&before, "a converged apply touches no file");
}

#[test]
fn a_minor_upgrade_repoints_the_repository() {
    let sb = Sandbox::new();
    sb.write("/.standin/dpkg-status", "ca-certificates\t20230311\tii \n");
    let server = Server::start();
    serve_keys(&server, &["1.31", "1.32"]);
    let cni = "cni_plugins = \"1.6.2\"\ncri_tools_version = \"1.31.1\"\n";
    assert_eq!(apply(&sb, &profile(&server, "1.31.4", cni)).code, 0);
    let calls = changing(sb.take_calls());
    assert_eq!(
        calls[1],
        format!(
            "{APT_GET} install -y --allow-change-held-packages kubeadm=1.31.4-* kubelet=1.31.4-* kubectl=1.31.4-* cri-tools=1.31.1-* kubernetes-cni=1.6.2-*"
        )
    );
    assert_eq!(
        calls[2],
        "apt-mark hold kubeadm kubelet kubectl cri-tools kubernetes-cni"
    );

    let text = profile(&server, "1.32.0", "cni_plugins = \"1.6.2\"\n");
    let plan = sb.json(
        "plan",
        &sb.profile("p.toml", &text),
        &["--only", "packages"],
    );
    assert_eq!(plan.code, 2);
    for (sign, minor) in [("-", "1.31"), ("+", "1.32")] {
        let line = format!(
            "{sign}deb [signed-by={KEYRING}] {}/core:/stable:/v{minor}/deb/ /\\n",
            server.url()
        );
        assert!(
            plan.stdout.contains(&line),
            "the plan shows the repository line changing:\n{}",
            plan.stdout
        );
    }
    let out = apply(&sb, &text);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(sb.read(SOURCES).contains("/core:/stable:/v1.32/deb/ /"));
    assert_eq!(
        changing(sb.take_calls()),
        [
            format!("{APT_GET} update"),
            format!(
                "{APT_GET} install -y --allow-change-held-packages kubeadm=1.32.0-* kubelet=1.32.0-* kubectl=1.32.0-* kubernetes-cni=1.6.2-*"
            ),
            "apt-mark hold kubeadm kubelet kubectl kubernetes-cni".to_string(),
        ]
    );
    assert!(
        server
            .take_requests()
            .contains(&"/core:/stable:/v1.32/deb/Release.key".to_string())
    );
}

#[test]
fn prerequisites_are_installed_first() {
    let sb = Sandbox::new();
    let server = Server::start();
    serve_keys(&server, &["1.31"]);
    let out = apply(&sb, &profile(&server, "1.31.4", "cri_tools = false\n"));
    assert_eq!(out.code, 0, "{}", out.stdout);
    let calls = changing(sb.take_calls());
    assert_eq!(calls[0], format!("{APT_GET} update"));
    assert_eq!(
        calls[1],
        format!("{APT_GET} install -y --no-install-recommends ca-certificates")
    );
    assert_eq!(calls.len(), 5, "{calls:?}");
}

#[test]
fn a_downgrade_is_refused_and_forced_with_allow_downgrades() {
    let sb = Sandbox::new();
    sb.write(
        "/.standin/dpkg-status",
        "ca-certificates\t20230311\tii \nkubeadm\t1.31.4-1.1\thi \nkubelet\t1.31.4-1.1\thi \nkubectl\t1.31.4-1.1\thi \ncri-tools\t1.31.1-1.1\tii \n",
    );
    let server = Server::start();
    serve_keys(&server, &["1.31"]);
    let before = sb.snapshot();
    let out = apply(&sb, &profile(&server, "1.31.2", ""));
    assert_eq!(out.code, 1);
    assert!(
        out.reason("packages")
            .contains("1.31.4 is installed and the profile asks for 1.31.2, a downgrade")
    );
    assert_eq!(changing(sb.take_calls()), Vec::<String>::new());
    sb.assert_unchanged(&before, "a refused downgrade changes nothing");

    let out = apply(&sb, &profile(&server, "1.31.2", "force = true\n"));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        changing(sb.take_calls()).contains(&format!(
            "{APT_GET} install -y --allow-change-held-packages --allow-downgrades kubeadm=1.31.2-* kubelet=1.31.2-* kubectl=1.31.2-*"
        ))
    );
}

#[test]
fn a_missing_key_stops_before_the_sources_change_and_apt_failures_are_named() {
    let mut sb = seed_node();
    let server = Server::start();
    let text = profile(&server, "1.29.10", "");
    let out = apply(&sb, &text);
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains(&format!(
            "cannot download Release.key from {}/core:/stable:/v1.29/deb/Release.key: the server answered HTTP 404",
            server.url()
        )),
        "{why}"
    );
    assert!(!sb.path(KEYRING).exists());
    assert_eq!(
        sb.read(SOURCES),
        "deb https://apt.kubernetes.io/ kubernetes-xenial main\n",
        "the sources file is not pointed at a repository whose key is missing"
    );

    serve_keys(&server, &["1.29"]);
    server.put(
        "/core:/stable:/v1.30/deb/Release.key",
        "<html>not a key</html>",
    );
    sb.fail = "apt-get".into();
    let out = apply(&sb, &text);
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains(&format!("`{APT_GET} update` failed with exit code 100")),
        "{why}"
    );
    sb.fail.clear();
    let out = apply(&sb, &text);
    assert_eq!(out.code, 0, "a re-run converges: {}", out.stdout);

    let out = apply(&sb, &profile(&server, "1.30.1", ""));
    assert_eq!(out.code, 1);
    assert!(
        out.reason("packages")
            .contains("the repository signing key from")
            && out.reason("packages").contains("is not usable"),
        "{}",
        out.reason("packages")
    );
    assert!(sb.read(SOURCES).contains("/v1.29/deb/"));
}

/// Found on a real machine: google-cloud-cli ships a `kubectl` deb versioned 1:528.0.0-0.
/// It is not a Kubernetes release, so it must be replaced, not judged by the skew policy
/// (which called it a downgrade and refused).
#[test]
fn another_vendors_kubectl_package_is_replaced_not_called_a_downgrade() {
    let sb = Sandbox::new();
    sb.write(
        "/.standin/dpkg-status",
        "ca-certificates\t20230311\tii \nkubectl\t1:528.0.0-0\tii \n",
    );
    let server = Server::start();
    serve_keys(&server, &["1.31"]);
    let out = apply(&sb, &profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("the installed `kubectl` package (1:528.0.0-0) is not a Kubernetes release"),
        "{}",
        out.stdout
    );
    let calls = changing(sb.take_calls());
    assert!(
        calls.iter().any(|c| c.starts_with(&format!(
            "{APT_GET} install -y --allow-change-held-packages --allow-downgrades kubeadm=1.31.4-* kubelet=1.31.4-* kubectl=1.31.4-*"
        ))),
        "apt must be allowed to replace the higher-versioned foreign package: {calls:?}"
    );
}

/// On a node that is already a cluster member (kubeadm's files are there), raising
/// kubernetes.version is refused with the upgrade commands before any package changes; a
/// fresh node still upgrades (`a_minor_upgrade_repoints_the_repository`).
#[test]
fn a_version_change_on_a_cluster_member_is_refused_with_the_upgrade_command() {
    let sb = Sandbox::new();
    sb.write(
        "/.standin/dpkg-status",
        "ca-certificates\t20230311\tii \nkubeadm\t1.31.4-1.1\thi \nkubelet\t1.31.4-1.1\thi \nkubectl\t1.31.4-1.1\thi \n",
    );
    sb.write(
        "/etc/kubernetes/kubelet.conf",
        "apiVersion: v1\nkind: Config\n",
    );
    sb.write("/var/lib/kubelet/config.yaml", "cgroupDriver: systemd\n");
    let server = Server::start();
    serve_keys(&server, &["1.31", "1.32"]);
    let out = apply(&sb, &profile(&server, "1.32.0", ""));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.status("packages"), "failed");
    let why = out.reason("packages");
    assert!(why.contains("a joined worker with kubeadm 1.31.4"), "{why}");
    assert!(why.contains("kubeadm upgrade node"), "{why}");
    assert!(changing(sb.take_calls()).is_empty(), "nothing installed");
}
