//! The `packages` step's binary and bundle methods against a loopback server serving fake
//! release trees: what gets installed, that a converged node downloads nothing, the skew
//! policy, proxies, and every download fault (404, bad checksum, truncated body, 500 then
//! success, connection refused) leaving nothing half-installed.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::release::{self, CNI_PLUGINS, arch, fake_program};
use common::server::{Fault, Server};
use common::{Out, Sandbox};

const NODE: &str = "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n";

fn profile(version: &str, packages: &str) -> String {
    format!("{NODE}\n[kubernetes]\nversion = \"{version}\"\n\n[packages]\n{packages}")
}

fn binary_profile(server: &Server, version: &str, extra: &str) -> String {
    profile(
        version,
        &format!(
            "method = \"binary\"\ncni_plugins = \"1.6.2\"\n{}{extra}",
            release::urls(&server.url())
        ),
    )
}

/// A server publishing 1.31.4 (crictl 1.31.0, CNI 1.6.2).
fn server_with_release() -> (Server, BTreeMap<String, Vec<u8>>) {
    let server = Server::start();
    let tree = release::tree("1.31.4", "1.31.0", "1.6.2");
    release::publish(&server, &tree);
    (server, tree)
}

fn kube_path(version: &str, name: &str) -> String {
    format!("/release/v{version}/bin/linux/{}/{name}", arch())
}

fn apply(sb: &Sandbox, text: &str) -> Out {
    apply_with_env(sb, text, &[])
}

fn apply_with_env(sb: &Sandbox, text: &str, env: &[(&str, &str)]) -> Out {
    let file = sb.profile("p.toml", text);
    let args = [
        "apply",
        "--output",
        "json",
        "--only",
        "packages",
        "--profile",
    ];
    let mut args = args.to_vec();
    args.push(file.to_str().unwrap());
    sb.run_with_env(&args, env)
}

