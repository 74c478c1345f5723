//! A sandbox node for integration tests: a temporary root with fake /proc, /sys and /etc,
//! and recording stand-ins for the programs the agent runs, first on PATH.
#![allow(dead_code)] // each test crate uses a different part of this helper

pub mod release;
pub mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The /etc/hosts of a Vagrant Ubuntu box, with tabs, comments and IPv6 lines.
pub const HOSTS: &str = "127.0.0.1\tlocalhost\n127.0.1.1\tubuntu-bionic\tubuntu-bionic\n\n# The following lines are desirable for IPv6 capable hosts\n::1     ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\nff02::1 ip6-allnodes\n";

/// An fstab with a swap file.
pub const FSTAB: &str = "# /etc/fstab: static file system information.\nUUID=2c9e5a1d / ext4 errors=remount-ro 0 1\n/swapfile none swap sw 0 0\n";

/// The stock Debian /etc/sysctl.conf head.
pub const SYSCTL_CONF: &str = "#\n# /etc/sysctl.conf - Configuration file for setting system variables\n#kernel.domainname = example.com\n#net.ipv4.ip_forward=1\n";

/// `/proc/net/route` of the sandbox node: default via eth0, 10.0.2.0/24 on eth0,
/// 192.168.33.0/24 on eth1 (kernel format: little-endian hex).
pub const PROC_NET_ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth1\t0021A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
/// `/proc/net/fib_trie` of the sandbox node: local 10.0.2.15 and 192.168.33.13.
pub const PROC_NET_FIB_TRIE: &str = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.0.2.0/24 2 0 2\n        |-- 10.0.2.15\n           /32 host LOCAL\n     +-- 192.168.33.0/24 2 0 2\n        |-- 192.168.33.13\n           /32 host LOCAL\nLocal:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n";
/// The host tools of a Debian 12 node with the Kubernetes dependencies installed, where
/// their packages put them (cri-tools, conntrack, iproute2, iptables, mount, util-linux, ebtables,
/// ethtool, socat, coreutils): what kubeadm's preflight looks for. Tests of a missing tool
/// remove one.
pub const HOST_TOOLS: [&str; 11] = [
    "/usr/bin/crictl",
    "/usr/sbin/conntrack",
    "/usr/bin/ip",
    "/usr/sbin/iptables",
    "/usr/bin/mount",
    "/usr/bin/nsenter",
    "/usr/sbin/ebtables",
    "/usr/sbin/ethtool",
    "/usr/bin/socat",
    "/usr/sbin/tc",
    "/usr/bin/touch",
];

/// A single control plane that inits (kubeadm with flannel, a secrets bundle, a kubeconfig
/// user): the profile of the kubeadm and reset tests.
pub const SINGLE_CONTROL_PLANE: &str = r#"[node]
name = "k8s-single"
role = "control-plane"
address = "192.168.56.10"

[kubernetes]
version = "1.35.2"

[kubeadm]
mode = "init"
schedule_workloads = true
kubeconfig_user = "vagrant"

[kubeadm.secrets]
bundle = "/etc/bootstrap/cluster"

[kubeadm.cni]
name = "flannel"
manifest = "/etc/bootstrap/cni/kube-flannel.yml"
"#;

/// Where `cargo test` puts the kubeadm stand-in (examples/kubeadm_standin): beside deps/, in
/// target/<profile>/examples.
pub fn kubeadm_standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/kubeadm_standin");
    assert!(
        path.exists(),
        "{} is missing: run plain `cargo test` (or `cargo build --examples`) so the kubeadm stand-in is built",
        path.display()
    );
    path
}

/// Runs the openssl CLI in `dir` (tests that make certificates in kubeadm's layout);
/// panics with its stderr when it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A node root and stand-in programs.
pub struct Sandbox {
    /// Holds everything; removed on drop.
    pub dir: tempfile::TempDir,
    /// The node root (`--root`).
    pub root: PathBuf,
    /// Directory of stand-in programs, first on PATH.
    pub bin: PathBuf,
    /// Where stand-ins record their calls.
    pub log: PathBuf,
    /// Programs that should fail (space-separated names), see tests/standins.
    pub fail: String,
    /// Programs that kill the agent when called.
    pub kill: String,
}

