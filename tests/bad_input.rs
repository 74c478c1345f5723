//! Bad profiles: each gets a located message (file:line:col, key, expectation, fix), exit 1,
//! and the sandbox node is left exactly as it was.

mod common;

use common::Sandbox;

const NODE: &str =
    "[node]\nname = \"master\"\nrole = \"control-plane\"\naddress = \"192.168.33.13\"\n";

const WORKER: &str =
    "[node]\nname = \"worker-1\"\nrole = \"worker\"\naddress = \"192.168.33.14\"\n";

const K8S: &str = "[kubernetes]\nversion = \"1.35.2\"\n";

/// (case name, profile text, `line:col: key` of the problem, substrings the error must
/// contain)
fn cases() -> Vec<(&'static str, String, &'static str, Vec<&'static str>)> {
    let with = |extra: &str| format!("{NODE}{extra}");
    vec![
        (
            "unterminated string",
            "[node]\nname = \"master\nrole = \"worker\"\n".into(),
            "2:15: node.name",
            vec!["p.toml:2:", "TOML syntax error", "help:"],
        ),
        (
            "unclosed table header",
            "[node\nname = \"m\"\n".into(),
            "1:6: node",
            vec!["p.toml:1:", "TOML syntax error"],
        ),
        (
            "duplicate key",
            "[node]\nname = \"a\"\nname = \"b\"\nrole = \"worker\"\n".into(),
            "3:1: node.name",
            vec!["p.toml:3:", "duplicate key"],
        ),
        (
            "unknown key with suggestion",
            "[node]\nnmae = \"m\"\nrole = \"worker\"\n".into(),
            "2:1: node.nmae",
            vec![
                "p.toml:2:1: node.nmae: unknown key `nmae`",
                "expected: one of: name, role, address",
                "did you mean `name`?",
            ],
        ),
        (
            "unknown section",
            with("[swapp]\npolicy = \"off\"\n"),
            "5:2: swapp",
            vec!["p.toml:5:", "unknown key `swapp`", "did you mean `swap`?"],
        ),
        (
            "unknown hosts key",
            with("[hosts]\nremove_name = [\"x\"]\n"),
            "6:1: hosts.remove_name",
            vec![
                "p.toml:6:1: hosts.remove_name",
                "did you mean `remove_names`?",
            ],
        ),
        (
            "unknown entry key",
            with("[hosts]\nentries = [{ adress = \"1.2.3.4\", names = [\"a\"] }]\n"),
            "6:14: hosts.entries[0].adress",
            vec![
                "p.toml:6:",
                "unknown key `adress`",
                "did you mean `address`?",
            ],
        ),
        (
            "wrong type for name",
            "[node]\nname = 5\nrole = \"worker\"\n".into(),
            "2:8: node.name",
            vec![
                "p.toml:2:8: node.name: wrong type: found integer `5`",
                "expected: a string",
            ],
        ),
        (
            "string instead of list",
            with("[modules]\nload = \"overlay\"\n"),
            "6:8: modules.load",
            vec![
                "p.toml:6:8: modules.load: wrong type",
                "expected: a sequence",
            ],
        ),
        (
            "names not a list",
            with("[hosts]\nentries = [{ address = \"1.2.3.4\", names = \"a\" }]\n"),
            "6:43: hosts.entries[0].names",
            vec!["p.toml:6:", "hosts.entries[0].names", "wrong type"],
        ),
        (
            "invalid node address",
            "[node]\nname = \"m\"\nrole = \"worker\"\naddress = \"192.168.33.300\"\n".into(),
            "4:11: node.address",
            vec![
                "p.toml:4:11: node.address: invalid address `192.168.33.300`",
                "expected: an IP address such as \"192.168.33.13\"",
            ],
        ),
        (
            "invalid hosts address",
            with("[hosts]\nentries = [{ address = \"10.0.0\", names = [\"a\"] }]\n"),
            "6:24: hosts.entries[0].address",
            vec![
                "p.toml:6:",
                "hosts.entries[0].address",
                "invalid IP address `10.0.0`",
                "expected: an IPv4 or IPv6 address",
            ],
        ),
        (
            "address table with wrong key",
            "[node]\nname = \"m\"\nrole = \"worker\"\naddress = { iface = \"eth1\" }\n".into(),
            "4:21: node.address.iface",
            vec![
                "p.toml:4:",
                "unknown key `iface`",
                "did you mean `interface`?",
            ],
        ),
        (
            "invalid interface name",
            "[node]\nname = \"m\"\nrole = \"worker\"\naddress = { interface = \"eth 1\" }\n".into(),
            "4:25: node.address.interface",
            vec![
                "p.toml:4:",
                "node.address.interface",
                "invalid interface name `eth 1`",
                "ip -br link",
            ],
        ),
        (
            "missing node section",
            "[swap]\npolicy = \"off\"\n".into(),
            "1:1: node",
            vec!["missing required key `node`", "help: add a [node] section"],
        ),
        (
            "missing role",
            "[node]\nname = \"m\"\n".into(),
            "1:1: node.role",
            vec![
                "p.toml:1:",
                "node.role: missing required key `role`",
                "add `role = ...`",
            ],
        ),
        (
            "role master",
            "[node]\nname = \"m\"\nrole = \"master\"\n".into(),
            "3:8: node.role",
            vec![
                "p.toml:3:8: node.role: unknown value `master`",
                "expected: one of: control-plane, worker",
                "did you mean \"control-plane\"?",
            ],
        ),
        (
            "role typo",
            "[node]\nname = \"m\"\nrole = \"wroker\"\n".into(),
            "3:8: node.role",
            vec!["unknown value `wroker`", "did you mean \"worker\"?"],
        ),
        (
            "uppercase node name",
            "[node]\nname = \"Master\"\nrole = \"worker\"\n".into(),
            "2:8: node.name",
            vec![
                "p.toml:2:8: node.name: invalid node name `Master`: it contains `M`",
                "expected: a lowercase RFC 1123 name",
                "use \"master\"",
            ],
        ),
        (
            "underscore node name",
            "[node]\nname = \"worker_1\"\nrole = \"worker\"\n".into(),
            "2:8: node.name",
            vec!["invalid node name `worker_1`", "use \"worker-1\""],
        ),
        (
            "label too long",
            format!("[node]\nname = \"{}\"\nrole = \"worker\"\n", "a".repeat(64)),
            "2:8: node.name",
            vec!["longer than 63 characters"],
        ),
        (
            "bad host name",
            with("[hosts]\nentries = [{ address = \"1.2.3.4\", names = [\"bad_name!\"] }]\n"),
            "6:44: hosts.entries[0].names[0]",
            vec!["hosts.entries[0].names[0]", "invalid host name `bad_name!`"],
        ),
        (
            "empty names",
            with("[hosts]\nentries = [{ address = \"1.2.3.4\", names = [] }]\n"),
            "6:43: hosts.entries[0].names",
            vec!["hosts.entries[0].names", "needs at least one name"],
        ),
        (
            "name mapped twice",
            with(
                "[hosts]\nentries = [\n  { address = \"10.0.0.1\", names = [\"db\"] },\n  { address = \"10.0.0.2\", names = [\"db\"] },\n]\n",
            ),
            "8:36: hosts.entries[1].names[0]",
            vec![
                "p.toml:8:",
                "hosts.entries[1].names[0]",
                "`db` is mapped to 10.0.0.2 here but to 10.0.0.1 by hosts.entries[0]",
            ],
        ),
        (
            "node name removed",
            with("[hosts]\nremove_names = [\"master\"]\n"),
            "6:17: hosts.remove_names[0]",
            vec![
                "p.toml:6:17: hosts.remove_names[0]",
                "both a name to remove and a name this profile maps",
            ],
        ),
        (
            "node name elsewhere",
            with("[hosts]\nentries = [{ address = \"10.0.0.9\", names = [\"master\"] }]\n"),
            "6:45: hosts.entries[0].names[0]",
            vec!["`master` is mapped to 10.0.0.9 here but to 192.168.33.13 by node.address"],
        ),
        (
            "bad module name",
            with("[modules]\nload = [\"overlay\", \"br netfilter\"]\n"),
            "6:20: modules.load[1]",
            vec![
                "p.toml:6:20: modules.load[1]",
                "invalid module name `br netfilter`",
            ],
        ),
        (
            "bridge sysctl without module",
            with("[modules]\nload = [\"overlay\"]\n"),
            "6:8: modules.load",
            vec![
                "exist only when br_netfilter is loaded",
                "add \"br_netfilter\" to modules.load",
            ],
        ),
        (
            "sysctl array value",
            with("[sysctl]\n\"net.ipv4.ip_local_port_range\" = [32768, 60999]\n"),
            "6:34: sysctl.\"net.ipv4.ip_local_port_range\"",
            vec![
                "p.toml:6:",
                "invalid value for sysctl `net.ipv4.ip_local_port_range`",
                "a number or a string",
            ],
        ),
        (
            "sysctl float value",
            with("[sysctl]\nvm.swappiness = 0.5\n"),
            "6:17: sysctl.vm.swappiness",
            vec!["invalid value for sysctl", "a number or a string"],
        ),
        (
            "sysctl bad key",
            with("[sysctl]\n\"net..ipv4\" = 1\n"),
            "6:15: sysctl.\"net..ipv4\"",
            vec!["p.toml:6:", "invalid sysctl key `net..ipv4`"],
        ),
        (
            "sysctl empty value",
            with("[sysctl]\n\"vm.swappiness\" = \"\"\n"),
            "6:19: sysctl.\"vm.swappiness\"",
            vec![
                "p.toml:6:",
                "invalid value for sysctl `vm.swappiness`",
                "non-empty",
            ],
        ),
        (
            "swap policy",
            with("[swap]\npolicy = \"disabled\"\n"),
            "6:10: swap.policy",
            vec![
                "p.toml:6:10: swap.policy: unknown value `disabled`",
                "one of: off, keep",
            ],
        ),
        (
            "short version",
            with("[kubernetes]\nversion = \"1.31\"\n"),
            "6:11: kubernetes.version",
            vec![
                "p.toml:6:11: kubernetes.version: invalid Kubernetes version `1.31`",
                "MAJOR.MINOR.PATCH",
            ],
        ),
        (
            "version word",
            with("[kubernetes]\nversion = \"latest\"\n"),
            "6:11: kubernetes.version",
            vec!["invalid Kubernetes version `latest`"],
        ),
        (
            "cgroup driver typo",
            with("[kubernetes]\nversion = \"1.35.2\"\ncgroup_driver = \"system\"\n"),
            "7:17: kubernetes.cgroup_driver",
            vec![
                "kubernetes.cgroup_driver: unknown value `system`",
                "did you mean \"systemd\"?",
            ],
        ),
        (
            "unknown packages method",
            with("[packages]\nmethod = \"binaries\"\n"),
            "6:10: packages.method",
            vec![
                "p.toml:6:10: packages.method: unknown value `binaries`",
                "one of: apt, binary, bundle, none",
                "did you mean \"binary\"?",
            ],
        ),
        (
            "release url without scheme",
            with("[packages]\nrelease_url = \"dl.k8s.io/release\"\n"),
            "6:15: packages.release_url",
            vec![
                "p.toml:6:15: packages.release_url: invalid URL `dl.k8s.io/release`",
                "expected: an http:// or https:// URL with a host",
            ],
        ),
        (
            "ftp mirror",
            with("[packages]\napt_url = \"ftp://mirror.local/k8s\"\n"),
            "6:11: packages.apt_url",
            vec!["packages.apt_url: invalid URL `ftp://mirror.local/k8s`"],
        ),
        (
            "socks proxy",
            with("[packages]\nproxy = \"socks5://10.0.0.1:1080\"\n"),
            "6:9: packages.proxy",
            vec!["p.toml:6:9: packages.proxy: invalid URL"],
        ),
        (
            "bundle method without bundle",
            with("[packages]\nmethod = \"bundle\"\n"),
            "6:10: packages.method",
            vec![
                "p.toml:6:10: packages.method: method = \"bundle\" needs packages.bundle",
                "expected: packages.bundle: a directory or .tar.gz on the node",
                "use method = \"binary\"",
            ],
        ),
        (
            "relative install dir",
            with("[packages]\ninstall_dir = \"usr/local/bin\"\n"),
            "6:15: packages.install_dir",
            vec![
                "p.toml:6:15: packages.install_dir: invalid path `usr/local/bin`",
                "expected: an absolute node path",
            ],
        ),
        (
            "short cni version",
            with("[packages]\ncni_plugins = \"1.6\"\n"),
            "6:15: packages.cni_plugins",
            vec![
                "p.toml:6:15: packages.cni_plugins: invalid version `1.6`",
                "expected: MAJOR.MINOR.PATCH such as 1.6.2",
            ],
        ),
        (
            "bad no_proxy entry",
            with("[packages]\nno_proxy = [\".cluster.local\", \"a b\"]\n"),
            "6:31: packages.no_proxy[1]",
            vec![
                "p.toml:6:31: packages.no_proxy[1]: invalid no_proxy entry `a b`",
                "one host, .domain or network per entry",
            ],
        ),
        (
            "packages key typo",
            with("[packages]\nfroce = true\n"),
            "6:1: packages.froce",
            vec![
                "p.toml:6:1: packages.froce: unknown key",
                "did you mean `force`?",
            ],
        ),
        (
            "kubeadm without kubernetes",
            with("[kubeadm]\n"),
            "5:1: kubeadm",
            vec!["p.toml:5:1: kubeadm: [kubeadm] needs the Kubernetes version from [kubernetes]"],
        ),
        (
            "worker runs init",
            format!(
                "{WORKER}{K8S}[kubeadm]\nmode = \"init\"\ncontrol_plane_endpoint = \"10.0.0.1\"\n"
            ),
            "8:8: kubeadm.mode",
            vec![
                "p.toml:8:8: kubeadm.mode: a worker cannot run `kubeadm init`",
                "expected: mode = \"join\" on a worker",
            ],
        ),
        (
            "worker with init settings",
            format!(
                "{WORKER}{K8S}[kubeadm]\ncontrol_plane_endpoint = \"10.0.0.1\"\npod_subnet = \"10.244.0.0/16\"\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n"
            ),
            "9:14: kubeadm.pod_subnet",
            vec![
                "p.toml:9:14: kubeadm.pod_subnet: `pod_subnet` is an init setting, but this node joins",
                "help: move it to the first control plane's profile",
            ],
        ),
        (
            "worker with control-plane settings",
            format!(
                "{WORKER}{K8S}[kubeadm]\ncontrol_plane_endpoint = \"10.0.0.1\"\nkubeconfig_user = \"vagrant\"\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n"
            ),
            "9:19: kubeadm.kubeconfig_user",
            vec![
                "kubeadm.kubeconfig_user: `kubeconfig_user` is a control-plane setting, but node.role is worker",
            ],
        ),
        (
            "several control planes without an endpoint",
            with(&format!(
                "{K8S}[kubeadm]\nmode = \"init\"\ncontrol_planes = 3\n[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n"
            )),
            "9:18: kubeadm.control_planes",
            vec![
                "p.toml:9:18: kubeadm.control_planes: 3 control planes are declared, but there is no control_plane_endpoint",
                "expected: control_plane_endpoint = a DNS name or virtual IP",
            ],
        ),
        (
            "pod and service subnets overlap",
            with(&format!(
                "{K8S}[kubeadm]\nmode = \"init\"\npod_subnet = \"10.96.0.0/16\"\n"
            )),
            "9:14: kubeadm.pod_subnet",
            vec![
                "p.toml:9:14: kubeadm.pod_subnet: pod_subnet 10.96.0.0/16 and service_subnet 10.96.0.0/12 overlap",
            ],
        ),
        (
            "invalid pod subnet",
            with(&format!(
                "{K8S}[kubeadm]\nmode = \"init\"\npod_subnet = \"10.244.0.0/33\"\n"
            )),
            "9:14: kubeadm.pod_subnet",
            vec![
                "p.toml:9:14: kubeadm.pod_subnet: invalid CIDR `10.244.0.0/33`",
                "expected: a prefix length of at most 32",
            ],
        ),
        (
            "bad token",
            with(&format!(
                "{K8S}[kubeadm.secrets]\ntoken = \"abcdef-0123456789abcdef\"\n"
            )),
            "8:9: kubeadm.secrets.token",
            vec![
                "p.toml:8:9: kubeadm.secrets.token: invalid bootstrap token (23 characters, value not shown)",
                "expected: 6 characters a-z0-9, a dot, 16 characters a-z0-9",
            ],
        ),
        (
            "bad certificate key",
            with(&format!(
                "{K8S}[kubeadm.secrets]\ncertificate_key = \"0123\"\n"
            )),
            "8:19: kubeadm.secrets.certificate_key",
            vec![
                "kubeadm.secrets.certificate_key: invalid certificate key (4 characters, value not shown)",
                "expected: 64 hex characters",
            ],
        ),
        (
            "bad CA hash",
            format!(
                "{WORKER}{K8S}[kubeadm]\ncontrol_plane_endpoint = \"10.0.0.1\"\n[kubeadm.secrets]\ntoken = \"abcdef.0123456789abcdef\"\nca_cert_hash = \"sha1:0123\"\n"
            ),
            "11:16: kubeadm.secrets.ca_cert_hash",
            vec![
                "kubeadm.secrets.ca_cert_hash: invalid CA certificate hash `sha1:0123`",
                "expected: `sha256:` followed by 64 hex characters",
            ],
        ),
        (
            "bad join command",
            format!(
                "{WORKER}{K8S}[kubeadm.secrets]\njoin_command = \"kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef\"\n"
            ),
            "8:16: kubeadm.secrets.join_command",
            vec!["invalid join command: no --discovery-token-ca-cert-hash"],
        ),
        (
            "join without secrets",
            format!("{WORKER}{K8S}[kubeadm]\ncontrol_plane_endpoint = \"10.0.0.1\"\n"),
            "7:1: kubeadm.secrets",
            vec!["kubeadm.secrets: a joining node needs a bootstrap token and the CA hash"],
        ),
        (
            "join without endpoint",
            format!("{WORKER}{K8S}[kubeadm.secrets]\nbundle = \"/etc/bootstrap/cluster\"\n"),
            "7:2: kubeadm",
            vec!["a joining node needs to know where the API server is"],
        ),
        (
            "unpinned CNI download",
            with(&format!(
                "{K8S}[kubeadm.cni]\nname = \"calico\"\nurl = \"https://example.com/calico.yaml\"\n"
            )),
            "9:7: kubeadm.cni.url",
            vec![
                "kubeadm.cni.url: a downloaded manifest must be pinned",
                "expected: sha256 =",
            ],
        ),
        (
            "kube-vip address is not the endpoint",
            with(&format!(
                "{K8S}[kubeadm]\nmode = \"init\"\ncontrol_plane_endpoint = \"10.0.0.100\"\n[kubeadm.kube_vip]\naddress = \"10.0.0.99\"\ninterface = \"eth1\"\n"
            )),
            "11:11: kubeadm.kube_vip.address",
            vec![
                "kubeadm.kube_vip.address: kube-vip holds 10.0.0.99, but control_plane_endpoint is not that address",
            ],
        ),
        (
            "kubeadm key typo",
            with(&format!(
                "{K8S}[kubeadm]\nmode = \"init\"\npod_subnett = \"10.244.0.0/16\"\n"
            )),
            "9:1: kubeadm.pod_subnett",
            vec!["unknown key `pod_subnett`", "did you mean `pod_subnet`?"],
        ),
        (
            "empty file",
            String::new(),
            "1:1: node",
            vec!["missing required key `node`", "help: add a [node] section"],
        ),
    ]
}

