//! Against the real containerd binary (Debian 12's, unpacked by tests/real-containerd.sh,
//! named by $BOOTSTRAP_REAL_CONTAINERD when the tests are built): its own `config default`,
//! edited by us, read back by `containerd config dump`; and the containerd stand-in's
//! `config dump` (used by every sandbox test) checked against the real one on drop-ins.
//! Without the binary these tests are compiled as ignored, and `cargo test` counts them so.

#![cfg_attr(not(real_containerd), allow(dead_code, unused_imports))]

use std::path::{Path, PathBuf};
use std::process::Command;

use bootstrap::formats::containerd_config::{self, Desired, RuntimeFacts, Schema};

#[cfg(real_containerd)]
fn binary() -> PathBuf {
    PathBuf::from(env!("REAL_CONTAINERD"))
}

#[cfg(not(real_containerd))]
fn binary() -> PathBuf {
    panic!("BOOTSTRAP_REAL_CONTAINERD was not set when the tests were built")
}

fn run(binary: &Path, args: &[&str]) -> String {
    let out = Command::new(binary).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "containerd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg_attr(
    not(real_containerd),
    ignore = "needs a real containerd binary: set BOOTSTRAP_REAL_CONTAINERD when building (bash tests/run.sh does)"
)]
fn real_containerd_reads_back_what_we_wrote() {
    let binary = binary();
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

/// (case, config.toml, drop-ins under /etc/containerd/conf.d as (name, text))
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const DROP_INS: [Case; 4] = [
    (
        "a drop-in replaces the whole CRI table",
        "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"registry.k8s.io/pause:3.10\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
        &[(
            "10-snapshotter.toml",
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"native\"\n",
        )],
    ),
    (
        "later drop-ins win, disabled_plugins are unioned",
        "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\ndisabled_plugins = [\"io.containerd.internal.v1.opt\"]\n",
        &[
            (
                "10-a.toml",
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
            ),
            (
                "20-b.toml",
                "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
            ),
        ],
    ),
    (
        "a relative import, a false that does not override",
        "version = 2\nimports = [\"conf.d/extra.toml\"]\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
        &[("extra.toml", "version = 2\n[debug]\n  level = \"debug\"\n")],
    ),
    (
        "no imports: the file over the defaults",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"example.com/pause:1\"\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/opt/cni/bin\"\n",
        &[],
    ),
];

/// What our verify reads from a dump.
fn read(dump: &str) -> (RuntimeFacts, String) {
    let facts = containerd_config::facts(dump).unwrap();
    let doc: toml::Table = toml::from_str(dump).unwrap();
    let bin_dir = doc
        .get("plugins")
        .and_then(|p| p.get("io.containerd.grpc.v1.cri"))
        .and_then(|c| c.get("cni"))
        .and_then(|c| c.get("bin_dir"))
        .map(ToString::to_string)
        .unwrap_or_default();
    (facts, bin_dir)
}

#[test]
#[cfg_attr(
    not(real_containerd),
    ignore = "needs a real containerd binary: set BOOTSTRAP_REAL_CONTAINERD when building (bash tests/run.sh does)"
)]
fn the_standin_config_dump_agrees_with_the_real_one() {
    let binary = binary();
    for (case, config, drop_ins) in DROP_INS {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc/containerd/conf.d")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/containerd"), "").unwrap();
        for (name, text) in drop_ins {
            std::fs::write(root.join("etc/containerd/conf.d").join(name), text).unwrap();
        }
        // The real one reads absolute imports from this machine: point them at the root.
        let real_config = config.replace(
            "\"/etc/containerd/",
            &format!("\"{}/etc/containerd/", root.display()),
        );
        std::fs::write(root.join("etc/containerd/config.toml"), &real_config).unwrap();
        let real = run(
            &binary,
            &[
                "--config",
                root.join("etc/containerd/config.toml").to_str().unwrap(),
                "config",
                "dump",
            ],
        );
        std::fs::write(root.join("etc/containerd/config.toml"), config).unwrap();
        let out = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/standins/containerd"
        ))
        .args(["config", "dump"])
        .env("SANDBOX_ROOT", &root)
        .env("STANDIN_LOG", "/dev/null")
        .env(
            "STANDIN_FIXTURES",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"),
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let standin = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            read(&standin),
            read(&real),
            "{case}:\n{standin}\n---- real:\n{real}"
        );
    }
}
