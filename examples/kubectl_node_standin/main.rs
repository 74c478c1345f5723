//! A stand-in for `kubectl` over a cluster's nodes and pods, for the upgrade and drain
//! tests (no API server exists in the sandbox). Written from kubectl's documentation and
//! source (kubernetes/kubectl `pkg/cmd/drain/drain.go`, `pkg/drain/{drain,filters,cordon}.go`;
//! <https://kubernetes.io/docs/reference/kubectl/generated/kubectl_drain/>), with its own
//! parsing and kubectl's refusals:
//! - `--kubeconfig FILE` must name a file under `$SANDBOX_ROOT`; the user in it is the
//!   identity (`system:node:NAME` for a kubelet.conf), and a kubelet may read its own Node
//!   but not cordon, drain or uncordon (RBAC's "forbidden");
//! - `get --raw /version`, `version`, `get node NAME -o json`, `cordon`, `uncordon`, and
//!   `drain NODE [--ignore-daemonsets] [--delete-emptydir-data] [--force] [--timeout=D]`:
//!   cordon first, then refuse DaemonSet pods (without --ignore-daemonsets), pods with
//!   emptyDir volumes (without --delete-emptydir-data) and pods no controller manages
//!   (without --force), all in one error naming the pods, as `filters.go` does; then evict
//!   each pod, an eviction a PodDisruptionBudget blocks (HTTP 429) retried every 5 s of
//!   simulated time until `--timeout`; mirror (static) pods are left alone;
//! - the state lives in `kube.json` of `$STANDIN_CLUSTER` (else
//!   `$SANDBOX_ROOT/.standin/cluster`), shared with the kubeadm stand-in: `serverVersion`,
//!   `nodes` (`unschedulable`, `ready`, `kubeletVersion`, and `root`: the sandbox whose
//!   kubelet it is; a restart of that kubelet unit makes the node report the version of
//!   the kubelet installed there), `pods` (`namespace`, `name`, `node`, `owner` kind or
//!   null, `emptyDir`, `app`), `pdbs` (`namespace`, `app`, `blocks`: evictions refused
//!   before one is allowed);
//! - every call is appended to `$STANDIN_LOG`; `$STANDIN_KILL` naming `kubectl-drain`
//!   or `kubectl-uncordon` kills the caller right after a drain or an uncordon finished.

use std::fs;
use std::path::PathBuf;
use std::process::exit;
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};

struct Ctx {
    root: PathBuf,
    state_path: PathBuf,
    state: Value,
    user: String,
}

fn die(msg: impl AsRef<str>) -> ! {
    eprintln!("{}", msg.as_ref());
    exit(1)
}

fn version(s: &str) -> Option<(u32, u32, u32)> {
    let mut p = s
        .trim()
        .trim_start_matches('v')
        .split('.')
        .map(|x| x.parse().ok());
    Some((p.next()??, p.next()??, p.next()??))
}

impl Ctx {
    fn save(&self) {
        fs::write(
            &self.state_path,
            serde_json::to_string_pretty(&self.state).unwrap(),
        )
        .unwrap();
    }

    fn node(&mut self, name: &str) -> &mut Value {
        if self.state["nodes"].get(name).is_none() {
            die(format!(
                "Error from server (NotFound): nodes \"{name}\" not found"
            ));
        }
        &mut self.state["nodes"][name]
    }

    fn admin(&self, verb: &str, name: &str) {
        if self.user.starts_with("system:node:") {
            die(format!(
                "Error from server (Forbidden): nodes \"{name}\" is forbidden: User \"{}\" cannot {verb} resource \"nodes\" in API group \"\" at the cluster scope",
                self.user
            ));
        }
    }

    /// The kubelet on a node reports the version it was started with: the one installed in
    /// its sandbox at its last restart (the systemctl stand-in rewrites the unit's state).
    fn refresh_kubelet(&mut self, name: &str) {
        let node = self.node(name).clone();
        let Some(root) = node["root"].as_str().map(PathBuf::from) else {
            return;
        };
        let unit = root.join(".standin/units/kubelet.service");
        let Ok(stamp) = fs::metadata(&unit).and_then(|m| m.modified()) else {
            return;
        };
        let stamp = stamp
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            .to_string();
        if node["restartedAt"].as_str() == Some(stamp.as_str()) {
            return;
        }
        let installed = fs::read_to_string(root.join("usr/bin/kubelet"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("V=").map(str::to_string))
            });
        let n = self.node(name);
        n["restartedAt"] = json!(stamp);
        if let Some(v) = installed {
            n["kubeletVersion"] = json!(format!("v{v}"));
        }
        self.save();
    }
}

