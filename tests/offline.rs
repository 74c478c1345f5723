//! A `--root` other than `/` is an offline root: the agent runs no program of this machine.
//! Files go into the root, live changes are left to the first boot, and only a test that
//! declares its stand-ins (`BOOTSTRAP_TEST_PROGRAMS`) gets a simulated live node.
//!
//! The tripwires: every program the agent might run, on PATH and as the Kubernetes programs
//! of the bundle it places into the root, writes a marker when it is executed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Out, Sandbox, release};

/// Every program the agent runs somewhere (the steps, the node facts, the diagnosis, the
/// commands), and a few it might: each one a tripwire on the PATH of the offline runs.
const TRIPWIRES: [&str; 30] = [
    "modprobe",
    "sysctl",
    "swapoff",
    "swapon",
    "systemctl",
    "containerd",
    "ctr",
    "crictl",
    "runc",
    "apt-get",
    "apt-mark",
    "apt-cache",
    "dpkg",
    "dpkg-query",
    "kubeadm",
    "kubectl",
    "kubelet",
    "ip",
    "journalctl",
    "curl",
    "chown",
    "chroot",
    "mount",
    "umount",
    "hostname",
    "sh",
    "bash",
    "env",
    "python3",
    "cat",
];

const VERSION: &str = "1.35.2";

/// A program that records its own run in `marker` (and then behaves as a Kubernetes
/// program of `version` would, so that a run that used it would otherwise succeed).
fn tripwire(marker: &Path, version: &str) -> String {
    let body = release::fake_program(version);
    let body = body.trim_start_matches("#!/bin/sh\n");
    format!(
        "#!/bin/sh\necho \"$0 $*\" >> '{}'\n{body}",
        marker.display()
    )
}

