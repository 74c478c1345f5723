//! A sysctl the kernel does not have (under the --root's /proc/sys, once the profile's
//! modules are loaded) is reported with the closest existing key and never written to our
//! sysctl.d file: a warning in plan and check, an error in apply.

mod common;

use common::Sandbox;

const FILE: &str = "/etc/sysctl.d/99-bootstrap.conf";

fn profile(sb: &Sandbox, sysctl: &str) -> std::path::PathBuf {
    sb.profile(
        "p.toml",
        &format!(
            "[node]\nname = \"n1\"\nrole = \"worker\"\naddress = \"10.0.2.15\"\n[sysctl]\n{sysctl}"
        ),
    )
}

/// A node whose kernel also has vm.max_map_count and a vlan interface's forwarding.
fn node() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("/proc/sys/vm/max_map_count", "65530\n");
    sb.write("/proc/sys/net/ipv4/conf/eth0.100/forwarding", "0\n");
    sb
}

#[test]
fn a_misspelt_key_is_warned_in_plan_with_the_closest_key_and_left_out_of_the_file() {
    let sb = node();
    for written in ["\"net.ipv4.ip_fowrard\" = 1", "\"net/ipv4/ip_fowrard\" = 1"] {
        let p = profile(&sb, &format!("{written}\nvm.max_map_count = 262144\n"));
        let out = sb.json("plan", &p, &["--only", "modules", "--only", "sysctl"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let warnings = out.notes("warning");
        let typo: Vec<&String> = warnings
            .iter()
            .filter(|w| w.contains("ip_fowrard"))
            .collect();
        assert_eq!(typo.len(), 1, "{warnings:?}");
        assert!(
            typo[0].contains("did you mean `net.ipv4.ip_forward`?"),
            "{}",
            typo[0]
        );
        assert!(
            typo[0].contains("/proc/sys/net/ipv4/ip_fowrard does not exist"),
            "{}",
            typo[0]
        );
        // The bridge keys appear once br_netfilter (listed, not loaded yet) loads: not flagged.
        assert!(
            !warnings.iter().any(|w| w.contains("net.bridge")),
            "{warnings:?}"
        );
        assert!(
            !out.stdout.contains("+net.ipv4.ip_fowrard"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("+vm.max_map_count = 262144"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout
                .contains("+net.bridge.bridge-nf-call-iptables = 1"),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn apply_refuses_a_misspelt_key_and_writes_nothing_of_the_step() {
    let sb = node();
    let p = profile(&sb, "\"net.ipv4.ip_fowrard\" = 1\n");
    let out = sb.json("apply", &p, &["--only", "modules", "--only", "sysctl"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.status("modules"), "changed", "{}", out.stdout);
    assert_eq!(out.status("sysctl"), "failed", "{}", out.stdout);
    let reason = out.reason("sysctl");
    assert!(
        reason.contains("did you mean `net.ipv4.ip_forward`?"),
        "{reason}"
    );
    assert!(!sb.path(FILE).exists(), "nothing written");
    assert_eq!(sb.read("/proc/sys/net/ipv4/ip_forward"), "0\n");
    // Fixed, it applies; the module's keys exist by then (modules ran first).
    let p = profile(&sb, "\"net.ipv4.ip_forward\" = 1\n");
    let out = sb.json("apply", &p, &["--only", "modules", "--only", "sysctl"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.notes("warning").is_empty(),
        "{:?}",
        out.notes("warning")
    );
}

#[test]
fn a_typo_in_a_loaded_modules_keys_is_flagged_and_an_unlisted_module_is_named() {
    let sb = node();
    sb.write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
    sb.write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1\n");
    let p = profile(&sb, "\"net.bridge.bridge-nf-call-iptable\" = 1\n");
    let out = sb.json("plan", &p, &["--only", "sysctl"]);
    let warnings = out.notes("warning");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("did you mean `net.bridge.bridge-nf-call-iptables`?")),
        "{warnings:?}"
    );
    // ip_vs is not listed: its keys are unknown on this node, with no near key.
    let p = profile(&sb, "\"net.ipv4.vs.conntrack\" = 1\n");
    let warnings = sb.json("plan", &p, &["--only", "sysctl"]).notes("warning");
    assert!(
        warnings.iter().any(|w| w.contains("net.ipv4.vs.conntrack")
            && w.contains("add the module that provides it to modules.load")),
        "{warnings:?}"
    );
    // Listed in modules.load and not loaded yet: waits for it.
    let p = sb.profile(
        "vs.toml",
        "[node]\nname = \"n1\"\nrole = \"worker\"\naddress = \"10.0.2.15\"\n[modules]\nload = [\"overlay\", \"br_netfilter\", \"ip_vs\"]\n[sysctl]\n\"net.ipv4.vs.conntrack\" = 1\n",
    );
    let warnings = sb.json("plan", &p, &["--only", "sysctl"]).notes("warning");
    assert!(
        !warnings.iter().any(|w| w.contains("vs.conntrack")),
        "{warnings:?}"
    );
}

#[test]
fn hostile_keys_are_reported_without_escaping_proc_sys() {
    let sb = node();
    // A directory is not a parameter; a vlan interface's dotted name is one.
    let p = profile(
        &sb,
        "\"net.ipv4\" = 1\n\"net.ipv4.conf.eth0/100.forwarding\" = 1\n",
    );
    let out = sb.json("plan", &p, &["--only", "sysctl"]);
    let warnings = out.notes("warning");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("is a group of parameters")),
        "{warnings:?}"
    );
    assert!(!warnings.iter().any(|w| w.contains("eth0")), "{warnings:?}");
    assert!(
        out.stdout
            .contains("+net.ipv4.conf.eth0/100.forwarding = 1"),
        "{}",
        out.stdout
    );
    // Very long keys: reported, no suggestion computed, no crash.
    let long = format!("\"net.{}\" = 1\n", "a".repeat(5000));
    let out = sb.json("plan", &profile(&sb, &long), &["--only", "sysctl"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let warnings = out.notes("warning");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("check the name with `sysctl -a`")),
        "{warnings:?}"
    );
    // `..` never reaches /proc/sys, in either spelling: the profile is refused first.
    sb.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    for key in [
        "net/../../../etc/passwd",
        "net.//.//.//.etc.passwd",
        "net/./ipv4/ip_forward",
        "net//ipv4",
    ] {
        let out = sb.json("plan", &profile(&sb, &format!("\"{key}\" = 1\n")), &[]);
        assert_eq!(out.code, 1, "{key}: {}", out.stdout);
        assert!(
            out.stdout.contains("invalid sysctl key"),
            "{key}: {}",
            out.stdout
        );
    }
    assert_eq!(sb.read("/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
}
