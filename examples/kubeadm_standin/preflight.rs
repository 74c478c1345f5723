//! The stand-in's preflight: kubeadm's own checks (kubernetes/kubernetes
//! cmd/kubeadm/app/preflight/checks.go `InitNodeChecks`, `JoinNodeChecks`,
//! `addCommonChecks`, and checks_linux.go `addExecChecks`, `MemCheck`), with kubeadm's
//! names and messages, read from the sandbox instead of this machine:
//! - executables: looked up in the default root `PATH` directories under `$SANDBOX_ROOT`
//!   (`exec.LookPath` on the node), never on this process's `PATH`;
//! - ports: kubeadm binds `:PORT` and reports `Port N is in use` when that fails; here a
//!   LISTEN entry for the port in `$SANDBOX_ROOT/proc/net/tcp` or `tcp6` is the failure;
//! - CPUs and memory: `$SANDBOX_ROOT/proc/cpuinfo` and `/proc/meminfo` (kubeadm asks the
//!   Go runtime and sysinfo(2)); checked only when the sandbox has them.
//!
//! `nodeRegistration.ignorePreflightErrors` (or `all`) turns an error into a warning.
//! `config images pull` prints kubeadm's `[config/images] Pulled` lines, or fails like a
//! registry that cannot be reached when the repository's host is listed in
//! `$SANDBOX_ROOT/.standin/unreachable-registries`.

use std::fs;

use super::{
    Config, Env, Res, Value, fail, flag_value, images, load_config, parse_version, str_at,
};

/// Directories of the default root PATH (Debian's ENV_SUPATH).
const PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

fn look_path(env: &Env, name: &str) -> bool {
    PATH.iter()
        .any(|dir| env.path(&format!("{dir}/{name}")).is_file())
}

/// LISTEN ports in a /proc/net/tcp-format table (state 0A; local_address `HEX:PORT`).
fn listening(text: &str) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields.get(1)?.rsplit(':').next()?;
            (fields.get(3)? == &"0A").then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

fn port_in_use(env: &Env, port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .any(|t| fs::read_to_string(env.path(t)).is_ok_and(|text| listening(&text).contains(&port)))
}