#[test]
fn every_bad_profile_is_located_explained_and_changes_nothing() {
    let sb = Sandbox::new();
    let cases = cases();
    assert_eq!(cases.len(), 62, "the count README states");
    let before = sb.snapshot();
    for (name, text, at, expected) in cases {
        let profile = sb.profile("p.toml", &text);
        let file = profile.to_str().unwrap();
        for args in [
            vec!["apply", "--profile", profile.to_str().unwrap()],
            vec!["profile", "validate", profile.to_str().unwrap()],
        ] {
            let out = sb.run(&args);
            assert_eq!(out.code, 1, "{name}: exit code\n{}", out.stderr);
            assert!(
                out.stderr.contains("invalid profile"),
                "{name}: {}",
                out.stderr
            );
            assert!(out.stderr.contains("nothing was changed"), "{name}");
            assert!(
                out.stderr.contains(&format!("\n{file}:{at}: ")),
                "{name}: not located at {at}:\n{}",
                out.stderr
            );
            assert_every_problem_located(name, file, &out.stderr);
            for want in &expected {
                assert!(
                    out.stderr.contains(want),
                    "{name}: missing {want:?} in:\n{}",
                    out.stderr
                );
            }
        }
        assert!(sb.take_calls().is_empty(), "{name}: no program may run");
        sb.assert_unchanged(&before, name);
    }
}

