//! The real binary against a sandbox root with stand-in programs: first apply changes exactly
//! what it should, a second apply changes nothing, plan and check exit codes are right.

mod common;

use common::{FSTAB, HOSTS, MASTER_PROFILE, SYSCTL_CONF, Sandbox};

#[test]
fn first_apply_converges_and_second_changes_nothing() {
    let sb = Sandbox::new();
    let profile = sb.profile("master.toml", MASTER_PROFILE);

    let plan = sb.json("plan", &profile, &[]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        sb.take_changing_calls().is_empty(),
        "plan runs no changing command"
    );

    let first = sb.json("apply", &profile, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    for step in ["hosts", "modules", "sysctl", "swap", "containerd"] {
        assert_eq!(first.status(step), "changed", "{step}");
    }
    assert_eq!(first.status("cgroup"), "ok");
    assert_eq!(
        sb.take_changing_calls(),
        [
            "modprobe -- br_netfilter",
            "swapoff /swapfile",
            "systemctl daemon-reload",
            "apt-get update",
            "apt-get install -y --no-install-recommends containerd",
            "systemctl restart containerd",
        ]
    );

    // /etc/hosts: lines we do not own kept byte for byte, ubuntu-bionic commented out.
    let hosts = sb.read("/etc/hosts");
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n# removed by bootstrap: 127.0.1.1\tubuntu-bionic\tubuntu-bionic\n\n# The following lines"));
    assert!(hosts.contains(&HOSTS[HOSTS.find("\n\n").unwrap()..]));
    assert!(hosts.ends_with(
        "# BEGIN bootstrap managed block: edits inside are replaced\n192.168.33.13 master\n192.168.33.14 worker-1\n192.168.33.15 worker-2\n# END bootstrap managed block\n"
    ));
    // modules persisted and loaded.
    assert!(
        sb.read("/etc/modules-load.d/bootstrap.conf")
            .ends_with("overlay\nbr_netfilter\n")
    );
    assert!(sb.read("/proc/modules").contains("br_netfilter"));
    // sysctls live and persisted.
    for key in [
        "net/ipv4/ip_forward",
        "net/bridge/bridge-nf-call-iptables",
        "net/bridge/bridge-nf-call-ip6tables",
    ] {
        assert_eq!(sb.read(&format!("/proc/sys/{key}")), "1\n", "{key}");
    }
    assert!(
        sb.read("/etc/sysctl.d/99-bootstrap.conf")
            .contains("net.ipv4.ip_forward = 1\n")
    );
    assert_eq!(sb.read("/etc/sysctl.conf"), SYSCTL_CONF);
    // swap off now and at boot; other fstab lines intact.
    assert_eq!(sb.read("/proc/swaps").lines().count(), 1);
    let fstab = sb.read("/etc/fstab");
    assert!(fstab.starts_with(&FSTAB[..FSTAB.find("/swapfile").unwrap()]));
    assert!(fstab.ends_with("# disabled by bootstrap (swap off): /swapfile none swap sw 0 0\n"));
    for unit in ["swap.target", "swapfile.swap"] {
        let link = std::fs::read_link(sb.path(&format!("/etc/systemd/system/{unit}"))).unwrap();
        assert_eq!(link.to_str(), Some("/dev/null"));
    }
    // originals backed up once, journal written.
    assert_eq!(sb.read("/var/lib/bootstrap/backups/etc/hosts"), HOSTS);
    assert_eq!(sb.read("/var/lib/bootstrap/backups/etc/fstab"), FSTAB);
    let journal = sb.read("/var/lib/bootstrap/journal.jsonl");
    assert!(journal.lines().count() >= 8, "{journal}");

    let before = sb.snapshot();
    let second = sb.json("apply", &profile, &[]);
    assert_eq!(second.code, 0);
    assert_eq!(second.summary()["changes"], 0, "{}", second.stdout);
    assert_eq!(second.summary()["changed"], 0);
    assert_eq!(
        sb.take_changing_calls(),
        Vec::<String>::new(),
        "a converged apply runs no changing command"
    );
    sb.assert_unchanged(&before, "a converged apply touches no file");

    let plan = sb.json("plan", &profile, &[]);
    assert_eq!(plan.code, 0);
    let check = sb.json("check", &profile, &[]);
    assert_eq!(check.code, 0);
}

/// The step names in the order of README's `## Steps` table.
fn readme_step_order() -> Vec<String> {
    let readme = include_str!("../README.md");
    let table = &readme[readme.find("\n## Steps\n").expect("a Steps section")..];
    let order: Vec<String> = table
        .lines()
        .skip_while(|l| !l.starts_with("| step |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| l[3..].split('`').next().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 10, "README lists ten steps: {order:?}");
    order
}

#[test]
fn json_events_have_the_documented_shape() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = sb.json("plan", &profile, &[]);
    let events = out.events();
    assert_eq!(events[0]["event"], "run_started");
    assert_eq!(events[0]["mode"], "plan");
    // The order README's step table documents (read from README, not from the code).
    assert_eq!(events[0]["steps"], serde_json::json!(readme_step_order()));
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"change"));
    let finished = events
        .iter()
        .find(|e| e["event"] == "step_finished")
        .unwrap();
    assert!(finished["duration_ms"].is_u64());
    assert_eq!(finished["status"], "pending");
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["exit_code"], 2);
    assert_eq!(summary["pending"], 5);
    let diff = events
        .iter()
        .find(|e| e["event"] == "change" && e["step"] == "hosts")
        .unwrap();
    assert!(
        diff["diff"]
            .as_str()
            .unwrap()
            .contains("+192.168.33.13 master")
    );
}

