//! Against the real containerd binary: its own `config default`, edited by us, read back by
//! `containerd config dump`. The binary comes from $BOOTSTRAP_REAL_CONTAINERD (CI extracts
//! Debian 12's package there) or PATH; without it the test says loudly that it was skipped.

use std::path::PathBuf;
use std::process::Command;

use bootstrap::formats::containerd_config::{self, Desired, Schema};

fn real_containerd() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BOOTSTRAP_REAL_CONTAINERD") {
        return Some(PathBuf::from(path));
    }
    let out = Command::new("sh")
        .args(["-c", "command -v containerd"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn run(binary: &PathBuf, args: &[&str]) -> String {
    let out = Command::new(binary).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "containerd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn real_containerd_reads_back_what_we_wrote() {
    let Some(binary) = real_containerd() else {
        eprintln!(
            "\n*** SKIPPED real containerd test: no containerd binary (set BOOTSTRAP_REAL_CONTAINERD or install containerd) ***\n"
        );
        return;
    };
    let version = run(&binary, &["--version"]);
    eprintln!("real containerd: {}", version.trim());
    let default = run(&binary, &["config", "default"]);
    let before = containerd_config::facts(&default).unwrap();
    assert_eq!(
        before.systemd_cgroup,
        Some(false),
        "containerd's own default is cgroupfs"
    );
    let want = Desired {
        systemd_cgroup: true,
        sandbox_image: Some("registry.k8s.io/pause:3.10".into()),
        cni_bin_dir: "/opt/cni/bin".into(),
        registry_config_path: Some("/etc/containerd/certs.d".into()),
    };
    let edited = containerd_config::edit(&default, &want).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &edited).unwrap();
    let dump = run(
        &binary,
        &["--config", path.to_str().unwrap(), "config", "dump"],
    );
    let after = containerd_config::facts(&dump).unwrap();
    assert!(matches!(after.schema, Schema::V2 | Schema::V3 { .. }));
    assert_eq!(
        after.systemd_cgroup,
        Some(true),
        "SystemdCgroup landed in the table containerd reads"
    );
    assert_eq!(
        after.sandbox_image.as_deref(),
        Some("registry.k8s.io/pause:3.10")
    );
    assert!(after.cri_disabled.is_empty());
    assert!(
        dump.contains("config_path = \"/etc/containerd/certs.d\"")
            || dump.contains("config_path = '/etc/containerd/certs.d'")
    );
    // The package's own minimal config, edited, is accepted too.
    let debian = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/containerd/v2-debian12-package.toml"
    ))
    .unwrap();
    std::fs::write(&path, containerd_config::edit(&debian, &want).unwrap()).unwrap();
    let dump = run(
        &binary,
        &["--config", path.to_str().unwrap(), "config", "dump"],
    );
    assert_eq!(
        containerd_config::facts(&dump).unwrap().systemd_cgroup,
        Some(true)
    );
}
