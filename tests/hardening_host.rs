//! The host layer under hostile conditions, against a sandbox root with the stand-ins:
//! paths and links that try to leave `--root`, a full disk (simulated through the
//! `BOOTSTRAP_TEST_ENOSPC` seam, which the agent honours only with a sandbox root), a kill
//! between a config write and the restart that makes it effective, Ctrl-C/SIGTERM while a
//! helper runs, and the modes, owners and attributes of what the agent writes.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{HOSTS, MASTER_PROFILE, Out, Sandbox};

const JOURNAL: &str = "/var/lib/bootstrap/journal.jsonl";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn apply(sb: &Sandbox, profile: &Path, env: &[(&str, &str)], extra: &[&str]) -> Out {
    let mut args = vec![
        "apply",
        "--output",
        "json",
        "--profile",
        profile.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sb.run_with_env(&args, env)
}

/// Every journal line is one whole JSON record.
fn assert_whole_lines(sb: &Sandbox) {
    let text = std::fs::read_to_string(sb.path(JOURNAL)).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("journal line is not a record ({e}): {line:?}"));
        assert!(record["action"].is_string(), "{line}");
    }
}

#[test]
fn directory_links_never_lead_outside_the_root() {
    let sb = Sandbox::new();
    let outside = sb.dir.path().join("outside");
    for dir in ["modules", "sysctl", "run"] {
        std::fs::create_dir_all(outside.join(dir)).unwrap();
    }
    let climb = "../".repeat(40);
    let rel = |d: &str| {
        format!(
            "{climb}{}",
            outside
                .join(d)
                .display()
                .to_string()
                .trim_start_matches('/')
        )
    };
    // An absolute link, a relative one climbing far above the root, and the lock's directory.
    symlink(outside.join("modules"), sb.path("/etc/modules-load.d")).unwrap();
    symlink(rel("sysctl"), sb.path("/etc/sysctl.d")).unwrap();
    // /run holds the lock; systemd's marker is there on both sides of the link.
    std::fs::remove_dir_all(sb.path("/run")).unwrap();
    symlink(outside.join("run"), sb.path("/run")).unwrap();
    let inside = sb.root.join(outside.strip_prefix("/").unwrap());
    for side in [&outside, &inside] {
        std::fs::create_dir_all(side.join("run/systemd/system")).unwrap();
    }
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = apply(&sb, &profile, &[], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for dir in ["modules", "sysctl", "run"] {
        let left: Vec<_> = std::fs::read_dir(outside.join(dir))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "systemd")
            .collect();
        assert!(
            left.is_empty(),
            "{dir}: the agent wrote outside the root: {left:?}"
        );
    }
    // The links resolve as under chroot: inside the root.
    assert!(inside.join("modules/bootstrap.conf").exists());
    assert!(inside.join("sysctl/99-bootstrap.conf").exists());
    assert!(inside.join("run/bootstrap.lock").exists());
    assert_eq!(apply(&sb, &profile, &[], &[]).summary()["changes"], 0);
}

#[test]
fn kernel_parameter_links_never_lead_outside_the_root() {
    for absolute in [true, false] {
        let sb = Sandbox::new();
        let outside = sb.dir.path().join("ip_forward");
        std::fs::write(&outside, "0\n").unwrap();
        let link = sb.path("/proc/sys/net/ipv4/ip_forward");
        std::fs::remove_file(&link).unwrap();
        if absolute {
            symlink(&outside, &link).unwrap();
        } else {
            let rel = format!(
                "{}{}",
                "../".repeat(40),
                outside.display().to_string().trim_start_matches('/')
            );
            symlink(rel, &link).unwrap();
        }
        let profile = sb.profile("p.toml", MASTER_PROFILE);
        let _ = apply(
            &sb,
            &profile,
            &[],
            &["--only", "modules", "--only", "sysctl"],
        );
        assert_eq!(
            std::fs::read_to_string(&outside).unwrap(),
            "0\n",
            "absolute={absolute}"
        );
    }
}

