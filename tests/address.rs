//! The node address under a `--root` other than `/`: `address = "auto"` and
//! `{ interface = … }` are read from that root's `/proc/net`, never from this machine (whose
//! `ip` the stand-in plays here, answering eth1 = 192.168.33.13); a root without those files
//! needs a literal address.

mod common;

use common::Sandbox;

#[test]
fn addresses_under_a_root_come_from_the_root_not_this_machine() {
    let sb = Sandbox::new();
    // The root's eth1 is 192.168.50.7/24; this machine's (the `ip` stand-in's) is .33.13.
    sb.write(
        "/proc/net/route",
        &common::PROC_NET_ROUTE.replace("0021A8C0", "0032A8C0"),
    );
    sb.write(
        "/proc/net/fib_trie",
        &common::PROC_NET_FIB_TRIE
            .replace("192.168.33.0/24", "192.168.50.0/24")
            .replace("192.168.33.13", "192.168.50.7"),
    );
    let by_if = sb.profile(
        "if.toml",
        "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = { interface = \"eth1\" }\n",
    );
    let out = sb.json("plan", &by_if, &["--only", "hosts"]);
    assert!(
        out.stdout.contains("+192.168.50.7 master"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("192.168.33.13 master"),
        "{}",
        out.stdout
    );
    assert!(
        !sb.take_calls().iter().any(|c| c.starts_with("ip ")),
        "this machine's interfaces were not asked"
    );

    for file in ["route", "fib_trie", "ipv6_route", "if_inet6"] {
        std::fs::remove_file(sb.path(&format!("/proc/net/{file}"))).unwrap();
    }
    let auto = sb.profile("auto.toml", "[node]\nname = \"n1\"\nrole = \"worker\"\n");
    let out = sb.run(&["plan", "--profile", auto.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("node.address"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("set node.address to the node's literal address"),
        "{}",
        out.stderr
    );
}
