//! The `preflight` step against a sandbox root, one test per finding, and the kubeadm
//! stand-in's own preflight (written from kubeadm's checks.go) agreeing with it.
//!
//! Ports: the agent reads `/proc/net/tcp{,6}` under `--root`, so here the table is a
//! fixture: a real listener the test opens on 127.0.0.1, copied from this machine's table by
//! the test (never by the agent), with the test's own fd link and comm so the owner can be
//! named. Without the fixture the same listener is not seen: the agent does not read this
//! machine's /proc under a sandbox root.

mod common;

use std::path::Path;

use common::{Out, Sandbox};

/// A node with containerd running, time synchronised and the kubeadm stand-in on PATH.
fn node() -> Sandbox {
    let sb = Sandbox::new();
    std::fs::copy(common::kubeadm_standin(), sb.bin.join("kubeadm")).unwrap();
    sb.write("/.standin/units/containerd.service", "active enabled\n");
    sb.write(
        "/.standin/units/systemd-timesyncd.service",
        "active enabled\n",
    );
    sb.write("/etc/containerd/config.toml", "version = 2\n");
    sb.executable("/usr/bin/containerd");
    sb
}

const HASH: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn control_plane(version: &str, kubeadm: &str) -> String {
    format!(
        "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = \"10.0.0.1\"\n\n[kubernetes]\nversion = \"{version}\"\n\n[packages]\nmethod = \"none\"\n\n[kubeadm]\nmode = \"init\"\n{kubeadm}"
    )
}

fn worker(kubeadm: &str) -> String {
    format!(
        "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"10.0.0.5\"\n\n[kubernetes]\nversion = \"1.31.4\"\n\n[packages]\nmethod = \"none\"\n\n[kubeadm]\ncontrol_plane_endpoint = \"10.0.0.1:6443\"\n{kubeadm}\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\nca_cert_hash = \"{HASH}\"\n[kubeadm.discovery]\nattempts = 1\n"
    )
}

/// Runs the kubeadm stand-in directly in the sandbox.
fn kubeadm(sb: &Sandbox, args: &[&str], version: &str) -> Out {
    let output = std::process::Command::new(sb.bin.join("kubeadm"))
        .args(args)
        .env("SANDBOX_ROOT", &sb.root)
        .env("STANDIN_LOG", &sb.log)
        .env("STANDIN_KUBEADM_VERSION", version)
        .output()
        .unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes the profile's kubeadm configuration to /cfg.yaml in the sandbox.
fn render(sb: &Sandbox, profile: &Path) {
    let out = sb.run(&[
        "render",
        "kubeadm",
        "--show-secrets",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    sb.write("/cfg.yaml", &out.stdout);
}

/// `bootstrap VERB --only STEP` with the kubeadm stand-in of the profile's version.
fn only(sb: &Sandbox, verb: &str, profile: &Path, step: &str) -> Out {
    let text = std::fs::read_to_string(profile).unwrap();
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map_or("1.35.2", |v| v.trim_end_matches('"'));
    let p = profile.to_str().unwrap();
    let args = [verb, "--output", "json", "--profile", p, "--only", step];
    sb.run_with_env(&args, &[("STANDIN_KUBEADM_VERSION", version)])
}

fn has(notes: &[String], needle: &str) -> bool {
    notes.iter().any(|n| n.contains(needle))
}

/// The inode of a LISTEN socket on `port` in a /proc/net/tcp text.
fn listen_inode(table: &str, port: u16) -> Option<String> {
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let p = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        (p == port && f.get(3)? == &"0A").then(|| f[9].to_string())
    })
}

#[test]
fn a_port_taken_on_loopback_is_named_with_its_process() {
    let sb = node();
    let profile = sb.profile("cp.toml", &control_plane("1.35.2", ""));
    let ours = std::net::TcpListener::bind("127.0.0.1:6443").is_ok();
    let listener = std::net::TcpListener::bind("127.0.0.1:6443").ok();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let inode = listen_inode(&table, 6443).expect("a listener on 6443 in this machine's table");

    // Without the fixture the agent sees no port: it never reads this machine's /proc.
    let plan = only(&sb, "plan", &profile, "preflight");
    assert!(
        !has(&plan.notes("warning"), "Port-6443"),
        "{:?}",
        plan.notes("warning")
    );

    sb.write("/proc/net/tcp", &table);
    let pid = std::process::id();
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        if target.to_string_lossy() == format!("socket:[{inode}]") {
            let link = sb.path(&format!(
                "/proc/{pid}/fd/{}",
                fd.file_name().to_string_lossy()
            ));
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&target, link).unwrap();
        }
    }
    sb.write(&format!("/proc/{pid}/comm"), &comm);
    let who = format!("{} (pid {pid}) on 127.0.0.1:6443", comm.trim());

    let plan = only(&sb, "plan", &profile, "preflight");
    let warnings = plan.notes("warning");
    assert!(
        has(&warnings, "[ERROR Port-6443]: Port 6443 is in use"),
        "{warnings:?}"
    );
    if listener.is_some() || ours {
        assert!(has(&warnings, &who), "{warnings:?}");
    }
    assert!(!has(&warnings, "Port-10250"), "{warnings:?}");

    let before = sb.snapshot();
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    let why = apply.reason("preflight");
    assert!(
        why.contains("[ERROR Port-6443]: Port 6443 is in use"),
        "{why}"
    );
    assert!(why.contains("kubeadm was not run"), "{why}");
    sb.assert_unchanged(&before, "a refused preflight changes nothing");

    // kubeadm (the stand-in, from kubeadm's checks) stops on the same port.
    render(&sb, &profile);
    let init = kubeadm(&sb, &["init", "--config", "/cfg.yaml"], "1.35.2");
    assert_eq!(init.code, 2, "{}", init.stderr);
    assert!(
        init.stderr
            .contains("\t[ERROR Port-6443]: Port 6443 is in use"),
        "{}",
        init.stderr
    );

    // ignore_preflight_errors silences ours and kubeadm's alike.
    let ignoring = sb.profile(
        "ignoring.toml",
        &control_plane("1.35.2", "ignore_preflight_errors = [\"Port-6443\"]\n"),
    );
    let apply = only(&sb, "apply", &ignoring, "preflight");
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    assert!(
        has(
            &apply.notes("info"),
            "ignored: kubeadm.ignore_preflight_errors names Port-6443"
        ),
        "{:?}",
        apply.notes("info")
    );
    render(&sb, &ignoring);
    let init = kubeadm(&sb, &["init", "--config", "/cfg.yaml"], "1.35.2");
    assert!(
        init.stderr
            .contains("[WARNING Port-6443]: Port 6443 is in use"),
        "{}",
        init.stderr
    );
    assert!(
        !init.stderr.contains("[ERROR Port-6443]"),
        "{}",
        init.stderr
    );
    drop(listener);
}