fn get_node(ctx: &mut Ctx, name: &str) -> String {
    ctx.refresh_kubelet(name);
    let n = ctx.node(name).clone();
    let ready = if n["ready"].as_bool().unwrap_or(true) {
        "True"
    } else {
        "False"
    };
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": if n["unschedulable"].as_bool().unwrap_or(false) { json!({"unschedulable": true}) } else { json!({}) },
        "status": {
            "conditions": [{"type": "Ready", "status": ready}],
            "nodeInfo": {"kubeletVersion": n["kubeletVersion"]}
        }
    });
    serde_json::to_string_pretty(&node).unwrap() + "\n"
}

fn set_cordon(ctx: &mut Ctx, name: &str, on: bool) -> String {
    let verb = if on { "cordoned" } else { "uncordoned" };
    let node = ctx.node(name);
    let was = node["unschedulable"].as_bool().unwrap_or(false);
    node["unschedulable"] = json!(on);
    ctx.save();
    if was == on {
        format!("node/{name} already {verb}\n")
    } else {
        format!("node/{name} {verb}\n")
    }
}

/// kubectl's duration flag (`--timeout=90s`, `5m`, `0` = forever), in seconds.
fn seconds(text: &str) -> u64 {
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = num.parse().unwrap_or_else(|_| die(format!("error: invalid argument \"{text}\" for \"--timeout\" flag: time: invalid duration \"{text}\"")));
    match unit {
        "" if n == 0 => u64::MAX,
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => die(format!(
            "error: invalid argument \"{text}\" for \"--timeout\" flag: time: invalid duration \"{text}\""
        )),
    }
}

fn pod_name(p: &Value) -> String {
    format!(
        "{}/{}",
        p["namespace"].as_str().unwrap_or("default"),
        p["name"].as_str().unwrap_or("")
    )
}

fn drain(ctx: &mut Ctx, args: &[String]) -> String {
    let mut node = None;
    let (mut daemonsets, mut emptydir, mut force, mut timeout) = (false, false, false, u64::MAX);
    for a in args {
        match a.as_str() {
            "--ignore-daemonsets" => daemonsets = true,
            "--delete-emptydir-data" => emptydir = true,
            "--force" => force = true,
            t if t.starts_with("--timeout=") => timeout = seconds(&t["--timeout=".len()..]),
            f if f.starts_with('-') => die(format!("error: unknown flag: {f}")),
            n if node.is_none() => node = Some(n.to_string()),
            _ => die("error: USAGE: drain NODE [flags]"),
        }
    }
    let name = node.unwrap_or_else(|| die("error: USAGE: drain NODE [flags]"));
    ctx.admin("patch", &name);
    let mut out = set_cordon(ctx, &name, true);
    let pods: Vec<Value> = ctx.state["pods"].as_array().cloned().unwrap_or_default();
    let here: Vec<&Value> = pods.iter().filter(|p| p["node"] == name.as_str()).collect();
    let owner = |p: &Value| p["owner"].as_str().map(str::to_string);
    let list = |f: &dyn Fn(&Value) -> bool| {
        here.iter()
            .filter(|p| f(p))
            .map(|p| pod_name(p))
            .collect::<Vec<_>>()
    };
    let mut errors = Vec::new();
    let ds = list(&|p| owner(p).as_deref() == Some("DaemonSet"));
    if !ds.is_empty() && !daemonsets {
        errors.push(format!(
            "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {}",
            ds.join(", ")
        ));
    }
    let local = list(&|p| {
        p["emptyDir"].as_bool().unwrap_or(false) && owner(p).as_deref() != Some("DaemonSet")
    });
    if !local.is_empty() && !emptydir {
        errors.push(format!(
            "cannot delete Pods with local storage (use --delete-emptydir-data to override): {}",
            local.join(", ")
        ));
    }
    let bare = list(&|p| owner(p).is_none());
    if !bare.is_empty() && !force {
        errors.push(format!(
            "cannot delete Pods declare no controller (use --force to override): {}",
            bare.join(", ")
        ));
    }
    if !errors.is_empty() {
        print!("{out}");
        die(format!(
            "error: unable to drain node \"{name}\" due to error: [{}], continuing command...\nThere are pending nodes to be drained:\n {name}\n{}",
            errors.join(", "),
            errors.join("\n")
        ));
    }
    if !ds.is_empty() {
        eprintln!(
            "Warning: ignoring DaemonSet-managed Pods: {}",
            ds.join(", ")
        );
    }
    let mut elapsed = 0u64;
    for pod in here
        .iter()
        .filter(|p| !matches!(owner(p).as_deref(), Some("DaemonSet") | Some("Node")))
    {
        let (ns, pname) = (
            pod["namespace"].as_str().unwrap_or("default"),
            pod["name"].as_str().unwrap_or(""),
        );
        out.push_str(&format!("evicting pod {ns}/{pname}\n"));
        loop {
            let pdbs = ctx.state["pdbs"].as_array_mut();
            let blocking = pdbs.into_iter().flatten().find(|b| {
                b["namespace"] == ns
                    && b["app"] == pod["app"]
                    && b["blocks"].as_u64().unwrap_or(0) > 0
            });
            let Some(pdb) = blocking else { break };
            pdb["blocks"] = json!(pdb["blocks"].as_u64().unwrap() - 1);
            eprintln!(
                "error when evicting pods/\"{pname}\" -n \"{ns}\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."
            );
            elapsed += 5;
            if elapsed >= timeout {
                ctx.save();
                print!("{out}");
                die(format!(
                    "There are pending pods in node \"{name}\" when an error occurred: error when evicting pods/\"{pname}\" -n \"{ns}\": global timeout reached: {timeout}s\nerror: unable to drain node \"{name}\" due to error: error when evicting pods/\"{pname}\" -n \"{ns}\": global timeout reached: {timeout}s, continuing command...\nThere are pending nodes to be drained:\n {name}"
                ));
            }
        }
        for p in ctx.state["pods"].as_array_mut().into_iter().flatten() {
            if p["namespace"] == ns && p["name"] == pname {
                p["node"] = json!(if force && owner(pod).is_none() {
                    "<deleted>"
                } else {
                    "<rescheduled>"
                });
            }
        }
        out.push_str(&format!("pod/{pname} evicted\n"));
    }
    ctx.save();
    out.push_str(&format!("node/{name} drained\n"));
    killed_after("kubectl-drain", &out);
    out
}