/// A directory of tripwires named like `names`.
fn tripwire_dir(sb: &Sandbox, marker: &Path, names: &[&str]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = sb.dir.path().join("tripwires");
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        let path = dir.join(name);
        std::fs::write(&path, tripwire(marker, VERSION)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// An image tree: the sandbox's files without its simulated kernel and systemd, with
/// containerd's package files (its daemon a tripwire), a bundle whose Kubernetes programs
/// are tripwires, and a profile that exercises every step.
fn image(sb: &Sandbox, marker: &Path) -> PathBuf {
    for gone in ["/proc", "/sys", "/run/systemd"] {
        std::fs::remove_dir_all(sb.path(gone)).unwrap();
    }
    sb.write("/usr/bin/containerd", &tripwire(marker, VERSION));
    sb.write(
        "/lib/systemd/system/containerd.service",
        "[Unit]\nDescription=containerd container runtime\n\n[Service]\nExecStart=/usr/bin/containerd\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    sb.write(
        "/etc/containerd/config.toml",
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/containerd/v2-default-containerd-1.6.20.toml"),
        )
        .unwrap(),
    );
    sb.write(
        "/lib/systemd/system/dev-sdb.swap",
        "[Swap]\nWhat=/dev/sdb\n\n[Install]\nWantedBy=swap.target\n",
    );
    let mut tree = release::tree(VERSION, "1.35.0", "1.6.2");
    for (path, bytes) in tree.iter_mut() {
        if path.starts_with("/release/") {
            *bytes = tripwire(marker, VERSION).into_bytes();
        }
    }
    release::write_bundle(&sb.path("/srv/bundle"), &tree);
    sb.profile(
        "image.toml",
        &format!(
            "{}\n[modules]\nload = [\"overlay\", \"br_netfilter\"]\n\n[kubernetes]\nversion = \"{VERSION}\"\n\n[packages]\nmethod = \"bundle\"\nbundle = \"/srv/bundle\"\n\n[kubeadm]\nmode = \"init\"\n\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n\n[kubeadm.cni]\nname = \"flannel\"\nmanifest = \"/etc/bootstrap/cni/kube-flannel.yml\"\n",
            common::MASTER_PROFILE
        ),
    )
}

/// The binary against the sandbox root with `path` as PATH and no declared stand-ins.
fn offline(sb: &Sandbox, path: &str, args: &[&str]) -> Out {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    command
        .arg("--root")
        .arg(&sb.root)
        .args(args)
        .env_clear()
        .env("PATH", path);
    let output = command.output().unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn json(sb: &Sandbox, path: &str, verb: &str, profile: &Path) -> Out {
    let profile = profile.to_str().unwrap();
    offline(sb, path, &[verb, "--output", "json", "--profile", profile])
}

/// Plan, apply, check and a second apply on an offline root with `path` as PATH: each
/// succeeds, the second apply changes nothing, and the image holds the persisted state.
fn bake_and_check(sb: &Sandbox, profile: &Path, path: &str, marker: &Path) {
    let ran = || std::fs::read_to_string(marker).unwrap_or_default();
    let plan = json(sb, path, "plan", profile);
    assert_eq!(ran(), "", "plan ran programs of this machine");
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    let apply = json(sb, path, "apply", profile);
    assert_eq!(ran(), "", "apply ran programs of this machine");
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let later = apply.notes("info");
    for expected in [
        "at first boot: systemd-modules-load loads overlay, br_netfilter",
        "at first boot: systemd-sysctl sets",
        "at first boot: containerd starts",
    ] {
        assert!(
            later.iter().any(|n| n.starts_with(expected)),
            "{expected}: {later:?}"
        );
    }
    for step in ["preflight", "kubeadm"] {
        assert_eq!(apply.status(step), "skipped", "{}", apply.stdout);
        assert!(apply.reason(step).contains("at first boot"), "{step}");
    }
    let check = json(sb, path, "check", profile);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let again = json(sb, path, "apply", profile);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.summary()["changes"], 0, "{}", again.stdout);
    assert_eq!(
        ran(),
        "",
        "check or the second apply ran programs of this machine"
    );

    assert!(
        sb.read("/etc/modules-load.d/bootstrap.conf")
            .contains("br_netfilter")
    );
    assert!(
        sb.read("/etc/sysctl.d/99-bootstrap.conf")
            .contains("net.ipv4.ip_forward = 1")
    );
    assert!(
        sb.read("/etc/fstab")
            .contains("# disabled by bootstrap (swap off): /swapfile none swap sw 0 0")
    );
    let link = |p: &str| std::fs::read_link(sb.path(p)).ok();
    assert_eq!(
        link("/etc/systemd/system/swap.target"),
        Some("/dev/null".into())
    );
    assert_eq!(
        link("/etc/systemd/system/dev-sdb.swap"),
        Some("/dev/null".into())
    );
    assert_eq!(
        link("/etc/systemd/system/multi-user.target.wants/containerd.service"),
        Some("/lib/systemd/system/containerd.service".into())
    );
    assert_eq!(
        link("/etc/systemd/system/multi-user.target.wants/kubelet.service"),
        Some("/etc/systemd/system/kubelet.service".into())
    );
    assert!(
        sb.read("/etc/containerd/config.toml")
            .contains("SystemdCgroup = true")
    );
    assert!(
        sb.read("/usr/local/bin/kubeadm")
            .contains(&marker.display().to_string())
    );
}

#[test]
fn an_offline_root_with_an_empty_path_is_baked_and_checked() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    let profile = image(&sb, &marker);
    bake_and_check(&sb, &profile, "", &marker);
}

#[test]
fn an_offline_root_runs_none_of_the_programs_on_path_or_in_the_root() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    let profile = image(&sb, &marker);
    let tripwires = tripwire_dir(&sb, &marker, &TRIPWIRES);
    bake_and_check(&sb, &profile, tripwires.to_str().unwrap(), &marker);
    // The commands that ask the node: refused with the reason, nothing run.
    let version = offline(&sb, tripwires.to_str().unwrap(), &["version"]);
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "");
    assert!(
        !version.stdout.contains("Kubernetes v"),
        "{}",
        version.stdout
    );
}

#[test]
fn the_apt_method_is_refused_for_an_offline_root() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    let tripwires = tripwire_dir(&sb, &marker, &TRIPWIRES);
    let profile = sb.profile(
        "apt.toml",
        &format!(
            "{}\n[kubernetes]\nversion = \"{VERSION}\"\n",
            common::MASTER_PROFILE
        ),
    );
    let out = json(&sb, tripwires.to_str().unwrap(), "apply", &profile);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.reason("packages")
            .contains("packages.method = \"apt\" is not run for an offline root"),
        "{}",
        out.reason("packages")
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "");
}