#[test]
fn memory_and_cpus_from_a_fake_proc() {
    let sb = node();
    sb.write(
        "/proc/meminfo",
        "MemTotal:        1014656 kB\nMemFree:          512000 kB\n",
    );
    sb.write(
        "/proc/cpuinfo",
        "processor\t: 0\nmodel name\t: QEMU Virtual CPU\n\n",
    );
    let profile = sb.profile("cp.toml", &control_plane("1.35.2", ""));
    let plan = only(&sb, "plan", &profile, "preflight");
    let warnings = plan.notes("warning");
    assert!(
        has(
            &warnings,
            "[ERROR Mem]: the system RAM (990 MB) is less than the minimum 1700 MB"
        ),
        "{warnings:?}"
    );
    assert!(
        has(
            &warnings,
            "[ERROR NumCPU]: the number of available CPUs 1 is less than the required 2"
        ),
        "{warnings:?}"
    );
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 1);
    let why = apply.reason("preflight");
    assert!(
        why.contains("[ERROR Mem]") && why.contains("[ERROR NumCPU]"),
        "all problems at once: {why}"
    );

    render(&sb, &profile);
    let init = kubeadm(&sb, &["init", "--config", "/cfg.yaml"], "1.35.2");
    assert_eq!(init.code, 2, "{}", init.stderr);
    assert!(
        init.stderr
            .contains("[ERROR Mem]: the system RAM (990 MB) is less than the minimum 1700 MB"),
        "{}",
        init.stderr
    );

    // A worker is not held to the control plane's minimums; enough memory passes.
    let w = sb.profile("w.toml", &worker(""));
    let plan = only(&sb, "plan", &w, "preflight");
    assert!(
        !has(&plan.notes("warning"), "[ERROR Mem]"),
        "{:?}",
        plan.notes("warning")
    );
    sb.write("/proc/meminfo", "MemTotal:        2014656 kB\n");
    sb.write("/proc/cpuinfo", "processor\t: 0\n\nprocessor\t: 1\n");
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 0, "{}", apply.stdout);
}