#[test]
fn the_lock_file_is_private_and_never_a_link() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    sb.write("/run/bootstrap.lock", "");
    std::fs::set_permissions(
        sb.path("/run/bootstrap.lock"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert_eq!(apply(&sb, &profile, &[], &["--only", "hosts"]).code, 0);
    assert_eq!(mode(&sb.path("/run/bootstrap.lock")), 0o600);

    let target = sb.dir.path().join("victim");
    std::fs::write(&target, "keep").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(sb.path("/run/bootstrap.lock")).unwrap();
    symlink(&target, sb.path("/run/bootstrap.lock")).unwrap();
    let out = apply(&sb, &profile, &[], &["--only", "hosts"]);
    assert_eq!(out.code, 1, "a linked lock file is refused: {}", out.stdout);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert_eq!(mode(&target), 0o644);
}

#[test]
fn a_full_disk_while_backing_up_leaves_no_truncated_backup() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let full = [("BOOTSTRAP_TEST_ENOSPC", "/var/lib/bootstrap/backups/:5")];
    let out = apply(&sb, &profile, &full, &["--only", "hosts"]);
    assert_eq!(out.status("hosts"), "failed", "{}", out.stdout);
    assert!(
        out.reason("hosts").contains("No space left on device"),
        "{}",
        out.reason("hosts")
    );
    assert_eq!(sb.read("/etc/hosts"), HOSTS, "nothing changed");
    let backups = sb.path("/var/lib/bootstrap/backups/etc");
    let names: Vec<_> = std::fs::read_dir(&backups)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        names.is_empty(),
        "no backup and no temporary file left: {names:?}"
    );
    // With space again, the backup is the whole original.
    assert_eq!(apply(&sb, &profile, &[], &["--only", "hosts"]).code, 0);
    assert_eq!(sb.read("/var/lib/bootstrap/backups/etc/hosts"), HOSTS);
    assert_eq!(mode(&sb.path("/var/lib/bootstrap/backups")), 0o700);
}

#[test]
fn a_full_disk_while_writing_leaves_the_old_file_whole() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let out = apply(
        &sb,
        &profile,
        &[("BOOTSTRAP_TEST_ENOSPC", "/etc/hosts:7")],
        &["--only", "hosts"],
    );
    assert_eq!(out.status("hosts"), "failed", "{}", out.stdout);
    assert_eq!(sb.read("/etc/hosts"), HOSTS);
    let left: Vec<String> = std::fs::read_dir(sb.path("/etc"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bootstrap"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn a_full_journal_changes_nothing_and_keeps_whole_lines() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    for free in ["0", "10", "60"] {
        let spec = format!("{JOURNAL}:{free}");
        let out = apply(
            &sb,
            &profile,
            &[("BOOTSTRAP_TEST_ENOSPC", &spec)],
            &["--only", "hosts"],
        );
        assert_eq!(out.status("hosts"), "failed", "free={free}: {}", out.stdout);
        assert!(
            out.reason("hosts").contains("journal"),
            "{}",
            out.reason("hosts")
        );
        assert_eq!(
            sb.read("/etc/hosts"),
            HOSTS,
            "not journaled, so not changed"
        );
        assert_whole_lines(&sb);
    }
    let out = apply(&sb, &profile, &[], &["--only", "hosts"]);
    assert_eq!(out.status("hosts"), "changed");
    assert_whole_lines(&sb);
}

#[test]
fn a_partial_journal_line_from_a_crash_is_not_glued_to_the_next() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    sb.write(JOURNAL, "{\"time\":1,\"step\":\"hosts\",\"action\":\"write\",\"target\":\"/etc/hosts\"}\n{\"time\":2,\"st");
    assert_eq!(apply(&sb, &profile, &[], &[]).code, 0);
    assert_whole_lines(&sb);
    assert!(
        sb.read(JOURNAL).starts_with("{\"time\":1,"),
        "whole records are kept"
    );
}