/// Every file under the root whose name marks a partial download.
fn partial_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if entry.file_name().to_string_lossy().contains(".part-") {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

/// Nothing of the release is installed and no partial download is left.
fn assert_nothing_installed(sb: &Sandbox) {
    for name in ["kubeadm", "kubelet", "kubectl", "crictl"] {
        assert!(
            !sb.path(&format!("/usr/local/bin/{name}")).exists(),
            "{name} installed"
        );
    }
    assert!(!sb.path("/opt/cni/bin").exists());
    assert!(!sb.path("/etc/systemd/system/kubelet.service").exists());
    assert_eq!(partial_files(&sb.root), Vec::<String>::new());
}

#[test]
fn binary_install_converges_and_a_second_apply_downloads_nothing() {
    let sb = Sandbox::new();
    let (server, tree) = server_with_release();
    let text = binary_profile(&server, "1.31.4", "");

    let plan = sb.json(
        "plan",
        &sb.profile("p.toml", &text),
        &["--only", "packages"],
    );
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(server.take_requests().is_empty(), "plan downloads nothing");
    // One change downloads and verifies the whole batch, naming every file and its URL;
    // one change per file then installs it.
    assert!(
        plan.stdout.contains(&format!(
            "download 5 files in parallel into /var/lib/bootstrap/downloads and verify each (sha256 from its .sha256 file, and the version each program reports): kubeadm 1.31.4 from {}{}, ",
            server.url(),
            kube_path("1.31.4", "kubeadm")
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("install the verified kubeadm 1.31.4 to /usr/local/bin/kubeadm and record it in /var/lib/bootstrap/packages/programs.json\""),
        "{}",
        plan.stdout
    );

    let out = apply(&sb, &text);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.status("packages"), "changed");
    let mut requests = server.take_requests();
    requests.sort();
    let mut expected: Vec<String> = tree
        .keys()
        .flat_map(|p| [p.clone(), format!("{p}.sha256")])
        .collect();
    expected.sort();
    assert_eq!(requests, expected, "each file and checksum fetched once");

    for name in ["kubeadm", "kubelet", "kubectl"] {
        let path = sb.path(&format!("/usr/local/bin/{name}"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            fake_program("1.31.4")
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
    assert_eq!(sb.read("/usr/local/bin/crictl"), fake_program("1.31.0"));
    for plugin in CNI_PLUGINS {
        assert!(
            sb.read(&format!("/opt/cni/bin/{plugin}"))
                .contains("v1.6.2")
        );
    }
    let unit = sb.read("/etc/systemd/system/kubelet.service");
    assert!(
        unit.contains("ExecStart=/usr/local/bin/kubelet\n"),
        "{unit}"
    );
    let drop_in = sb.read("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
    assert!(drop_in.contains("ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS"));
    assert_eq!(
        std::fs::read_link(sb.path("/etc/systemd/system/multi-user.target.wants/kubelet.service"))
            .unwrap()
            .to_str(),
        Some("/etc/systemd/system/kubelet.service")
    );
    assert_eq!(
        sb.read("/etc/bash_completion.d/kubectl"),
        "# bash completion for kubectl v1.31.4\n"
    );
    assert!(
        sb.path("/var/lib/bootstrap/downloads")
            .read_dir()
            .map_or(true, |d| d.flatten().all(|e| e.path().is_dir())),
        "staged downloads are removed after the install"
    );
    assert_eq!(partial_files(&sb.root), Vec::<String>::new());
    assert_eq!(sb.take_calls(), ["systemctl daemon-reload"]);

    let before = sb.snapshot();
    let again = apply(&sb, &text);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.status("packages"), "ok");
    assert_eq!(again.summary()["changes"], 0);
    assert!(
        server.take_requests().is_empty(),
        "a converged node downloads nothing"
    );
    assert!(sb.take_calls().is_empty(), "and runs no changing command");
    sb.assert_unchanged(&before, "a converged apply touches no file");

    // Someone replaces a CNI plugin: check reports drift, apply restores it.
    sb.write("/opt/cni/bin/bridge", "tampered");
    let check = sb.json(
        "check",
        &sb.profile("p.toml", &text),
        &["--only", "packages"],
    );
    assert_eq!(check.code, 2);
    assert!(
        check
            .stdout
            .contains("unpack the verified cni-plugins-linux-"),
        "{}",
        check.stdout
    );
    assert_eq!(apply(&sb, &text).code, 0);
    assert!(sb.read("/opt/cni/bin/bridge").contains("v1.6.2"));
}

#[test]
fn a_patch_upgrade_replaces_the_binaries_and_a_minor_upgrade_warns() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    assert_eq!(apply(&sb, &binary_profile(&server, "1.31.4", "")).code, 0);
    release::publish(&server, &release::tree("1.31.5", "1.31.0", "1.6.2"));
    release::publish(&server, &release::tree("1.32.0", "1.32.0", "1.6.2"));
    server.take_requests();

    let out = apply(&sb, &binary_profile(&server, "1.31.5", ""));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(sb.read("/usr/local/bin/kubelet"), fake_program("1.31.5"));
    let requests = server.take_requests();
    assert_eq!(requests.len(), 6, "only the three programs: {requests:?}");

    let out = apply(&sb, &binary_profile(&server, "1.32.0", ""));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.notes("warning")
            .iter()
            .any(|n| n.contains("from 1.31.5 to 1.32.0, a minor upgrade")),
        "{:?}",
        out.notes("warning")
    );
    assert_eq!(sb.read("/usr/local/bin/crictl"), fake_program("1.32.0"));
}

#[test]
fn downgrades_and_minor_skips_are_refused_unless_forced() {
    let sb = Sandbox::new();
    let server = Server::start();
    release::publish(&server, &release::tree("1.29.3", "1.29.0", "1.6.2"));
    release::publish(&server, &release::tree("1.31.4", "1.31.0", "1.6.2"));
    assert_eq!(apply(&sb, &binary_profile(&server, "1.31.4", "")).code, 0);
    server.take_requests();

    let before = sb.snapshot();
    let out = apply(&sb, &binary_profile(&server, "1.29.3", ""));
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains("kubeadm, kubelet, kubectl 1.31.4 is installed"),
        "{why}"
    );
    assert!(why.contains("a downgrade"), "{why}");
    assert!(why.contains("packages.force = true"), "{why}");
    assert!(server.take_requests().is_empty());
    sb.assert_unchanged(&before, "a refused downgrade changes nothing");

    let out = apply(&sb, &binary_profile(&server, "1.29.3", "force = true\n"));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.notes("warning")
            .iter()
            .any(|n| n.contains("going ahead"))
    );
    assert_eq!(sb.read("/usr/local/bin/kubeadm"), fake_program("1.29.3"));

    let out = apply(&sb, &binary_profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(why.contains("skips 1.30"), "{why}");
    assert!(why.contains("upgrade to the latest 1.30.x first"), "{why}");
}

#[test]
fn unknown_version_is_a_404_naming_file_and_url() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let out = apply(&sb, &binary_profile(&server, "1.31.9", ""));
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    let url = format!("{}{}.sha256", server.url(), kube_path("1.31.9", "kubeadm"));
    assert!(
        why.contains(&format!("cannot download kubeadm.sha256 from {url}")),
        "{why}"
    );
    assert!(why.contains("HTTP 404"), "{why}");
    assert!(
        why.contains("check that this version is published"),
        "{why}"
    );
    assert_eq!(
        server
            .take_requests()
            .iter()
            .filter(|r| r.ends_with("kubeadm.sha256"))
            .count(),
        1,
        "a 404 is not retried"
    );
    assert_nothing_installed(&sb);
}

#[test]
fn checksum_mismatch_installs_nothing_and_a_rerun_resumes() {
    let sb = Sandbox::new();
    let (server, tree) = server_with_release();
    let kubelet = kube_path("1.31.4", "kubelet");
    server.put(
        &format!("{kubelet}.sha256"),
        format!("{}\n", "0".repeat(64)),
    );
    let text = binary_profile(&server, "1.31.4", "");
    let out = apply(&sb, &text);
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains(&format!(
            "kubelet from {}{kubelet} does not match its checksum",
            server.url()
        )),
        "{why}"
    );
    assert!(
        why.contains(&format!("expected sha256 {}", "0".repeat(64))),
        "{why}"
    );
    assert!(why.contains("gave up after 4 attempts"), "{why}");
    assert_nothing_installed(&sb);

    // The mirror is fixed: the files verified by the failed run are not fetched again.
    release::publish(&server, &tree);
    server.take_requests();
    let out = apply(&sb, &text);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let requests = server.take_requests();
    assert!(requests.contains(&kubelet), "{requests:?}");
    let kubeadm = kube_path("1.31.4", "kubeadm");
    assert!(
        !requests.contains(&kubeadm),
        "the verified kubeadm was resumed, not downloaded again: {requests:?}"
    );
    assert_eq!(sb.read("/usr/local/bin/kubelet"), fake_program("1.31.4"));
}