/// With stand-ins declared, programs come from that directory only: tripwires of the same
/// names first on PATH are never run, and the stand-ins are (the simulated live node).
#[test]
fn declared_stand_ins_are_the_only_programs_run() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    // The stand-ins' own interpreters (sh, env, python3) stay this machine's.
    let names: Vec<&str> = TRIPWIRES[..25].to_vec();
    let tripwires = tripwire_dir(&sb, &marker, &names);
    let profile = sb.profile("p.toml", common::MASTER_PROFILE);
    let path = format!(
        "{}:{}",
        tripwires.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = sb.run_with_env(
        &[
            "apply",
            "--output",
            "json",
            "--profile",
            profile.to_str().unwrap(),
        ],
        &[("PATH", &path)],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "");
    let calls = sb.take_calls();
    assert!(
        calls.iter().any(|c| c == "modprobe -- br_netfilter"),
        "{calls:?}"
    );
    assert!(calls.iter().any(|c| c.starts_with("swapoff ")), "{calls:?}");
}

/// The image as systemd would leave it at first boot, for a run with the stand-ins: the
/// modules loaded and the parameters set from the files baked in, no swap on.
fn boot(sb: &Sandbox) {
    sb.write(
        "/proc/modules",
        "overlay 151552 0 - Live 0x0000000000000000\nbr_netfilter 32768 0 - Live 0x0000000000000000\n",
    );
    sb.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
    for key in [
        "net/ipv4/ip_forward",
        "net/bridge/bridge-nf-call-iptables",
        "net/bridge/bridge-nf-call-ip6tables",
    ] {
        sb.write(&format!("/proc/sys/{key}"), "1\n");
    }
    sb.write("/proc/sys/kernel/osrelease", "6.1.0-test-amd64\n");
    sb.write("/proc/net/route", common::PROC_NET_ROUTE);
    sb.write("/proc/net/fib_trie", common::PROC_NET_FIB_TRIE);
    sb.write(
        "/sys/fs/cgroup/cgroup.controllers",
        "cpuset cpu io memory pids\n",
    );
    sb.mkdir("/run/systemd/system");
    sb.write("/.standin/swap-units", "");
    // systemd started what is enabled (the stand-in reads "enabled" from the links).
    sb.write("/.standin/units/containerd.service", "active disabled\n");
}

#[test]
fn bake_records_what_it_baked_and_the_booted_node_recognises_it() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    let profile = image(&sb, &marker);
    let tripwires = tripwire_dir(&sb, &marker, &TRIPWIRES);
    let path = tripwires.to_str().unwrap();
    let bake = json(&sb, path, "bake", &profile);
    assert_eq!(bake.code, 0, "{}{}", bake.stdout, bake.stderr);
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "");
    let record: serde_json::Value =
        serde_json::from_str(&sb.read("/var/lib/bootstrap/baked.json")).unwrap();
    let digest = release::sha256(&std::fs::read(&profile).unwrap());
    assert_eq!(record["profile_sha256"], digest.as_str());
    for step in [
        "hosts",
        "modules",
        "sysctl",
        "swap",
        "packages",
        "containerd",
    ] {
        assert_eq!(
            record["steps"][step]["status"], "changed",
            "{step}: {record}"
        );
    }
    assert_eq!(record["steps"]["cgroup"]["status"], "ok", "{record}");
    assert_eq!(record["steps"]["kubeadm"]["status"], "skipped", "{record}");
    let later = record["at_first_boot"].as_array().unwrap();
    assert!(
        later.iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("modules: systemd-modules-load")),
        "{record}"
    );
    let again = json(&sb, path, "bake", &profile);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.summary()["changes"], 0, "{}", again.stdout);

    // First boot: the apply on the booted node (the stand-ins simulate it) names the
    // baked steps, observes them again and finds them converged.
    boot(&sb);
    let skip = ["--skip", "preflight", "--skip", "kubeadm"];
    let booted = sb.json("apply", &profile, &skip);
    assert_eq!(booted.code, 0, "{}{}", booted.stdout, booted.stderr);
    let baked_notes: Vec<String> = booted
        .events()
        .into_iter()
        .filter(|e| e["event"] == "note")
        .filter(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("baked into the image")
        })
        .map(|e| e["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        baked_notes,
        [
            "hosts",
            "modules",
            "sysctl",
            "swap",
            "packages",
            "containerd",
            "cgroup"
        ],
        "{}",
        booted.stdout
    );
    for step in ["hosts", "modules", "sysctl", "swap", "containerd", "cgroup"] {
        assert_eq!(booted.status(step), "ok", "{step}: {}", booted.stdout);
    }
    // What the bake listed for the first boot, and nothing else.
    let changes: Vec<String> = booted
        .events()
        .into_iter()
        .filter(|e| e["event"] == "change")
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        changes,
        ["write kubectl bash completion to /etc/bash_completion.d/kubectl (1 lines)"],
        "{}",
        booted.stdout
    );
    assert!(
        booted
            .notes("warning")
            .iter()
            .all(|w| !w.contains("baked with another"))
    );

    // Another profile than the one baked with is said, once.
    let other = sb.profile(
        "other.toml",
        &std::fs::read_to_string(&profile)
            .unwrap()
            .replace("worker-2", "worker-9"),
    );
    let check = sb.json("check", &other, &skip);
    let warned: Vec<String> = check
        .notes("warning")
        .into_iter()
        .filter(|w| w.contains("baked with another profile"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", check.stdout);
    assert_eq!(check.status("hosts"), "drift", "{}", check.stdout);
}

#[test]
fn bake_refuses_the_real_root() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", common::MASTER_PROFILE);
    let out = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .args(["--root", "/", "bake", "--profile"])
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--root DIR (not /)"));
}