/// `$STANDIN_KILL` naming `word`: the caller is killed once the command took effect.
fn killed_after(word: &str, out: &str) {
    let kill = format!(" {} ", std::env::var("STANDIN_KILL").unwrap_or_default());
    if kill.contains(&format!(" {word} ")) {
        print!("{out}");
        let parent = std::os::unix::process::parent_id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &parent])
            .status();
        exit(137);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(log) = std::env::var("STANDIN_LOG") {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        writeln!(f, "kubectl {}", args.join(" ")).unwrap();
    }
    if format!(" {} ", std::env::var("STANDIN_FAIL").unwrap_or_default()).contains(" kubectl ") {
        die("error: the server could not find the requested resource");
    }
    let root = PathBuf::from(std::env::var("SANDBOX_ROOT").unwrap_or_default());
    let (kubeconfig, rest) = match args.as_slice() {
        [flag, file, rest @ ..] if flag == "--kubeconfig" => (file.clone(), rest.to_vec()),
        _ => die(
            "error: the stand-in needs --kubeconfig FILE first (no in-cluster config in the sandbox)",
        ),
    };
    let text =
        fs::read_to_string(root.join(kubeconfig.trim_start_matches('/'))).unwrap_or_else(|_| {
            die(format!(
                "error: stat {kubeconfig}: no such file or directory"
            ))
        });
    let user = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: "))
        .unwrap_or("")
        .to_string();
    let cluster = std::env::var("STANDIN_CLUSTER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".standin/cluster"));
    let state_path = cluster.join("kube.json");
    let state: Value = fs::read_to_string(&state_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| die("The connection to the server was refused - did you specify the right host or port?"));
    let mut ctx = Ctx {
        root,
        state_path,
        state,
        user,
    };
    let server = ctx.state["serverVersion"]
        .as_str()
        .and_then(version)
        .unwrap_or_else(|| die("error: no serverVersion"));
    let words: Vec<&str> = rest.iter().map(String::as_str).collect();
    let out = match words.as_slice() {
        ["get", "--raw", "/version"] => format!(
            "{{\n  \"major\": \"{}\",\n  \"minor\": \"{}\",\n  \"gitVersion\": \"v{}.{}.{}\",\n  \"platform\": \"linux/amd64\"\n}}\n",
            server.0, server.1, server.0, server.1, server.2
        ),
        ["version"] => format!(
            "Client Version: v{}.{}.{}\nServer Version: v{}.{}.{}\n",
            server.0, server.1, server.2, server.0, server.1, server.2
        ),
        ["get", "node", name, "-o", "json"] => {
            let name = name.to_string();
            if ctx.user.starts_with("system:node:") && ctx.user != format!("system:node:{name}") {
                die(format!(
                    "Error from server (Forbidden): nodes \"{name}\" is forbidden: User \"{}\" cannot get resource \"nodes\": can only access its own node",
                    ctx.user
                ));
            }
            get_node(&mut ctx, &name)
        }
        ["cordon", name] => {
            let n = name.to_string();
            ctx.admin("patch", &n);
            set_cordon(&mut ctx, &n, true)
        }
        ["uncordon", name] => {
            let n = name.to_string();
            ctx.admin("patch", &n);
            let out = set_cordon(&mut ctx, &n, false);
            killed_after("kubectl-uncordon", &out);
            out
        }
        ["drain", ..] => drain(&mut ctx, &rest[1..]),
        _ => die(format!(
            "error: unknown command {:?} for \"kubectl\" (this stand-in models version, get node, get --raw /version, cordon, uncordon and drain)",
            words
        )),
    };
    let _ = &ctx.root;
    print!("{out}");
}