#[test]
fn truncated_body_is_retried_then_reported() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let kubectl = kube_path("1.31.4", "kubectl");
    server.fail_always(&kubectl, Fault::Truncate(10));
    let out = apply(&sb, &binary_profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains(&format!(
            "download of kubectl from {}{kubectl} was cut short",
            server.url()
        )),
        "{why}"
    );
    assert!(why.contains("got 10 of"), "{why}");
    assert_eq!(
        server
            .take_requests()
            .iter()
            .filter(|r| **r == kubectl)
            .count(),
        4
    );
    assert_nothing_installed(&sb);
}

#[test]
fn server_errors_are_retried_until_the_download_succeeds() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let kubeadm = kube_path("1.31.4", "kubeadm");
    server.fail(&kubeadm, Fault::Status(500), 2);
    server.fail(&format!("{kubeadm}.sha256"), Fault::Status(503), 1);
    let out = apply(&sb, &binary_profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let requests = server.take_requests();
    assert_eq!(requests.iter().filter(|r| **r == kubeadm).count(), 3);
    assert_eq!(sb.read("/usr/local/bin/kubeadm"), fake_program("1.31.4"));
}

/// An apply against an endpoint throttled to 2 kB/s (a fraction of a second per fake
/// program) still installs: throttled responses are read to the end. The stall timeout
/// itself is checked by the next test.
#[test]
fn a_throttled_endpoint_still_delivers() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let kubelet = kube_path("1.31.4", "kubelet");
    server.fail_always(&kubelet, Fault::Throttle(2_000));
    let out = apply(&sb, &binary_profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(sb.read("/usr/local/bin/kubelet"), fake_program("1.31.4"));
}