/// A generic image: the profile leaves the node's name (hostname) and address (`auto`) to
/// the booted node. The bake writes the rest of /etc/hosts; the node's own line comes at
/// first boot, from the booted node's hostname and network.
#[test]
fn a_generic_image_leaves_the_nodes_own_name_and_address_to_the_first_boot() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    image(&sb, &marker);
    sb.write("/etc/hostname", "image-builder\n");
    let generic = sb.profile(
        "generic.toml",
        "[node]\nrole = \"worker\"\naddress = \"auto\"\n\n[hosts]\nentries = [{ address = \"192.168.33.13\", names = [\"master\"] }]\n",
    );
    let tripwires = tripwire_dir(&sb, &marker, &TRIPWIRES);
    let bake = json(&sb, tripwires.to_str().unwrap(), "bake", &generic);
    assert_eq!(bake.code, 0, "{}{}", bake.stdout, bake.stderr);
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "");
    let hosts = sb.read("/etc/hosts");
    assert!(hosts.contains("192.168.33.13 master\n"), "{hosts}");
    assert!(!hosts.contains("image-builder"), "{hosts}");
    assert!(
        bake.notes("info")
            .iter()
            .any(|n| n.starts_with("at first boot: this node's own name and address")),
        "{}",
        bake.stdout
    );
    boot(&sb);
    sb.write("/proc/sys/kernel/hostname", "node-7\n");
    let booted = sb.json("apply", &generic, &["--only", "hosts"]);
    assert_eq!(booted.code, 0, "{}", booted.stdout);
    let hosts = sb.read("/etc/hosts");
    assert!(hosts.contains("10.0.2.15 node-7\n"), "{hosts}");
}

/// On a merged /usr (Debian 12), the package's enable link names the unit by /lib, unit
/// files are found under /usr/lib: the link reaches the same file and is kept as it is.
#[test]
fn a_package_made_enable_link_by_another_path_is_kept() {
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("ran");
    let profile = image(&sb, &marker);
    let unit = sb.read("/lib/systemd/system/containerd.service");
    let swap = sb.read("/lib/systemd/system/dev-sdb.swap");
    std::fs::remove_dir_all(sb.path("/lib")).unwrap();
    sb.write("/usr/lib/systemd/system/containerd.service", &unit);
    sb.write("/usr/lib/systemd/system/dev-sdb.swap", &swap);
    std::os::unix::fs::symlink("usr/lib", sb.path("/lib")).unwrap();
    let wants = "/etc/systemd/system/multi-user.target.wants/containerd.service";
    sb.mkdir("/etc/systemd/system/multi-user.target.wants");
    std::os::unix::fs::symlink("/lib/systemd/system/containerd.service", sb.path(wants)).unwrap();
    let bake = json(&sb, "", "bake", &profile);
    assert_eq!(bake.code, 0, "{}{}", bake.stdout, bake.stderr);
    assert!(
        !bake.stdout.contains("enable containerd.service"),
        "{}",
        bake.stdout
    );
    assert_eq!(
        std::fs::read_link(sb.path(wants)).unwrap(),
        Path::new("/lib/systemd/system/containerd.service")
    );
}
