//! dpkg busy when apply starts: another process holds dpkg's lock the way apt does (an
//! fcntl write lock on /var/lib/dpkg/lock-frontend of the sandbox root). The packages step
//! waits for it with a progress message and runs apt-get once it is free; past
//! `packages.dpkg_lock_timeout` it fails naming the holder, having run no apt-get.

mod common;

use std::fs::File;
use std::time::{Duration, Instant};

use common::server::Server;
use common::{Out, Sandbox};
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

const LOCK: &str = "/var/lib/dpkg/lock-frontend";

/// This test process takes a write lock on the sandbox's dpkg lock, as apt's `GetLock`
/// does (fcntl F_SETLK, F_WRLCK, whole file). Closing the file releases it.
fn hold(sb: &Sandbox) -> File {
    sb.mkdir("/var/lib/dpkg");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sb.path(LOCK))
        .unwrap();
    // SAFETY: all-zero is a valid flock; the fields that matter are set.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    fcntl(&file, FcntlArg::F_SETLK(&lock)).unwrap();
    file
}

/// A node with ca-certificates and nothing else; the 1.31 repository key served.
fn node(timeout: &str) -> (Sandbox, Server, std::path::PathBuf) {
    let sb = Sandbox::new();
    sb.write("/.standin/dpkg-status", "ca-certificates\t20230311\tii \n");
    let server = Server::start();
    let mut key = vec![0x99, 0x01, 0x0d, 0x04];
    key.extend((0u8..200).map(|i| i.wrapping_mul(7)));
    server.put(
        "/core:/stable:/v1.31/deb/Release.key",
        bootstrap::formats::armor::armor(&key),
    );
    let profile = sb.profile(
        "p.toml",
        &format!(
            "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n\n[kubernetes]\nversion = \"1.31.4\"\n\n[packages]\nmethod = \"apt\"\ndpkg_lock_timeout = \"{timeout}\"\n{}",
            common::release::urls(&server.url())
        ),
    );
    (sb, server, profile)
}

fn apply(sb: &Sandbox, profile: &std::path::Path) -> Out {
    sb.json("apply", profile, &["--only", "packages"])
}

fn apt_gets(calls: &[String]) -> usize {
    calls.iter().filter(|c| c.starts_with("apt-get ")).count()
}

/// What the agent should call the holder: this process, by its name in /proc.
fn me() -> String {
    let name = std::fs::read_to_string("/proc/self/comm").unwrap();
    format!("process {} ({})", std::process::id(), name.trim_end())
}

#[test]
fn apply_waits_for_dpkg_lock_then_installs() {
    let (sb, _server, profile) = node("30s");
    let held = hold(&sb);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(held);
    });
    let start = Instant::now();
    let out = apply(&sb, &profile);
    let took = start.elapsed();
    release.join().unwrap();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        took >= Duration::from_millis(1400),
        "apply waited for the lock ({took:?})"
    );
    let message = format!(
        "waiting for {LOCK}, held by {} (another package manager)",
        me()
    );
    assert!(out.stderr.contains(&message), "{}", out.stderr);
    assert!(out.stderr.contains("of up to 30s"), "{}", out.stderr);
    let calls = sb.take_changing_calls();
    assert_eq!(apt_gets(&calls), 2, "update and install ran: {calls:?}");
}

#[test]
fn apply_fails_naming_the_holder_past_the_timeout_and_runs_no_apt_get() {
    let (sb, _server, profile) = node("1s");
    let _held = hold(&sb);
    let start = Instant::now();
    let out = apply(&sb, &profile);
    let took = start.elapsed();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        took >= Duration::from_secs(1),
        "waited the timeout ({took:?})"
    );
    assert!(took < Duration::from_secs(20), "not much longer ({took:?})");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(&format!(
            "{LOCK} is still held by {} after waiting 1s",
            me()
        )),
        "{all}"
    );
    assert!(all.contains("packages.dpkg_lock_timeout"), "{all}");
    let calls = sb.take_changing_calls();
    assert_eq!(
        apt_gets(&calls),
        0,
        "no apt-get while dpkg is locked: {calls:?}"
    );
}

#[test]
fn a_free_lock_file_is_no_wait() {
    let (sb, _server, profile) = node("1s");
    drop(hold(&sb));
    let out = apply(&sb, &profile);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("waiting for"), "{}", out.stderr);
}