/// A download slower in total than the stall timeout, but never silent that long,
/// completes: the timeout limits a stall (connecting, or one read), not the download
/// (a 100 MB kubelet over a slow link takes minutes).
#[test]
fn a_download_longer_than_the_stall_timeout_completes() {
    use bootstrap::packages::download::{Checksum, Downloader, Job, Options};
    let server = Server::start();
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    server.put("/slow", body.clone());
    server.put("/slow.sha256", release::sha256(&body));
    // 100 bytes every 50 ms: 1.5 s in all, never more than 50 ms without data.
    server.fail_always("/slow", Fault::Throttle(2_000));
    let stall = std::time::Duration::from_millis(500);
    let downloader = Downloader::new(Options {
        stall_timeout: stall,
        attempts: 1,
        ..Options::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let job = Job {
        file: "slow".into(),
        url: format!("{}/slow", server.url()),
        checksum: Checksum::Url(format!("{}/slow.sha256", server.url())),
        dest: dir.path().join("slow"),
    };
    let started = std::time::Instant::now();
    let fetched = downloader.fetch(&job);
    let took = started.elapsed();
    assert!(
        fetched.is_ok(),
        "a live download was cut after {took:?} (stall timeout {stall:?}): {:?}",
        fetched.err()
    );
    assert!(
        took > 2 * stall,
        "the download took {took:?}: not slower than the timeout"
    );
    assert_eq!(std::fs::read(&job.dest).unwrap(), body);
}

#[test]
fn connection_refused_names_the_url() {
    let sb = Sandbox::new();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}");
    let text = profile(
        "1.31.4",
        &format!("method = \"binary\"\n{}", release::urls(&url)),
    );
    let out = apply(&sb, &text);
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains(&format!(
            "cannot download kubeadm.sha256 from {url}{}.sha256",
            kube_path("1.31.4", "kubeadm")
        )),
        "{why}"
    );
    assert!(why.to_lowercase().contains("connection refused"), "{why}");
    assert_nothing_installed(&sb);
}

#[test]
fn a_mirror_serving_the_wrong_release_is_refused_before_install() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let kubeadm = kube_path("1.31.4", "kubeadm");
    let wrong = fake_program("1.31.3");
    server.put(&kubeadm, wrong.clone());
    server.put(
        &format!("{kubeadm}.sha256"),
        release::sha256(wrong.as_bytes()),
    );
    let out = apply(&sb, &binary_profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains("the downloaded kubeadm reports 1.31.3 but the profile asks for 1.31.4"),
        "{why}"
    );
    assert_nothing_installed(&sb);
}

