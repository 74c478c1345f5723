//! The command line: example profiles, `profile show`, `--version`, completions.

mod common;

use common::Sandbox;

fn examples() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_profile_is_valid_and_shows_round_trip() {
    let sb = Sandbox::new();
    let files = examples();
    assert!(
        files.len() >= 4,
        "single-node, master and two workers at least"
    );
    for file in files {
        let path = file.to_str().unwrap();
        let out = sb.run(&["profile", "validate", path]);
        assert_eq!(out.code, 0, "{path}: {}", out.stderr);
        let shown = sb.run(&["profile", "show", path]);
        assert_eq!(shown.code, 0, "{path}");
        assert!(shown.stdout.contains("[node]"));
        let again = sb.profile("shown.toml", &shown.stdout);
        let reshown = sb.run(&["profile", "show", again.to_str().unwrap()]);
        assert_eq!(
            reshown.stdout, shown.stdout,
            "{path}: show output is a valid profile"
        );
    }
}

#[test]
fn the_vagrant_layout_uses_virtualbox_host_only_addresses() {
    let sb = Sandbox::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    for (file, address) in [
        ("vagrant-master.toml", "192.168.56.13"),
        ("vagrant-worker-1.toml", "192.168.56.14"),
        ("vagrant-worker-2.toml", "192.168.56.15"),
    ] {
        let out = sb.json("plan", &dir.join(file), &["--only", "hosts"]);
        assert_eq!(out.code, 2, "{file}");
        let diff = out.stdout;
        for a in ["192.168.56.13", "192.168.56.14", "192.168.56.15"] {
            assert!(diff.contains(&format!("+{a} ")), "{file} lacks {a}");
        }
        assert!(diff.contains(&format!("+{address} ")));
    }
}

#[test]
fn show_fills_in_defaults() {
    let sb = Sandbox::new();
    let minimal = sb.profile("m.toml", "[node]\nname = \"n\"\nrole = \"worker\"\n");
    let out = sb.run(&["profile", "show", minimal.to_str().unwrap()]);
    assert_eq!(out.code, 0);
    for want in [
        "address = \"auto\"",
        "load = [\n    \"overlay\",\n    \"br_netfilter\",\n]",
        "\"net.ipv4.ip_forward\" = \"1\"",
        "policy = \"off\"",
    ] {
        assert!(
            out.stdout.contains(want),
            "missing {want:?} in\n{}",
            out.stdout
        );
    }
}

#[test]
fn version_and_completions() {
    let sb = Sandbox::new();
    let out = sb.run(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("bootstrap "));
    for shell in ["bash", "zsh", "fish"] {
        let out = sb.run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}");
        assert!(out.stdout.contains("apply"), "{shell}");
    }
}

#[test]
fn the_cloud_init_example_carries_a_valid_profile_and_runs_the_binary_it_installs() {
    let sb = Sandbox::new();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cloud-init/user-data.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("#cloud-config\n"));
    let profile: String = text
        .lines()
        .skip_while(|l| !l.trim_end().ends_with("content: |"))
        .skip(1)
        .take_while(|l| l.starts_with("      ") || l.is_empty())
        .map(|l| format!("{}\n", l.get(6..).unwrap_or("")))
        .collect();
    let file = sb.profile("cloud-init.toml", &profile);
    let out = sb.run(&["profile", "validate", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{profile}\n{}", out.stderr);
    // As cloud-init reads it (YAML): write_files puts the profile where runcmd's apply
    // reads it, and an earlier runcmd entry writes an executable file at the path that
    // apply runs (the VM tier swaps that entry, marked `bootstrap-binary`, for a copy).
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let written = doc["write_files"][0]["path"].as_str().unwrap();
    let runcmd: Vec<&str> = doc["runcmd"]
        .as_sequence()
        .expect("a runcmd list")
        .iter()
        .map(|c| c.as_str().expect("runcmd entries are shell strings"))
        .collect();
    let apply = runcmd
        .iter()
        .position(|c| c.contains(" apply --profile "))
        .expect("a runcmd entry runs apply");
    let binary = runcmd[apply].split_whitespace().next().unwrap();
    assert_eq!(
        runcmd[apply].split_whitespace().nth(3),
        Some(written),
        "apply reads the profile write_files wrote"
    );
    let install = runcmd[..apply]
        .iter()
        .find(|c| c.contains(&format!(" {binary}.download {binary};")))
        .unwrap_or_else(|| panic!("no runcmd entry before apply moves a checked file to {binary}"));
    assert!(
        text.lines()
            .any(|l| l.contains("# bootstrap-binary") && l.contains(install)),
        "the install entry is the line the VM tier swaps"
    );
    assert!(
        install.contains(&format!("chmod 0755 {binary}.download")),
        "{install}"
    );
}