/// The result of running the binary.
#[derive(Debug)]
pub struct Out {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// The JSON events printed with `--output json`.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }

    /// The summary event.
    pub fn summary(&self) -> serde_json::Value {
        self.events()
            .into_iter()
            .find(|e| e["event"] == "summary")
            .expect("a summary event")
    }

    /// The status of one step from its step_finished event.
    pub fn status(&self, step: &str) -> String {
        self.events()
            .into_iter()
            .find(|e| e["event"] == "step_finished" && e["step"] == step)
            .map(|e| e["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Why one step failed or was skipped, from its step_finished event.
    pub fn reason(&self, step: &str) -> String {
        self.events()
            .into_iter()
            .find(|e| e["event"] == "step_finished" && e["step"] == step)
            .and_then(|e| e["reason"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The messages of the notes (`warning` or `info`) printed.
    pub fn notes(&self, level: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "note" && e["level"] == level)
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Sandbox {
    /// A fresh Debian-like node: swap on, br_netfilter not loaded, ip_forward 0.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let standins = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins");
        for entry in std::fs::read_dir(standins).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), bin.join(entry.file_name())).unwrap();
        }
        let sandbox = Sandbox {
            log: dir.path().join("calls.log"),
            dir,
            root,
            bin,
            fail: String::new(),
            kill: String::new(),
        };
        sandbox.write("/etc/hosts", HOSTS);
        sandbox.write("/etc/fstab", FSTAB);
        sandbox.write("/etc/sysctl.conf", SYSCTL_CONF);
        // Debian 12's own package source (deb822, as the installer writes it) and its key.
        sandbox.write(
            "/etc/apt/sources.list.d/debian.sources",
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        );
        sandbox.write("/usr/share/keyrings/debian-archive-keyring.gpg", "key\n");
        sandbox.write(
            "/proc/modules",
            "overlay 151552 0 - Live 0x0000000000000000\nnf_tables 249856 0 - Live 0x0000000000000000\n",
        );
        sandbox.write(
            "/proc/swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t1048572\t\t0\t\t-2\n",
        );
        sandbox.write("/proc/sys/net/ipv4/ip_forward", "0\n");
        // The node's network as the kernel shows it (what `address = "auto"` and
        // `{ interface = … }` read under a --root): default route on eth0 10.0.2.15/24,
        // eth1 192.168.33.13/24.
        sandbox.write("/proc/net/route", PROC_NET_ROUTE);
        sandbox.write("/proc/net/fib_trie", PROC_NET_FIB_TRIE);
        sandbox.write("/proc/net/ipv6_route", "");
        sandbox.write("/proc/net/if_inet6", "");
        sandbox.write("/proc/sys/kernel/osrelease", "6.1.0-test-amd64\n");
        sandbox.mkdir("/sys/module/overlay");
        sandbox.write(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory pids\n",
        );
        sandbox.mkdir("/run/systemd/system");
        sandbox.write(
            "/.standin/swap-units",
            "swapfile.swap loaded active active /swapfile\n",
        );
        for tool in HOST_TOOLS {
            sandbox.executable(tool);
        }
        std::fs::write(&sandbox.log, "").unwrap();
        sandbox
    }

    /// Puts a marker executable at a node path (a host tool kubeadm looks for; never run).
    pub fn executable(&self, node_path: &str) {
        use std::os::unix::fs::PermissionsExt;
        self.write(
            node_path,
            "#!/bin/sh\n# marker: present on the node\nexit 0\n",
        );
        std::fs::set_permissions(self.path(node_path), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }

    /// Declares a real program of this machine (found on the test's PATH) as one the agent
    /// may run: a link to it in the stand-in directory, the only place the agent looks
    /// under a sandbox root (`BOOTSTRAP_TEST_PROGRAMS`).
    pub fn use_real_program(&self, name: &str) {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{name} is not on PATH; this test needs it"));
        let link = self.bin.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(found, link).unwrap();
    }

    /// Writes a file under the root.
    pub fn write(&self, node_path: &str, contents: &str) {
        let path = self.path(node_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Creates a directory under the root.
    pub fn mkdir(&self, node_path: &str) {
        std::fs::create_dir_all(self.path(node_path)).unwrap();
    }

    /// The real path of a node path.
    pub fn path(&self, node_path: &str) -> PathBuf {
        self.root.join(node_path.trim_start_matches('/'))
    }

    /// Reads a file under the root.
    pub fn read(&self, node_path: &str) -> String {
        std::fs::read_to_string(self.path(node_path)).unwrap_or_else(|e| panic!("{node_path}: {e}"))
    }

    /// Writes a profile file (outside the root) and returns its path.
    pub fn profile(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The binary, with the sandbox's root and stand-ins, ready for arguments.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .arg("--root")
            .arg(&self.root)
            .env("PATH", path)
            .env("BOOTSTRAP_TEST_PROGRAMS", &self.bin)
            .env("SANDBOX_ROOT", &self.root)
            .env("STANDIN_LOG", &self.log)
            .env("STANDIN_FAIL", &self.fail)
            .env("STANDIN_KILL", &self.kill)
            .env(
                "STANDIN_FIXTURES",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            )
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("RUST_LOG");
        for proxy in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(proxy);
        }
        command
    }

    /// Runs the binary with `args`.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with_env(args, &[])
    }

    /// Runs the binary with `args` and extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut command = self.command();
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `bootstrap <verb> --output json --profile <profile>` plus `extra`.
    pub fn json(&self, verb: &str, profile: &Path, extra: &[&str]) -> Out {
        let mut args = vec![
            verb,
            "--output",
            "json",
            "--profile",
            profile.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The calls recorded by the stand-ins, one per line, then clears the record.
    pub fn take_calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(&self.log, "").unwrap();
        text.lines()
            .filter(|l| !l.starts_with("ip "))
            .map(str::to_string)
            .collect()
    }

    /// The recorded calls that change the node (read-only queries left out), then clears
    /// the record.
    pub fn take_changing_calls(&self) -> Vec<String> {
        const READ_ONLY: [&str; 8] = [
            "systemctl list-units",
            "systemctl is-",
            "containerd --version",
            "containerd config default",
            "containerd --config",
            "ctr ",
            "kubeadm config images",
            "kubeadm config print",
        ];
        self.take_calls()
            .into_iter()
            .filter(|c| !READ_ONLY.iter().any(|r| c.starts_with(r)))
            .collect()
    }

    /// Every file under the root with its bytes (symlinks as their target), to prove a
    /// run changed nothing. The node lock file (holder pid) is left out.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let kind = entry.file_type().unwrap();
                if kind.is_symlink() {
                    let target = std::fs::read_link(&path).unwrap();
                    out.insert(path, target.to_string_lossy().as_bytes().to_vec());
                } else if kind.is_dir() {
                    out.insert(path.clone(), b"<dir>".to_vec());
                    walk(&path, out);
                } else {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root, &mut out);
        out.remove(&self.path("/run/bootstrap.lock"));
        out
    }

    /// Panics naming the paths that differ between two snapshots.
    pub fn assert_unchanged(&self, before: &BTreeMap<PathBuf, Vec<u8>>, why: &str) {
        let after = self.snapshot();
        let differ: Vec<&PathBuf> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        assert!(differ.is_empty(), "{why}: changed {differ:?}");
    }
}

/// A profile for the Vagrant master node of the classic three-node layout.
pub const MASTER_PROFILE: &str = r#"[node]
name = "master"
role = "control-plane"
address = "192.168.33.13"

[hosts]
entries = [
  { address = "192.168.33.14", names = ["worker-1"] },
  { address = "192.168.33.15", names = ["worker-2"] },
]
remove_names = ["ubuntu-bionic"]
"#;