#[test]
fn a_missing_executable_without_a_package_method() {
    let sb = node();
    std::fs::remove_file(sb.path("/usr/sbin/conntrack")).unwrap();
    let profile = sb.profile("cp.toml", &control_plane("1.31.4", ""));
    let plan = only(&sb, "plan", &profile, "preflight");
    let warnings = plan.notes("warning");
    assert!(
        has(
            &warnings,
            "[ERROR FileExisting-conntrack]: conntrack not found in system path"
        ),
        "{warnings:?}"
    );
    assert!(
        has(&warnings, "install the Debian package conntrack"),
        "{warnings:?}"
    );
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 1);
    assert!(
        apply
            .reason("preflight")
            .contains("[ERROR FileExisting-conntrack]")
    );
    render(&sb, &profile);
    let init = kubeadm(&sb, &["init", "--config", "/cfg.yaml"], "1.31.4");
    assert_eq!(init.code, 2, "{}", init.stderr);
    assert!(
        init.stderr
            .contains("[ERROR FileExisting-conntrack]: conntrack not found in system path"),
        "{}",
        init.stderr
    );

    // From 1.32 kubeadm no longer requires conntrack: a warning, and apply goes on.
    let newer = sb.profile("new.toml", &control_plane("1.32.3", ""));
    let apply = only(&sb, "apply", &newer, "preflight");
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    assert!(
        has(&apply.notes("warning"), "[WARNING FileExisting-conntrack]"),
        "{:?}",
        apply.notes("warning")
    );
    render(&sb, &newer);
    let init = kubeadm(&sb, &["init", "--config", "/cfg.yaml"], "1.32.3");
    assert!(
        !init.stderr.contains("FileExisting-conntrack"),
        "{}",
        init.stderr
    );
}

/// kubeadm, kubelet, kubectl and crictl of `version` already in /usr/local/bin, as the
/// binary and bundle methods leave them.
fn installed_binaries(sb: &Sandbox, version: &str) {
    for name in ["kubeadm", "kubelet", "kubectl"] {
        sb.executable(&format!("/usr/local/bin/{name}"));
        sb.write(
            &format!("/usr/local/bin/{name}"),
            &format!("#!/bin/sh\ncase \"$*\" in\n  \"version -o short\") echo v{version};;\n  \"version --client\") echo \"Client Version: v{version}\";;\n  \"completion bash\") echo '# completion';;\n  *) echo \"Kubernetes v{version}\";;\nesac\n"),
        );
    }
    sb.executable("/usr/local/bin/crictl");
    sb.write(
        "/usr/local/bin/crictl",
        "#!/bin/sh\necho crictl version v1.31.0\n",
    );
}

fn packages_profile(method: &str) -> String {
    let bundle = if method == "bundle" {
        "bundle = \"/opt/bundle\"\n"
    } else {
        ""
    };
    worker("").replace(
        "method = \"none\"\n",
        &format!("method = \"{method}\"\n{bundle}"),
    )
}

#[test]
fn missing_host_tools_are_installed_with_apt_get_for_the_binary_and_bundle_methods() {
    for method in ["binary", "bundle"] {
        let sb = node();
        sb.mkdir("/opt/bundle");
        installed_binaries(&sb, "1.31.4");
        sb.executable("/usr/bin/apt-get");
        sb.write(
            "/etc/apt/sources.list",
            "deb http://deb.debian.org/debian bookworm main\n",
        );
        for tool in ["/usr/sbin/conntrack", "/usr/bin/socat", "/usr/sbin/tc"] {
            std::fs::remove_file(sb.path(tool)).unwrap();
        }
        let profile = sb.profile("p.toml", &packages_profile(method));
        let plan = only(&sb, "plan", &profile, "preflight");
        assert!(
            has(
                &plan.notes("info"),
                "the packages step installs it (Debian package conntrack)"
            ),
            "{method}: {:?}",
            plan.notes("info")
        );
        sb.take_calls();
        let apply = only(&sb, "apply", &profile, "packages");
        assert_eq!(apply.code, 0, "{method}: {}", apply.stdout);
        let calls = sb.take_changing_calls();
        assert!(
            calls.iter().any(|c| c.starts_with("apt-get")
                && c.ends_with("install -y --no-install-recommends conntrack socat iproute2")),
            "{method}: {calls:?}"
        );
        assert!(sb.path("/usr/sbin/conntrack").exists());
        let again = only(&sb, "apply", &profile, "packages");
        assert_eq!(again.summary()["changes"], 0, "{method}: {}", again.stdout);
        let plan = only(&sb, "plan", &profile, "preflight");
        assert!(
            !has(&plan.notes("info"), "FileExisting"),
            "{method}: {:?}",
            plan.notes("info")
        );
    }
}