#[test]
fn proxies_from_the_profile_and_the_environment_are_honoured() {
    let sb = Sandbox::new();
    let (proxy, _) = server_with_release();
    // The profile names a mirror that does not exist; only the proxy can answer for it.
    let text = profile(
        "1.31.4",
        &format!(
            "method = \"binary\"\ncni_plugins = \"1.6.2\"\n{}proxy = \"{}\"\n",
            release::urls("http://mirror.example.invalid"),
            proxy.url()
        ),
    );
    let out = apply(&sb, &text);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let requests = proxy.take_requests();
    assert!(
        requests.contains(&format!(
            "http://mirror.example.invalid{}",
            kube_path("1.31.4", "kubeadm")
        )),
        "requests went through the proxy: {requests:?}"
    );

    // HTTPS_PROXY from the environment is used, and NO_PROXY exempts the mirror.
    let sb = Sandbox::new();
    let (mirror, _) = server_with_release();
    let out = apply_with_env(
        &sb,
        &binary_profile(&mirror, "1.31.4", ""),
        &[
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("NO_PROXY", "127.0.0.1"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn an_unreachable_proxy_from_the_environment_is_used_and_reported() {
    let sb = Sandbox::new();
    let (mirror, _) = server_with_release();
    let out = apply_with_env(
        &sb,
        &binary_profile(&mirror, "1.31.4", ""),
        &[("HTTPS_PROXY", "http://127.0.0.1:9")],
    );
    assert_eq!(out.code, 1);
    assert!(
        mirror.take_requests().is_empty(),
        "everything went to the proxy"
    );
    assert!(
        out.reason("packages")
            .contains("cannot download kubeadm.sha256"),
        "{}",
        out.reason("packages")
    );
}

fn bundle_profile(bundle: &str) -> String {
    profile(
        "1.31.4",
        &format!(
            "method = \"bundle\"\nbundle = \"{bundle}\"\ncni_plugins = \"1.6.2\"\nrelease_url = \"http://127.0.0.1:9/never\"\n"
        ),
    )
}

#[test]
fn bundle_directory_and_tarball_install_the_same_files_offline() {
    let tree = release::tree("1.31.4", "1.31.0", "1.6.2");
    // A directory bundle.
    let sb = Sandbox::new();
    release::write_bundle(&sb.path("/srv/k8s-bundle"), &tree);
    let out = apply(&sb, &bundle_profile("/srv/k8s-bundle"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("from bundle /srv/k8s-bundle"),
        "{}",
        out.stdout
    );
    assert_eq!(sb.read("/usr/local/bin/kubeadm"), fake_program("1.31.4"));
    assert_eq!(sb.read("/usr/local/bin/crictl"), fake_program("1.31.0"));
    assert!(sb.path("/opt/cni/bin/loopback").exists());
    let bundled = sb.path(&format!(
        "/srv/k8s-bundle{}",
        kube_path("1.31.4", "kubeadm")
    ));
    assert_eq!(
        std::fs::metadata(&bundled).unwrap().permissions().mode() & 0o777,
        0o644,
        "a directory bundle is left as it was"
    );
    std::fs::remove_dir_all(sb.path("/srv/k8s-bundle")).unwrap();
    let again = apply(&sb, &bundle_profile("/srv/k8s-bundle"));
    assert_eq!(
        again.code, 0,
        "a converged node needs no bundle: {}",
        again.stdout
    );
    assert_eq!(again.summary()["changes"], 0);

    // The same tree as a .tar.gz (cloud-init can drop one on the node).
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("/var/lib/bootstrap")).unwrap();
    std::fs::write(
        sb.path("/var/lib/bootstrap/k8s.tar.gz"),
        release::bundle_tarball(&tree),
    )
    .unwrap();
    let out = apply(&sb, &bundle_profile("/var/lib/bootstrap/k8s.tar.gz"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(sb.read("/usr/local/bin/kubectl"), fake_program("1.31.4"));
    assert_eq!(partial_files(&sb.root), Vec::<String>::new());
}

#[test]
fn a_bad_bundle_is_refused_with_the_file_named() {
    let sb = Sandbox::new();
    let out = apply(&sb, &bundle_profile("/srv/missing"));
    assert_eq!(out.code, 1);
    assert!(
        out.reason("packages")
            .contains("the bundle /srv/missing (packages.bundle) does not exist")
    );

    let mut tree = release::tree("1.31.4", "1.31.0", "1.6.2");
    release::write_bundle(&sb.path("/srv/b"), &tree);
    let kubelet = kube_path("1.31.4", "kubelet");
    std::fs::write(sb.path(&format!("/srv/b{kubelet}")), "corrupted").unwrap();
    let out = apply(&sb, &bundle_profile("/srv/b"));
    assert_eq!(out.code, 1);
    let why = out.reason("packages");
    assert!(
        why.contains(&format!("/srv/b{kubelet} does not match SHA256SUMS")),
        "{why}"
    );
    assert_nothing_installed(&sb);

    tree.remove(&kube_path("1.31.4", "kubectl"));
    let sb = Sandbox::new();
    release::write_bundle(&sb.path("/srv/b"), &tree);
    let out = apply(&sb, &bundle_profile("/srv/b"));
    assert_eq!(out.code, 1);
    assert!(
        out.reason("packages")
            .contains("has no release/v1.31.4/bin/linux/"),
        "{}",
        out.reason("packages")
    );
}

#[test]
fn method_none_installs_nothing_and_a_profile_without_kubernetes_skips_the_step() {
    let sb = Sandbox::new();
    // method = "none" observes (tests/packages_none.rs): here nothing is installed.
    let out = apply(&sb, &profile("1.31.4", "method = \"none\"\n"));
    assert_eq!(out.status("packages"), "failed");
    assert!(out.reason("packages").contains("kubeadm is not installed"));
    assert_nothing_installed(&sb);
    let out = apply(&sb, NODE);
    assert_eq!(out.status("packages"), "skipped");
    assert!(out.reason("packages").contains("no [kubernetes] section"));
    assert!(sb.take_calls().is_empty());
}

#[test]
fn without_a_terminal_each_download_prints_a_line() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let file = sb.profile("p.toml", &binary_profile(&server, "1.31.4", ""));
    let out = sb.run(&[
        "apply",
        "--only",
        "packages",
        "--profile",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for name in ["kubeadm", "kubelet", "kubectl"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&format!("download {name}: ")) && l.ends_with("sha256 ok")),
            "{}",
            out.stderr
        );
    }
    assert!(
        out.stdout
            .contains("  + install the verified kubeadm 1.31.4 to /usr/local/bin/kubeadm and record it in /var/lib/bootstrap/packages/programs.json"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_packaged_kubeadm_beside_the_managed_one_is_reported_and_counts_for_skew() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    sb.write("/usr/bin/kubeadm", &fake_program("1.29.1"));
    std::fs::set_permissions(
        sb.path("/usr/bin/kubeadm"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let out = apply(&sb, &binary_profile(&server, "1.31.4", ""));
    assert_eq!(out.code, 1);
    assert!(
        out.reason("packages")
            .contains("kubeadm 1.29.1 is installed"),
        "{}",
        out.reason("packages")
    );
    let out = apply(&sb, &binary_profile(&server, "1.31.4", "force = true\n"));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.notes("warning")
            .iter()
            .any(|n| n.contains("/usr/bin/kubeadm 1.29.1 is also installed")),
        "{:?}",
        out.notes("warning")
    );
}

/// A slow download says how far it is, with the stall limit that bounds it, while it lasts.
#[test]
fn a_slow_download_reports_its_progress() {
    let sb = Sandbox::new();
    let (server, _) = server_with_release();
    let kubelet = kube_path("1.31.4", "kubelet");
    // A bigger kubelet (still the same program), served at 2 kB/s: about 3 s.
    let body = format!("{}# {}\n", fake_program("1.31.4"), "x".repeat(6_000));
    server.put(&kubelet, body.clone());
    server.put(
        &format!("{kubelet}.sha256"),
        release::sha256(body.as_bytes()),
    );
    server.fail_always(&kubelet, Fault::Throttle(2_000));
    let out = apply_with_env(
        &sb,
        &binary_profile(&server, "1.31.4", ""),
        &[("BOOTSTRAP_TEST_PROGRESS_EVERY", "500ms")],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(sb.read("/usr/local/bin/kubelet"), body);
    let events: Vec<serde_json::Value> = out
        .events()
        .into_iter()
        .filter(|e| {
            e["event"] == "progress"
                && e["waiting_for"]
                    .as_str()
                    .unwrap()
                    .starts_with("download kubelet: ")
        })
        .collect();
    assert!(events.len() >= 2, "{}", out.stdout);
    assert!(
        events
            .iter()
            .all(|e| e["deadline_kind"] == "stall" && e["deadline_s"] == 60),
        "{events:?}"
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("waiting for download kubelet: "))
        .collect();
    assert_eq!(lines.len(), events.len(), "{}", out.stderr);
    assert!(
        lines[0].contains(" of 6.")
            && lines[0].ends_with("gives up after 1m without progress (the download stall limit)"),
        "{}",
        lines[0]
    );
}
