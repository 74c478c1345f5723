//! The shipped systemd units (`systemd/`): node preparation runs before the kubelet and never
//! runs kubeadm; cluster formation runs kubeadm and is never ordered before the kubelet, since
//! kubeadm restarts the kubelet synchronously (a restart job for a unit ordered after ours
//! would wait for ours, which waits for kubeadm). The step selection is read by running the
//! unit's own `ExecStart` arguments through the real binary (as `plan`), not by re-implementing
//! `--only`/`--skip`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Sandbox;

/// One unit file: `(section, key)` → every value assigned, in order (systemd keys such as
/// `After=` may repeat and each holds a space-separated list).
fn parse_unit(name: &str) -> BTreeMap<(String, String), Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("systemd")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut section = String::new();
    let mut keys: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{name}: not a key=value line: {line}"));
        keys.entry((section.clone(), key.trim().to_string()))
            .or_default()
            .push(value.trim().to_string());
    }
    keys
}

/// The space-separated unit names of every `[Unit] key=` line.
fn units_in(unit: &BTreeMap<(String, String), Vec<String>>, key: &str) -> Vec<String> {
    unit.get(&("Unit".to_string(), key.to_string()))
        .into_iter()
        .flatten()
        .flat_map(|v| v.split_whitespace().map(str::to_string))
        .collect()
}

/// The one `ExecStart=` command line, split into words.
fn exec_start(unit: &BTreeMap<(String, String), Vec<String>>) -> Vec<String> {
    let lines = &unit[&("Service".to_string(), "ExecStart".to_string())];
    assert_eq!(lines.len(), 1, "one ExecStart: {lines:?}");
    lines[0].split_whitespace().map(str::to_string).collect()
}

/// Runs the unit's ExecStart as `plan --output json` against a sandbox with a cluster
/// profile and returns, per step, whether the selection ran it.
fn selected_steps(unit: &BTreeMap<(String, String), Vec<String>>) -> BTreeMap<String, bool> {
    let sb = Sandbox::new();
    let profile_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let profile = profile_dir.join("cluster-master.toml");
    let words = exec_start(unit);
    assert_eq!(words[0], "/usr/local/bin/bootstrap", "{words:?}");
    assert_eq!(words[1], "apply", "{words:?}");
    let mut args: Vec<String> = vec!["plan".into(), "--output".into(), "json".into()];
    let mut rest = words[2..].iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "--profile" => {
                assert_eq!(rest.next().unwrap(), "/etc/bootstrap/profile.toml");
                args.extend(["--profile".into(), profile.to_str().unwrap().into()]);
            }
            "--lock-wait" => {
                rest.next();
            }
            other => args.push(other.to_string()),
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sb.run(&args);
    assert!(!out.stdout.is_empty(), "{args:?}: {}", out.stderr);
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| {
            let step = e["step"].as_str().unwrap().to_string();
            let not_selected = e["reason"] == "not selected by --only/--skip";
            (step, !not_selected)
        })
        .collect()
}

#[test]
fn the_prep_unit_runs_before_the_kubelet_and_never_runs_kubeadm() {
    let prep = parse_unit("bootstrap.service");
    assert!(units_in(&prep, "Before").contains(&"kubelet.service".to_string()));
    // At boot the containerd step must see containerd's own start finished, or it counts
    // "start containerd" as a change on a converged node (seen in the VM tier's reboot).
    assert!(
        units_in(&prep, "After").contains(&"containerd.service".to_string()),
        "bootstrap.service must be After=containerd.service: {:?}",
        units_in(&prep, "After")
    );
    let steps = selected_steps(&prep);
    assert_eq!(steps.get("kubeadm"), Some(&false), "{steps:?}");
    for step in [
        "hosts",
        "modules",
        "sysctl",
        "swap",
        "containerd",
        "packages",
        "cgroup",
    ] {
        assert_eq!(steps.get(step), Some(&true), "{step}: {steps:?}");
    }
}

#[test]
fn the_cluster_unit_runs_kubeadm_after_prep_and_is_not_ordered_before_the_kubelet() {
    let cluster = parse_unit("bootstrap-cluster.service");
    let before = units_in(&cluster, "Before");
    assert!(
        !before.iter().any(|u| u == "kubelet.service"),
        "bootstrap-cluster.service must not be Before=kubelet.service: {before:?}"
    );
    let after = units_in(&cluster, "After");
    for unit in [
        "bootstrap.service",
        "containerd.service",
        "network-online.target",
    ] {
        assert!(
            after.contains(&unit.to_string()),
            "After= lacks {unit}: {after:?}"
        );
    }
    assert!(units_in(&cluster, "Wants").contains(&"network-online.target".to_string()));
    // Nothing ordered before the kubelet may pull the cluster unit in before it either:
    // neither the kubelet unit nor the prep unit waits for it.
    for other in ["kubelet.service", "bootstrap.service"] {
        let unit = parse_unit(other);
        assert!(
            !units_in(&unit, "After")
                .iter()
                .any(|u| u == "bootstrap-cluster.service"),
            "{other} is ordered after bootstrap-cluster.service"
        );
    }
    let steps = selected_steps(&cluster);
    assert_eq!(steps.get("kubeadm"), Some(&true), "{steps:?}");
    assert!(
        steps.iter().all(|(step, on)| !on || step == "kubeadm"),
        "{steps:?}"
    );
}

/// The scheduled snapshot: the timer names its service, the service runs only where kubeadm's
/// etcd manifest exists, and its ExecStart, run through the real binary as a dry run on a
/// sandbox control plane (kubeadm's manifest and certificate files), plans a save with
/// retention into the directory it names.
#[test]
fn the_etcd_snapshot_timer_runs_a_verified_save_with_retention() {
    let timer = parse_unit("bootstrap-etcd-snapshot.timer");
    assert_eq!(
        timer[&("Timer".to_string(), "Persistent".to_string())],
        ["true"]
    );
    assert!(timer.contains_key(&("Timer".to_string(), "OnCalendar".to_string())));
    let service = parse_unit("bootstrap-etcd-snapshot.service");
    assert_eq!(
        service[&("Unit".to_string(), "ConditionPathExists".to_string())],
        ["/etc/kubernetes/manifests/etcd.yaml"]
    );
    let words = exec_start(&service);
    assert_eq!(
        words[..4],
        ["/usr/local/bin/bootstrap", "etcd", "snapshot", "save"]
    );
    let sb = Sandbox::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/etcd/etcd.yaml");
    sb.write(
        "/etc/kubernetes/manifests/etcd.yaml",
        &std::fs::read_to_string(fixture).unwrap(),
    );
    for f in ["ca.crt", "healthcheck-client.crt", "healthcheck-client.key"] {
        sb.write(&format!("/etc/kubernetes/pki/etcd/{f}"), "pem\n");
    }
    for old in ["20200101T000000Z", "20200102T000000Z", "20200103T000000Z"] {
        sb.write(
            &format!("/var/backups/etcd/etcd-snapshot-{old}.db"),
            "old\n",
        );
    }
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.push("--dry-run");
    let before = sb.snapshot();
    let out = sb.run(&args);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("to /var/backups/etcd/etcd-snapshot-"),
        "{}",
        out.stdout
    );
    // --keep 7 with three older ones: nothing to remove.
    assert!(!out.stdout.contains("remove older"), "{}", out.stdout);
    sb.assert_unchanged(&before, "a dry run");
}