/// Every problem in `stderr` starts with `file:line:col: key: ` (line and column from 1,
/// a key named) and has a `help:` line before the next problem.
fn assert_every_problem_located(name: &str, file: &str, stderr: &str) {
    let blocks: Vec<&str> = stderr.split("\n\n").skip(1).collect();
    assert!(!blocks.is_empty(), "{name}: no problem reported:\n{stderr}");
    for block in blocks {
        let head = block.lines().next().unwrap_or_default();
        let rest = head
            .strip_prefix(file)
            .and_then(|r| r.strip_prefix(':'))
            .unwrap_or_else(|| panic!("{name}: problem not in {file}: {head}"));
        let mut parts = rest.splitn(4, ':');
        let mut number = |what: &str| -> usize {
            let part = parts.next().unwrap_or_default();
            part.parse()
                .unwrap_or_else(|_| panic!("{name}: {what} `{part}` is not a number: {head}"))
        };
        assert!(number("line") >= 1, "{name}: line 0: {head}");
        assert!(number("column") >= 1, "{name}: column 0: {head}");
        let key = parts.next().unwrap_or_default().trim();
        assert!(
            !key.is_empty() && !key.contains(' '),
            "{name}: no key named: {head}"
        );
        assert!(
            block.lines().any(|l| l.trim_start().starts_with("help: ")),
            "{name}: no help for: {head}\n{block}"
        );
    }
}