#[test]
fn without_apt_get_the_binary_method_refuses_with_the_list() {
    let sb = node();
    installed_binaries(&sb, "1.31.4");
    std::fs::remove_file(sb.path("/usr/sbin/conntrack")).unwrap();
    std::fs::remove_file(sb.path("/usr/sbin/ethtool")).unwrap();
    let profile = sb.profile("p.toml", &packages_profile("binary"));
    let plan = only(&sb, "plan", &profile, "packages");
    assert!(
        has(
            &plan.notes("warning"),
            "conntrack (conntrack), ethtool (ethtool)"
        ),
        "{:?}",
        plan.notes("warning")
    );
    let before = sb.snapshot();
    let apply = only(&sb, "apply", &profile, "packages");
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    let why = apply.reason("packages");
    assert!(
        why.contains("conntrack (conntrack), ethtool (ethtool)") && why.contains("does not have"),
        "{why}"
    );
    sb.assert_unchanged(&before, "a refusal changes nothing");
}

#[test]
fn the_apt_method_lists_the_host_tools_too() {
    let sb = node();
    std::fs::remove_file(sb.path("/usr/bin/nsenter")).unwrap();
    let profile = sb.profile("p.toml", &packages_profile("apt"));
    let plan = only(&sb, "plan", &profile, "packages");
    let summaries: Vec<String> = plan
        .events()
        .into_iter()
        .filter(|e| e["event"] == "change")
        .map(|e| e["summary"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        summaries
            .iter()
            .any(|s| s == "install the host tools kubeadm looks for: nsenter (util-linux)"),
        "{summaries:?}"
    );
}

#[test]
fn a_clock_before_the_bundle_ca_is_an_error() {
    let sb = node();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let bundle = bootstrap::kube::bundle::Bundle::generate(now + 30 * 86_400).unwrap();
    bundle
        .write_new(&sb.path("/etc/bootstrap/cluster"))
        .unwrap();
    let profile = sb.profile(
        "cp.toml",
        &control_plane(
            "1.35.2",
            "[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n",
        ),
    );
    let plan = only(&sb, "plan", &profile, "preflight");
    assert!(
        has(&plan.notes("warning"), "[ERROR Clock]"),
        "{:?}",
        plan.notes("warning")
    );
    assert!(has(&plan.notes("warning"), "not valid yet"));
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 1);
    assert!(
        apply
            .reason("preflight")
            .contains("is earlier than the bundle CA's notBefore")
    );
    // A CA made now is fine.
    let fresh = tempfile::tempdir().unwrap();
    bootstrap::kube::bundle::Bundle::generate(now)
        .unwrap()
        .write_new(&fresh.path().join("b"))
        .unwrap();
    std::fs::remove_dir_all(sb.path("/etc/bootstrap/cluster")).unwrap();
    std::fs::rename(fresh.path().join("b"), sb.path("/etc/bootstrap/cluster")).unwrap();
    let plan = only(&sb, "plan", &profile, "preflight");
    assert!(
        !has(&plan.notes("warning"), "[ERROR Clock]"),
        "{:?}",
        plan.notes("warning")
    );
}

#[test]
fn ipvs_mode_loads_and_persists_its_modules_and_images_are_pulled() {
    let sb = node();
    sb.write(
        "/etc/systemd/system/kubelet.service",
        "[Service]\nExecStart=/usr/bin/kubelet\n",
    );
    let profile = sb.profile(
        "cp.toml",
        &control_plane("1.31.4", "kube_proxy_mode = \"ipvs\"\n"),
    );
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    let calls = sb.take_changing_calls();
    for m in ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"] {
        assert!(
            calls.contains(&format!("modprobe -- {m}")),
            "{m}: {calls:?}"
        );
    }
    assert!(
        calls.contains(&"systemctl enable kubelet.service".to_string()),
        "{calls:?}"
    );
    let file = sb.read("/etc/modules-load.d/bootstrap-ipvs.conf");
    assert!(
        file.ends_with("ip_vs\nip_vs_rr\nip_vs_wrr\nip_vs_sh\nnf_conntrack\n"),
        "{file}"
    );
    assert!(
        sb.read("/var/lib/bootstrap/preflight/images.yaml")
            .contains("imageRepository: registry.k8s.io")
    );
    let again = only(&sb, "apply", &profile, "preflight");
    assert_eq!(again.code, 0);
    assert_eq!(again.summary()["changes"], 0, "{}", again.stdout);
    assert!(
        sb.take_calls().iter().all(|c| !c.contains("images pull")),
        "pulled once"
    );
}