/// Whether a step line shows its duration (`37 ms` or `2.03 s`).
fn has_duration(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .any(|w| (w[1] == "ms" || w[1] == "s") && w[0].parse::<f64>().is_ok())
}

#[test]
fn human_output_has_a_line_per_step_and_a_recap() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = sb.run(&["apply", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for step in ["hosts", "modules", "sysctl", "swap"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(step) && l.contains("changed") && has_duration(l)),
            "{step} line missing:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("  + load kernel module br_netfilter"));
    // The packages step needs [kubernetes], preflight and kubeadm [kubeadm], certificates a
    // node kubeadm has set up: left out here.
    assert!(
        out.stdout
            .contains("recap: ok=1 changed=5 pending=0 failed=0 skipped=4"),
        "{}",
        out.stdout
    );
    let again = sb.run(&["apply", "--profile", profile.to_str().unwrap()]);
    assert!(again.stdout.contains("recap: ok=6 changed=0"));
    assert!(again.stdout.contains("nothing was changed"));
    let quiet = sb.run(&["-q", "plan", "--profile", profile.to_str().unwrap()]);
    assert_eq!(
        quiet
            .stdout
            .trim_start()
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next(),
        Some("recap:")
    );
}

#[test]
fn check_reports_drift_and_apply_fixes_it() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    assert_eq!(sb.json("apply", &profile, &[]).code, 0);
    // Someone turns swap back on and resets a sysctl.
    sb.write(
        "/proc/swaps",
        "Filename Type Size Used Priority\n/swapfile file 1048572 0 -2\n",
    );
    sb.write("/proc/sys/net/ipv4/ip_forward", "0\n");
    let before = sb.snapshot();
    let check = sb.json("check", &profile, &[]);
    assert_eq!(check.code, 2);
    assert_eq!(check.status("swap"), "drift");
    assert_eq!(check.status("sysctl"), "drift");
    assert_eq!(check.status("hosts"), "ok");
    assert!(check.stdout.contains("set net.ipv4.ip_forward = 1 (was 0)"));
    assert!(check.stdout.contains("turn off swap on /swapfile"));
    sb.assert_unchanged(&before, "check changes nothing");
    let human = sb.run(&["check", "--profile", profile.to_str().unwrap()]);
    assert!(human.stdout.contains("drift=2"), "{}", human.stdout);
    assert_eq!(sb.json("apply", &profile, &[]).code, 0);
    assert_eq!(sb.json("check", &profile, &[]).code, 0);
}

#[test]
fn only_and_skip_select_steps() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = sb.json("apply", &profile, &["--only", "hosts", "--only", "sysctl"]);
    assert_eq!(
        out.code, 1,
        "sysctl needs br_netfilter, which --only left unloaded"
    );
    assert_eq!(out.status("hosts"), "changed");
    assert_eq!(out.status("modules"), "skipped");
    assert_eq!(out.status("sysctl"), "failed");
    let failed = out
        .events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "sysctl")
        .unwrap();
    assert!(failed["reason"].as_str().unwrap().contains("br_netfilter"));
    let out = sb.json("apply", &profile, &["--skip", "swap"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.status("swap"), "skipped");
    assert_eq!(sb.read("/proc/swaps").lines().count(), 2, "swap untouched");
    let bad = sb.json("plan", &profile, &["--only", "swapp"]);
    assert_eq!(bad.code, 64, "an unknown step is a usage error");
    assert!(
        bad.stderr.contains("invalid value 'swapp'") && bad.stderr.contains("'swap'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn failing_program_stops_the_run_and_a_rerun_converges() {
    let mut sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    sb.fail = "modprobe".into();
    let out = sb.json("apply", &profile, &[]);
    assert_eq!(out.code, 1);
    assert_eq!(out.status("hosts"), "changed");
    assert_eq!(out.status("modules"), "failed");
    assert_eq!(out.status("sysctl"), "skipped");
    assert_eq!(out.status("swap"), "skipped");
    let reason = out
        .events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "modules")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("`modprobe -- br_netfilter` failed with exit code 1"),
        "{reason}"
    );
    assert!(reason.contains("Module br_netfilter not found"), "{reason}");
    let human = sb.run(&["apply", "--profile", profile.to_str().unwrap()]);
    assert!(
        human.stdout.contains("modules      failed"),
        "{}",
        human.stdout
    );
    sb.fail.clear();
    assert_eq!(sb.json("apply", &profile, &[]).code, 0);
    assert_eq!(sb.json("apply", &profile, &[]).summary()["changes"], 0);
}