#[test]
fn several_problems_are_all_reported_with_the_line_shown() {
    let sb = Sandbox::new();
    let profile = sb.profile(
        "p.toml",
        "[node]\nname = \"Bad_Name\"\nrole = \"worker\"\n\n[hosts]\nremove_names = [\"ok\", \"no way\"]\n",
    );
    let out = sb.run(&["plan", "--profile", profile.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("2 problems"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("2 | name = \"Bad_Name\"\n  |        ^^^^^^^^^^"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("p.toml:6:23: hosts.remove_names[1]"),
        "{}",
        out.stderr
    );
}

#[test]
fn unreadable_profile_and_bad_root() {
    let sb = Sandbox::new();
    let out = sb.run(&["plan", "--profile", "/nonexistent/profile.toml"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot read the profile"),
        "{}",
        out.stderr
    );
    let profile = sb.profile("p.toml", NODE);
    let out = sb.run(&[
        "plan",
        "--profile",
        profile.to_str().unwrap(),
        "--root",
        "/nonexistent-root",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);
}

#[test]
fn json_output_reports_profile_errors_as_an_event() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", "[node]\nname = \"m\"\nrole = \"boss\"\n");
    let out = sb.json("plan", &profile, &[]);
    assert_eq!(out.code, 1);
    let events = out.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "error");
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .contains("p.toml:3:8")
    );
}

#[test]
fn odd_but_valid_files_are_handled() {
    let sb = Sandbox::new();
    // /etc/hosts with a half-open managed block cannot be edited safely: clear refusal.
    sb.write("/etc/hosts", "127.0.0.1 localhost\n# BEGIN bootstrap managed block: edits inside are replaced\n10.0.0.1 x\n");
    let profile = sb.profile("p.toml", NODE);
    let before = sb.snapshot();
    let out = sb.json("apply", &profile, &["--only", "hosts"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("begins here but never ends"),
        "{}",
        out.stdout
    );
    sb.assert_unchanged(&before, "refused hosts edit");
    // A hosts file that is not UTF-8 is refused, not rewritten.
    std::fs::write(sb.path("/etc/hosts"), b"127.0.0.1 caf\xe9\n").unwrap();
    let out = sb.json("apply", &profile, &["--only", "hosts"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("is not UTF-8 text"), "{}", out.stdout);
    // Duplicate names outside the block are kept, and reported as conflicts.
    sb.write("/etc/hosts", "127.0.1.1 master master\n10.1.1.1 master\n");
    let out = sb.json("apply", &profile, &["--only", "hosts"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("line 1 maps `master` to 127.0.1.1"),
        "{}",
        out.stdout
    );
    assert!(
        sb.read("/etc/hosts")
            .starts_with("127.0.1.1 master master\n10.1.1.1 master\n")
    );
}