#[test]
fn images_come_through_the_profiles_repository_and_a_registry_problem_is_named() {
    let sb = node();
    let profile = sb.profile(
        "cp.toml",
        &control_plane("1.31.4", "").replace(
            "version = \"1.31.4\"\n",
            "version = \"1.31.4\"\nimage_repository = \"mirror.example/k8s\"\n",
        ),
    );
    sb.write("/.standin/unreachable-registries", "mirror.example\n");
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    let why = apply.reason("preflight");
    assert!(
        why.contains(
            "cannot pull the Kubernetes v1.31.4 images from mirror.example/k8s: a registry problem"
        ),
        "{why}"
    );
    assert!(why.contains("lookup mirror.example: no such host"), "{why}");
    assert!(
        !sb.path("/var/lib/bootstrap/preflight/images-pulled")
            .exists()
    );
    sb.write("/.standin/unreachable-registries", "");
    let out = sb.run_with_env(
        &[
            "apply",
            "--profile",
            profile.to_str().unwrap(),
            "--only",
            "preflight",
        ],
        &[("STANDIN_KUBEADM_VERSION", "1.31.4")],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("Pulled mirror.example/k8s/kube-apiserver:v1.31.4"),
        "progress: {}",
        out.stderr
    );
}

#[test]
fn a_member_node_and_a_profile_without_kubeadm_are_skipped() {
    let sb = node();
    let profile = sb.profile(
        "p.toml",
        &control_plane("1.35.2", "").replace("[kubeadm]\nmode = \"init\"\n", ""),
    );
    let plan = only(&sb, "plan", &profile, "preflight");
    assert_eq!(plan.status("preflight"), "skipped");
    sb.write("/etc/kubernetes/kubelet.conf", "x");
    sb.write("/var/lib/kubelet/config.yaml", "x");
    sb.write("/proc/meminfo", "MemTotal: 1 kB\n");
    let w = sb.profile("w.toml", &worker(""));
    let plan = only(&sb, "plan", &w, "preflight");
    assert_eq!(plan.status("preflight"), "skipped", "{}", plan.stdout);
}

/// Host tools are kubeadm's need: a node whose profile has no [kubeadm] gets none installed,
/// and `method = "none"` (the image brings everything) never reaches for apt-get, even
/// where apt-get exists: a missing required tool is refused with the list instead.
#[test]
fn host_tools_are_installed_only_where_kubeadm_runs_and_never_with_method_none() {
    let strip = |sb: &Sandbox| {
        sb.executable("/usr/bin/apt-get");
        sb.write(
            "/etc/apt/sources.list",
            "deb http://deb.debian.org/debian bookworm main\n",
        );
        for tool in ["/usr/sbin/conntrack", "/usr/bin/socat"] {
            std::fs::remove_file(sb.path(tool)).unwrap();
        }
    };
    // No [kubeadm]: the binary method installs its files and no host tool.
    let sb = node();
    installed_binaries(&sb, "1.31.4");
    strip(&sb);
    let text = packages_profile("binary");
    let without_kubeadm = &text[..text.find("[kubeadm]").unwrap()];
    let profile = sb.profile("p.toml", without_kubeadm);
    sb.take_calls();
    let apply = only(&sb, "apply", &profile, "packages");
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    let calls = sb.take_changing_calls();
    assert!(!calls.iter().any(|c| c.starts_with("apt-get")), "{calls:?}");
    // method = "none" with [kubeadm] on Kubernetes 1.31 (conntrack required): apt-get never
    // runs; preflight refuses, naming the tool, and changes nothing.
    let sb = node();
    installed_binaries(&sb, "1.31.4");
    strip(&sb);
    let profile = sb.profile("p.toml", &worker(""));
    sb.take_calls();
    let apply = only(&sb, "apply", &profile, "packages");
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    let before = sb.snapshot();
    let apply = only(&sb, "apply", &profile, "preflight");
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert!(apply.stdout.contains("conntrack"), "{}", apply.stdout);
    let calls = sb.take_calls();
    assert!(!calls.iter().any(|c| c.starts_with("apt-get")), "{calls:?}");
    sb.assert_unchanged(&before, "a refusal changes nothing");
}