#[test]
fn killed_mid_apply_then_rerun_converges() {
    let mut sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    sb.kill = "swapoff".into();
    let out = sb.json("apply", &profile, &[]);
    assert_ne!(out.code, 0, "the agent was killed");
    assert!(!out.stdout.contains("\"event\":\"summary\""));
    sb.kill.clear();
    let rerun = sb.json("apply", &profile, &[]);
    assert_eq!(
        rerun.code, 0,
        "lock released by the kernel; {}",
        rerun.stdout
    );
    assert_eq!(
        rerun.status("hosts"),
        "ok",
        "work done before the kill is kept"
    );
    assert_eq!(rerun.status("swap"), "changed");
    assert_eq!(sb.json("apply", &profile, &[]).summary()["changes"], 0);
}

#[test]
fn a_held_lock_refuses_a_second_apply() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    sb.mkdir("/run");
    let lock = sb.path("/run/bootstrap.lock");
    // flock(1) in a process group of its own, so that killing the group ends its `sleep`
    // too (a kill of flock alone leaves the sleep holding the lock).
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .process_group(0)
        .spawn()
        .expect("flock(1) from util-linux");
    let group = nix::unistd::Pid::from_raw(i32::try_from(holder.id()).unwrap());
    wait_until_flocked(&lock);
    let before = sb.snapshot();
    let out = sb.run(&["apply", "--profile", profile.to_str().unwrap()]);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = holder.wait();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("holds the node lock"), "{}", out.stderr);
    assert!(out.stderr.contains("--lock-wait"));
    sb.assert_unchanged(&before, "a refused apply changes nothing");
    // With the holder's whole group gone, the lock is free again.
    assert_eq!(sb.json("apply", &profile, &[]).code, 0);
}