/// A `systemctl` that kills the agent (as a power cut would) when asked to run `verb`.
fn systemctl_killing_on(sb: &Sandbox) {
    std::fs::rename(sb.bin.join("systemctl"), sb.bin.join("systemctl-standin")).unwrap();
    let wrapper = "#!/bin/sh\nif [ -n \"$KILL_ON\" ] && [ \"$1\" = \"$KILL_ON\" ]; then echo \"systemctl $* (agent killed)\" >> \"$STANDIN_LOG\"; kill -9 \"$PPID\"; exit 137; fi\nexec \"$(dirname \"$0\")/systemctl-standin\" \"$@\"\n";
    std::fs::write(sb.bin.join("systemctl"), wrapper).unwrap();
    std::fs::set_permissions(
        sb.bin.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

#[test]
fn a_kill_before_the_restart_is_repaired_by_the_next_run() {
    for (verb, step, command) in [
        ("restart", "containerd", "systemctl restart containerd"),
        ("daemon-reload", "swap", "systemctl daemon-reload"),
    ] {
        let sb = Sandbox::new();
        systemctl_killing_on(&sb);
        let profile = sb.profile("p.toml", MASTER_PROFILE);
        let killed = apply(&sb, &profile, &[("KILL_ON", verb)], &[]);
        assert_ne!(killed.code, 0, "{verb}: the agent was killed");
        sb.take_calls();
        let plan = sb.json("plan", &profile, &[]);
        assert_eq!(
            plan.status(step),
            "pending",
            "{verb}: the owed {command} is shown: {}",
            plan.stdout
        );
        let rerun = apply(&sb, &profile, &[], &[]);
        assert_eq!(rerun.code, 0, "{}", rerun.stdout);
        assert_eq!(rerun.status(step), "changed", "{verb}: {}", rerun.stdout);
        assert!(
            sb.take_changing_calls().iter().any(|c| c == command),
            "{verb}"
        );
        let again = apply(&sb, &profile, &[], &[]);
        assert_eq!(again.summary()["changes"], 0, "{verb}: {}", again.stdout);
    }
}

/// A `modprobe` that notes its pid, notes the signals it gets, and otherwise sleeps.
fn slow_modprobe(sb: &Sandbox) -> std::path::PathBuf {
    let marker = sb.dir.path().join("helper.log");
    let m = marker.display();
    let script = format!(
        "#!/bin/sh\ntrap 'echo TERM >> {m}; exit 143' TERM\ntrap 'echo INT >> {m}; exit 130' INT\necho \"pid $$\" >> {m}\nsleep 30 &\nwait $!\nwait $!\n"
    );
    std::fs::write(sb.bin.join("modprobe"), script).unwrap();
    std::fs::set_permissions(
        sb.bin.join("modprobe"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    marker
}

#[test]
fn a_signal_is_forwarded_to_the_helper_and_waited_for() {
    use nix::sys::signal::{Signal, kill};
    for (signal, word) in [(Signal::SIGTERM, "TERM"), (Signal::SIGINT, "INT")] {
        let sb = Sandbox::new();
        let marker = slow_modprobe(&sb);
        let profile = sb.profile("p.toml", MASTER_PROFILE);
        let mut agent = sb
            .command()
            .args([
                "apply",
                "--output",
                "json",
                "--only",
                "modules",
                "--profile",
                profile.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .contains("pid ")
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the helper never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let helper: i32 = std::fs::read_to_string(&marker).unwrap().trim()["pid ".len()..]
            .parse()
            .unwrap();
        kill(nix::unistd::Pid::from_raw(agent.id() as i32), signal).unwrap();
        let status = loop {
            if let Some(status) = agent.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(25),
                "the agent did not end"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let seen = std::fs::read_to_string(&marker).unwrap();
        let _ = kill(nix::unistd::Pid::from_raw(helper), Signal::SIGKILL);
        assert!(
            seen.contains(word),
            "{word} forwarded to the helper: {seen:?}"
        );
        assert_eq!(
            status.signal(),
            Some(signal as i32),
            "the agent dies of the same signal"
        );
        assert!(
            kill(nix::unistd::Pid::from_raw(helper), None).is_err(),
            "the helper is gone"
        );
        let journal = sb.read(JOURNAL);
        assert!(
            journal.contains("\"action\":\"interrupted\"")
                && journal.contains("modprobe -- br_netfilter"),
            "{journal}"
        );
    }
}

#[test]
fn written_files_keep_their_extended_attributes() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    xattr::set(sb.path("/etc/hosts"), "user.origin", b"image-builder").unwrap();
    assert_eq!(
        apply(&sb, &profile, &[], &["--only", "hosts"]).status("hosts"),
        "changed"
    );
    assert_ne!(sb.read("/etc/hosts"), HOSTS);
    assert_eq!(
        xattr::get(sb.path("/etc/hosts"), "user.origin")
            .unwrap()
            .as_deref(),
        Some(&b"image-builder"[..])
    );
}

#[test]
fn created_directories_do_not_follow_the_umask() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let mut command = std::process::Command::new("sh");
    command.args(["-c", "umask 077; exec \"$@\"", "sh"]);
    let inner = sb.command();
    command.arg(inner.get_program());
    command.args(inner.get_args());
    command.args([
        "apply",
        "--output",
        "json",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => command.env(k, v),
            None => command.env_remove(k),
        };
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(mode(&sb.path("/etc/modules-load.d")), 0o755);
    assert_eq!(mode(&sb.path("/etc/sysctl.d")), 0o755);
    assert_eq!(mode(&sb.path("/var/lib/bootstrap")), 0o700);
    assert_eq!(mode(&sb.path("/var/lib")), 0o755);
}

/// A container's /etc/hosts is a file bind-mounted onto itself: it cannot be renamed over
/// (EBUSY), so it is written in place. The bind mount lives in a private mount namespace of
/// the test (`unshare`), never on this machine.
#[test]
fn a_bind_mounted_file_is_written_in_place() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    let source = sb.dir.path().join("hosts-of-the-container");
    std::fs::write(&source, HOSTS).unwrap();
    let inner = sb.command();
    let mut command = std::process::Command::new("unshare");
    if !nix::unistd::geteuid().is_root() {
        command.arg("--map-root-user");
    }
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$0\" \"$1\" && shift && exec \"$@\"")
        .arg(&source)
        .arg(sb.path("/etc/hosts"))
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(["apply", "--output", "json", "--only", "hosts", "--profile"])
        .arg(&profile);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => command.env(k, v),
            None => command.env_remove(k),
        };
    }
    let out = command
        .output()
        .expect("unshare(1) from util-linux runs this test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"status\":\"changed\""), "{stdout}");
    let written = std::fs::read_to_string(&source).unwrap();
    assert!(written.contains("192.168.33.14 worker-1\n"), "{written}");
    assert!(written.starts_with("127.0.0.1\tlocalhost\n"), "{written}");
}

#[test]
fn apply_output_tells_made_failed_and_not_attempted_changes_apart() {
    let mut sb = Sandbox::new();
    let profile = sb.profile("p.toml", MASTER_PROFILE);
    sb.fail = "swapoff".into();
    let out = sb.json("apply", &profile, &["--only", "swap"]);
    assert_eq!(out.status("swap"), "failed", "{}", out.stdout);
    let outcomes: Vec<(String, String)> = out
        .events()
        .into_iter()
        .filter(|e| e["event"] == "change" && e["step"] == "swap")
        .map(|e| {
            (
                e["summary"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(outcomes.len() > 2, "{outcomes:?}");
    assert_eq!(outcomes[0].1, "failed", "{outcomes:?}");
    assert!(
        outcomes[1..].iter().all(|(_, o)| o == "not_attempted"),
        "{outcomes:?}"
    );
    let human = sb.run(&[
        "apply",
        "--only",
        "swap",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    assert!(
        human
            .stdout
            .contains("  x turn off swap on /swapfile (file) (failed)"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(" (not attempted)"),
        "{}",
        human.stdout
    );
    assert!(
        !human.stdout.contains("  + "),
        "nothing was made: {}",
        human.stdout
    );

    // The change made before a failure is marked made.
    sb.fail = "modprobe".into();
    let out = sb.json("apply", &profile, &["--only", "modules"]);
    let outcomes: Vec<String> = out
        .events()
        .into_iter()
        .filter(|e| e["event"] == "change" && e["step"] == "modules")
        .map(|e| e["outcome"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(outcomes, ["done", "failed"], "{}", out.stdout);
    sb.fail.clear();
    let out = sb.json("apply", &profile, &["--only", "swap"]);
    assert!(
        out.events()
            .iter()
            .filter(|e| e["event"] == "change")
            .all(|e| e["outcome"] == "done"),
        "{}",
        out.stdout
    );
}