struct Checks {
    warnings: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

impl Checks {
    fn error(&mut self, name: impl Into<String>, msg: impl Into<String>) {
        self.errors.push((name.into(), msg.into()));
    }
    fn warn(&mut self, name: impl Into<String>, msg: impl Into<String>) {
        self.warnings.push((name.into(), msg.into()));
    }
}

fn exec_checks(env: &Env, k8s_version: Option<(u32, u32, u32)>, c: &mut Checks) {
    let (_, minor, _) = env.version;
    // Before 1.31 kubeadm drove the runtime through crictl; before 1.32 conntrack was
    // required unconditionally, from 1.32 only for a Kubernetes version below 1.32 (which
    // `kubeadm join` never passes).
    let mut required = vec![];
    if minor < 31 {
        required.push("crictl");
    }
    if minor < 32 || k8s_version.is_some_and(|v| v.1 < 32) {
        required.push("conntrack");
    }
    required.extend(["ip", "iptables", "mount", "nsenter"]);
    for exe in required {
        if !look_path(env, exe) {
            c.error(
                format!("FileExisting-{exe}"),
                format!("{exe} not found in system path"),
            );
        }
    }
    for exe in ["ebtables", "ethtool", "socat", "tc", "touch"] {
        if !look_path(env, exe) {
            c.warn(
                format!("FileExisting-{exe}"),
                format!("{exe} not found in system path"),
            );
        }
    }
}

fn resource_checks(env: &Env, c: &mut Checks) {
    if let Ok(text) = fs::read_to_string(env.path("/proc/cpuinfo")) {
        let cpus = text
            .lines()
            .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
            .count();
        if cpus < 2 {
            c.error(
                "NumCPU",
                format!("the number of available CPUs {cpus} is less than the required 2"),
            );
        }
    }
    if let Ok(text) = fs::read_to_string(env.path("/proc/meminfo")) {
        let kb = text
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        let mb = kb / 1024;
        if mb < 1700 {
            c.error(
                "Mem",
                format!("the system RAM ({mb} MB) is less than the minimum 1700 MB"),
            );
        }
    }
}

/// Runs kubeadm's preflight checks for `init` (or `join`) with `config`; ignored errors and
/// warnings are printed to stderr as kubeadm prints them, and the remaining errors are
/// appended to `errors` as `\t[ERROR NAME]: message` lines.
pub(super) fn check(env: &Env, config: &Config, init: bool, errors: &mut Vec<String>) {
    let empty = Value::Null;
    let node = if init {
        config.kind("InitConfiguration")
    } else {
        config.kind("JoinConfiguration")
    }
    .unwrap_or(&empty);
    let control_plane = init || node.get("controlPlane").is_some();
    let mut c = Checks {
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let k8s_version = if init {
        config
            .kind("ClusterConfiguration")
            .and_then(|cl| str_at(cl, &["kubernetesVersion"]))
            .and_then(parse_version)
    } else {
        None
    };
    if control_plane {
        resource_checks(env, &mut c);
        let bind_port = node
            .get(if init {
                "localAPIEndpoint"
            } else {
                "controlPlane"
            })
            .and_then(|e| {
                if init {
                    Some(e)
                } else {
                    e.get("localAPIEndpoint")
                }
            })
            .and_then(|e| e.get("bindPort"))
            .and_then(Value::as_u64)
            .unwrap_or(6443) as u16;
        for port in [bind_port, 10259, 10257] {
            if port_in_use(env, port) {
                c.error(format!("Port-{port}"), format!("Port {port} is in use"));
            }
        }
    }
    exec_checks(env, k8s_version, &mut c);
    if ![
        "/etc/systemd/system",
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
    ]
    .iter()
    .any(|d| env.exists(&format!("{d}/kubelet.service")))
    {
        c.warn("Service-Kubelet", "kubelet service does not exist");
    }
    let mut ports = vec![10250];
    if control_plane {
        ports.extend([2379, 2380]);
    }
    for port in ports {
        if port_in_use(env, port) {
            c.error(format!("Port-{port}"), format!("Port {port} is in use"));
        }
    }
    let ignored: Vec<String> = node
        .get("nodeRegistration")
        .and_then(|n| n.get("ignorePreflightErrors"))
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    let is_ignored = |name: &str| {
        ignored
            .iter()
            .any(|i| i == "all" || *i == name.to_lowercase())
    };
    for (name, msg) in c.errors {
        if is_ignored(&name) {
            c.warnings.push((name, msg));
        } else {
            errors.push(format!("\t[ERROR {name}]: {msg}"));
        }
    }
    for (name, msg) in c.warnings {
        eprintln!("\t[WARNING {name}]: {msg}");
    }
}

/// `kubeadm config images pull --config FILE`.
pub(super) fn images_pull(env: &Env, flags: &[String]) -> Res<String> {
    let config = load_config(
        env,
        &flag_value(flags, "--config").unwrap_or_default(),
        "init",
    )?;
    let cluster = config.kind("ClusterConfiguration");
    let repo = cluster
        .and_then(|c| str_at(c, &["imageRepository"]))
        .unwrap_or("registry.k8s.io")
        .to_string();
    let mut args = vec!["--image-repository".to_string(), repo.clone()];
    if let Some(v) = cluster.and_then(|c| str_at(c, &["kubernetesVersion"])) {
        args.extend(["--kubernetes-version".to_string(), v.to_string()]);
    }
    let list = images(env, &args)?;
    let host = repo.split('/').next().unwrap_or_default().to_string();
    let down = fs::read_to_string(env.path("/.standin/unreachable-registries")).unwrap_or_default();
    let mut out = String::new();
    for image in list.lines() {
        if down.lines().any(|l| l.trim() == host) {
            let path = image.trim_start_matches(&format!("{host}/"));
            let (name, tag) = path.rsplit_once(':').unwrap_or((path, "latest"));
            return fail(
                1,
                format!(
                    "{out}failed to pull image \"{image}\": failed to pull image {image}: rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://{host}/v2/{name}/manifests/{tag}\": dial tcp: lookup {host}: no such host\nTo see the stack trace of this error execute with --v=5 or higher"
                ),
            );
        }
        out.push_str(&format!("[config/images] Pulled {image}\n"));
    }
    Ok(out)
}