/// Waits until /proc/locks shows a FLOCK on `path`'s inode (the holder really holds it).
fn wait_until_flocked(path: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(meta) = std::fs::metadata(path) {
            let inode = format!(":{} ", meta.ino());
            let locks = std::fs::read_to_string("/proc/locks").unwrap();
            if locks
                .lines()
                .any(|l| l.contains("FLOCK") && format!("{l} ").contains(&inode))
            {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "flock never took {}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn lines_we_do_not_own_survive_byte_for_byte() {
    let sb = Sandbox::new();
    let hosts = "127.0.0.1 localhost\r\n10.9.9.9\tdb  db.internal # keep me\r\n::1 localhost ip6-localhost\r\n# end without newline";
    let fstab = "UUID=1 / ext4 defaults 0 1\n\t# indented comment\n/dev/sdb1 none swap sw,pri=5 0 0\nLABEL=data /data xfs noatime 0 2";
    let sysctl_d = "# vendor tuning\nvm.swappiness = 10\n";
    sb.write("/etc/hosts", hosts);
    sb.write("/etc/fstab", fstab);
    sb.write("/etc/sysctl.d/10-vendor.conf", sysctl_d);
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    assert_eq!(sb.json("apply", &profile, &[]).code, 0);
    let new_hosts = sb.read("/etc/hosts");
    assert!(new_hosts.starts_with(hosts), "{new_hosts:?}");
    assert!(new_hosts.contains("\r\n# BEGIN bootstrap managed block"));
    let new_fstab = sb.read("/etc/fstab");
    assert_eq!(
        new_fstab,
        "UUID=1 / ext4 defaults 0 1\n\t# indented comment\n# disabled by bootstrap (swap off): /dev/sdb1 none swap sw,pri=5 0 0\nLABEL=data /data xfs noatime 0 2"
    );
    assert_eq!(sb.read("/etc/sysctl.d/10-vendor.conf"), sysctl_d);
}

#[test]
fn later_sysctl_file_overriding_ours_is_warned_about() {
    let sb = Sandbox::new();
    sb.write(
        "/etc/sysctl.d/99-zz-local.conf",
        "net.ipv4.ip_forward = 0\n",
    );
    sb.write("/etc/sysctl.d/10-early.conf", "net.ipv4.ip_forward = 0\n");
    sb.write("/etc/sysctl.conf", "net.bridge.bridge-nf-call-iptables=0\n");
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = sb.run(&["plan", "--profile", profile.to_str().unwrap()]);
    assert!(
        out.stdout.contains(
            "! warning: /etc/sysctl.d/99-zz-local.conf line 1 sets net.ipv4.ip_forward = 0"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("/etc/sysctl.conf line 1 sets net.bridge.bridge-nf-call-iptables = 0")
    );
    assert!(
        !out.stdout.contains("10-early.conf"),
        "an earlier file is overridden by ours, no warning"
    );
}

#[test]
fn address_from_interface_and_default_route() {
    let sb = Sandbox::new();
    let by_if = sb.profile(
        "if.toml",
        "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = { interface = \"eth1\" }\n",
    );
    let out = sb.json("plan", &by_if, &["--only", "hosts"]);
    assert!(
        out.stdout.contains("+192.168.33.13 master"),
        "{}",
        out.stdout
    );
    let auto = sb.profile("auto.toml", "[node]\nname = \"n1\"\nrole = \"worker\"\n");
    let out = sb.json("plan", &auto, &["--only", "hosts"]);
    assert!(out.stdout.contains("+10.0.2.15 n1"), "{}", out.stdout);
    let missing = sb.profile(
        "missing.toml",
        "[node]\nname = \"n1\"\nrole = \"worker\"\naddress = { interface = \"eth9\" }\n",
    );
    let out = sb.run(&["plan", "--profile", missing.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("node.address"), "{}", out.stderr);
    assert!(out.stderr.contains("eth9"), "{}", out.stderr);
}

#[test]
fn swap_policy_keep_skips_swap() {
    let sb = Sandbox::new();
    let profile = sb.profile(
        "p.toml",
        "[node]\nname = \"n\"\nrole = \"worker\"\naddress = \"10.0.0.5\"\n[swap]\npolicy = \"keep\"\n",
    );
    let out = sb.json("apply", &profile, &[]);
    assert_eq!(out.code, 0);
    assert_eq!(out.status("swap"), "skipped");
    assert_eq!(sb.read("/etc/fstab"), FSTAB);
}

#[test]
fn zram_and_gpt_swap_units_are_disabled_for_boot() {
    let sb = Sandbox::new();
    sb.write(
        "/.standin/swap-units",
        "dev-zram0.swap loaded active active /dev/zram0\ndev-disk-by\\x2dpartuuid-1.swap loaded inactive dead Swap Partition\n",
    );
    sb.write(
        "/usr/lib/systemd/zram-generator.conf",
        "[zram0]\nzram-size = min(ram / 2, 4096)\n",
    );
    sb.write("/lib/systemd/system/zramswap.service", "[Unit]\n");
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    assert_eq!(sb.json("apply", &profile, &[]).code, 0);
    for unit in [
        "dev-zram0.swap",
        "dev-disk-by\\x2dpartuuid-1.swap",
        "zramswap.service",
    ] {
        assert!(
            sb.path(&format!("/etc/systemd/system/{unit}")).is_symlink(),
            "{unit}"
        );
    }
    assert!(
        sb.read("/etc/systemd/zram-generator.conf")
            .starts_with("# zram swap disabled")
    );
    assert_eq!(sb.json("apply", &profile, &[]).summary()["changes"], 0);
}

/// Run as uid 65534 in a user namespace, chrooted into the sandbox root: `--root /` is
/// the sandbox there, so even a build that forgot the check could only touch the sandbox,
/// never this machine. The sandbox's files (owned by our uid, mapped to 65534) are writable
/// in there, so such a build would change them and the snapshot comparison would say so.
#[test]
#[cfg_attr(
    not(userns),
    ignore = "needs user namespaces (`unshare --user --mount`), which build.rs found unavailable"
)]
fn not_root_on_the_real_root_is_refused_before_any_change() {
    let sb = Sandbox::new();
    copy_with_libraries(&sb, std::path::Path::new(env!("CARGO_BIN_EXE_bootstrap")));
    sb.write("/p.toml", MASTER_PROFILE);
    let before = sb.snapshot();
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-user=65534", "--map-group=65534", "--mount"])
        .arg(format!("--root={}", sb.root.display()))
        .args(["/bootstrap", "apply", "--root", "/", "--profile", "/p.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("must run as root"), "{stderr}");
    assert!(stderr.contains("running as uid 65534"), "{stderr}");
    assert!(stderr.contains("--root DIR"), "{stderr}");
    sb.assert_unchanged(&before, "a refused apply changes nothing");
}

/// Copies `binary` to /bootstrap in the sandbox root with the shared libraries `ldd` names,
/// at their own paths, so that it runs chrooted there.
fn copy_with_libraries(sb: &Sandbox, binary: &std::path::Path) {
    std::fs::copy(binary, sb.path("/bootstrap")).unwrap();
    let ldd = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = sb.path(lib);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(lib, dest).unwrap();
    }
}
