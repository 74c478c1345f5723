//! Hostile profile input (issue 11, input half): secrets never shown by a profile error,
//! plain log lines off a terminal, and the validations that keep odd values out of the node.

mod common;

use common::Sandbox;

const TOKEN: &str = "abcdef.q1w2e3r4t5y6u7i8";
const TOKEN_SECRET: &str = "q1w2e3r4t5y6u7i8";
const KEY: &str = "f00dfeedcafebeef11223344556677889900aabbccddeeff0011223344556677";
const KEY_PART: &str = "cafebeef112233";
const HASH: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const HEAD: &str = "[node]\nname = \"cp-1\"\nrole = \"control-plane\"\naddress = \"10.0.0.5\"\n[kubernetes]\nversion = \"1.31.4\"\n";
const WORKER: &str = "[node]\nname = \"w-1\"\nrole = \"worker\"\naddress = \"10.0.0.6\"\n[kubernetes]\nversion = \"1.31.4\"\n";

/// (case, profile text) where every case is an invalid profile holding secrets.
fn secret_cases() -> Vec<(&'static str, String)> {
    vec![
        (
            "inline table, typo on the same line",
            format!(
                "{HEAD}[kubeadm]\nsecrets = {{ token = \"{TOKEN}\", certificate_key = \"{KEY}\", bundel = \"/x\" }}\n"
            ),
        ),
        (
            "secret on the line next to the error",
            format!(
                "{HEAD}[kubeadm.secrets]\ntoken = \"{TOKEN}\"\nbundel = \"/x\"\ncertificate_key = \"{KEY}\"\n"
            ),
        ),
        (
            "dotted keys, a token one character too long",
            format!(
                "{HEAD}kubeadm.secrets.token = \"{TOKEN}x\"\nkubeadm.secrets.certificate_key = \"{KEY}\"\n"
            ),
        ),
        (
            "quoted keys, a certificate key one character short",
            format!(
                "{HEAD}[kubeadm.\"secrets\"]\n\"token\" = \"{TOKEN}\"\n'certificate_key' = \"{}\"\n",
                &KEY[1..]
            ),
        ),
        (
            "unterminated string on the token line",
            format!("{HEAD}[kubeadm.secrets]\ntoken = \"{TOKEN}\ncertificate_key = \"{KEY}\"\n"),
        ),
        (
            "syntax error inside a multi-line join command",
            format!(
                "{WORKER}[kubeadm.secrets]\njoin_command = \"\"\"\nkubeadm join 10.0.0.5:6443 --token {TOKEN} \\q\n  --discovery-token-ca-cert-hash {HASH}\n\"\"\"\n"
            ),
        ),
        (
            "multi-line literal join command with an unsupported flag",
            format!(
                "{WORKER}[kubeadm.secrets]\njoin_command = '''\nkubeadm join 10.0.0.5:6443 --token {TOKEN}\n  --discovery-token-ca-cert-hash {HASH} --certificate-key={KEY} --bogus\n'''\n"
            ),
        ),
        (
            "secrets given as a string",
            format!("{HEAD}[kubeadm]\nsecrets = \"{TOKEN}\"\n"),
        ),
        (
            "a token at the wrong level",
            format!("{HEAD}[kubeadm]\ntoken = \"{TOKEN}\"\n"),
        ),
        (
            "a certificate key in a misspelled table",
            format!("{HEAD}[kubeadm.secret]\ncertificate_key = \"{KEY}\"\n"),
        ),
        (
            "a token with a stray character, on a line with a syntax error",
            format!("{HEAD}[kubeadm.secrets]\ntoken = \"{TOKEN}\" certificate_key = \"{KEY}\"\n"),
        ),
        (
            "a one-line join command without the CA hash",
            format!(
                "{WORKER}[kubeadm.secrets]\njoin_command = \"kubeadm join 10.0.0.5:6443 --token {TOKEN}\"\n"
            ),
        ),
        (
            "a token used as a key name",
            format!("{HEAD}[kubeadm.secrets]\n\"{TOKEN}\" = 1\n"),
        ),
        (
            "an unusual secret value on an invalid line",
            format!("{HEAD}[kubeadm.secrets]\ncertificate_key = \"hunter2-not-hex-at-all\"\n"),
        ),
    ]
}

fn assert_hidden(case: &str, text: &str) {
    for secret in [TOKEN, TOKEN_SECRET, KEY, KEY_PART, "hunter2"] {
        assert!(
            !text.contains(secret),
            "{case}: `{secret}` shown in:\n{text}"
        );
    }
}

#[test]
fn profile_errors_never_show_a_secret() {
    let sb = Sandbox::new();
    for (case, text) in secret_cases() {
        let profile = sb.profile("p.toml", &text);
        let path = profile.to_str().unwrap();
        for args in [
            vec!["profile", "validate", path],
            vec!["--output", "json", "plan", "--profile", path],
            vec!["-vvv", "apply", "--profile", path],
        ] {
            let out = sb.run_with_env(&args, &[("RUST_LOG", "trace")]);
            assert_eq!(
                out.code, 1,
                "{case}: {args:?}\n{}{}",
                out.stdout, out.stderr
            );
            let all = format!("{}{}", out.stdout, out.stderr);
            assert!(all.contains("p.toml:"), "{case}: not located:\n{all}");
            assert_hidden(case, &all);
        }
    }
}

#[test]
fn redacted_snippets_still_point_at_the_problem() {
    let sb = Sandbox::new();
    let text =
        format!("{HEAD}[kubeadm]\nsecrets.token = \"{TOKEN}\"\ndiscovery.attempts = \"x\"\n");
    let profile = sb.profile("p.toml", &text);
    let out = sb.run(&["profile", "validate", profile.to_str().unwrap()]);
    assert!(
        out.stderr
            .contains("p.toml:9:22: kubeadm.discovery.attempts: wrong type"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("9 | discovery.attempts = \"x\"\n  |                      ^^^"),
        "{}",
        out.stderr
    );
    // An unknown key in a secrets table may be a misspelled secret: its value is hidden.
    let text = format!("{HEAD}[kubeadm.secrets]\ntokne = \"{TOKEN}\"\n");
    let out = sb.run(&[
        "profile",
        "validate",
        sb.profile("p.toml", &text).to_str().unwrap(),
    ]);
    assert!(out.stderr.contains("8 | tokne = *"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `token`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn log_lines_are_plain_off_a_terminal() {
    let sb = Sandbox::new();
    let profile = sb.profile("p.toml", common::MASTER_PROFILE);
    let out = sb.run(&["-vv", "plan", "--profile", profile.to_str().unwrap()]);
    assert!(out.stderr.contains("DEBUG"), "no log line:\n{}", out.stderr);
    assert!(
        !out.stderr.contains('\x1b'),
        "ANSI escape in:\n{}",
        out.stderr
    );
}

#[test]
fn a_sysctl_written_with_slashes_is_one_parameter_and_converges() {
    let sb = Sandbox::new();
    let text = format!(
        "{}\n[sysctl]\n\"net/ipv4/ip_forward\" = 0\n\"/vm/max_map_count\" = 262144\n",
        common::MASTER_PROFILE
    );
    sb.write("/proc/sys/vm/max_map_count", "65530\n");
    let profile = sb.profile("p.toml", &text);
    let path = profile.to_str().unwrap();
    let out = sb.run(&["apply", "--profile", path]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let ours = sb.read("/etc/sysctl.d/99-bootstrap.conf");
    assert_eq!(ours.matches("ip_forward").count(), 1, "{ours}");
    assert!(ours.contains("net.ipv4.ip_forward = 0\n"), "{ours}");
    assert!(ours.contains("vm.max_map_count = 262144\n"), "{ours}");
    assert_eq!(sb.read("/proc/sys/net/ipv4/ip_forward").trim(), "0");
    for _ in 0..2 {
        let again = sb.run(&["apply", "--profile", path]);
        assert!(again.stdout.contains("changed=0"), "{}", again.stdout);
    }
}

#[test]
fn two_spellings_of_one_sysctl_are_a_located_error() {
    let sb = Sandbox::new();
    let cases = [
        (
            "\"net/ipv4/ip_forward\" = 0\nnet.ipv4.ip_forward = 1\n",
            "net.ipv4.ip_forward",
        ),
        (
            "\"net.ipv4.ip_forward\" = 0\nnet.ipv4.ip_forward = 1\n",
            "net.ipv4.ip_forward",
        ),
        (
            "net.ipv4.ip_forward = 1\n\"/net/ipv4/ip_forward\" = 1\n",
            "/net/ipv4/ip_forward",
        ),
        (
            "\"net.ipv4.conf.eth0/100.forwarding\" = 1\n\"net/ipv4/conf/eth0.100/forwarding\" = 1\n",
            "\"net/ipv4/conf/eth0.100/forwarding\"",
        ),
    ];
    let before = sb.snapshot();
    for (sysctl, key) in cases {
        let text = format!("{}\n[sysctl]\n{sysctl}", common::MASTER_PROFILE);
        let profile = sb.profile("p.toml", &text);
        let out = sb.run(&["apply", "--profile", profile.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{sysctl}: {}", out.stderr);
        let want = "p.toml:15:";
        assert!(
            out.stderr.contains(&format!(": sysctl.{key}: ")),
            "{sysctl}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(want),
            "{sysctl}: no {want:?} in\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("set twice"), "{}", out.stderr);
        sb.assert_unchanged(&before, sysctl);
    }
}

#[test]
fn a_non_utf8_byte_in_a_foreign_sysctl_file_does_not_block_the_step() {
    let sb = Sandbox::new();
    let foreign = b"# vendor \xff tuning\nnet.ipv4.ip_forward = 0\n";
    std::fs::create_dir_all(sb.path("/etc/sysctl.d")).unwrap();
    std::fs::write(sb.path("/etc/sysctl.d/99-zz-vendor.conf"), foreign).unwrap();
    let profile = sb.profile("p.toml", common::MASTER_PROFILE);
    let out = sb.json("plan", &profile, &["--only", "sysctl"]);
    assert_eq!(out.status("sysctl"), "pending", "{}", out.stdout);
    let notes = out.notes("info");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("99-zz-vendor.conf is not valid UTF-8")),
        "{notes:?}"
    );
    let warnings = out.notes("warning");
    assert!(
        warnings
            .iter()
            .any(|n| n.contains("99-zz-vendor.conf line 2 sets net.ipv4.ip_forward = 0")),
        "{warnings:?}"
    );
    assert_eq!(
        std::fs::read(sb.path("/etc/sysctl.d/99-zz-vendor.conf")).unwrap(),
        foreign
    );
}

const NODE: &str = "[node]\nname = \"cp-1\"\nrole = \"control-plane\"\naddress = \"10.0.0.5\"\n";

#[test]
fn hostile_values_are_located_errors_and_change_nothing() {
    let sb = Sandbox::new();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "registry with a quote and a newline",
            "[containerd.mirrors]\n\"docker.io\\\"\\nx\" = [\"https://m.example\"]\n".into(),
            vec!["p.toml:6:", "containerd.mirrors.", "invalid registry name"],
        ),
        (
            "registry climbing out with ..",
            "[containerd.mirrors]\n\"../../etc\" = [\"https://m.example\"]\n".into(),
            vec!["p.toml:6:", "invalid registry name \"../../etc\""],
        ),
        (
            "registry with a space",
            "[containerd.mirrors]\n\"a b:5000\" = [\"https://m.example\"]\n".into(),
            vec!["p.toml:6:", "invalid registry name \"a b:5000\""],
        ),
        (
            "mirror URL breaking out of its TOML string",
            "[containerd.mirrors]\n\"docker.io\" = [\"https://m.example\\\"]\\nx = 1\"]\n".into(),
            vec![
                "p.toml:6:",
                "containerd.mirrors.\"docker.io\"[0]",
                "invalid mirror URL",
            ],
        ),
        (
            "mirror URL with credentials",
            "[containerd.mirrors]\n\"docker.io\" = [\"https://user:pw@m.example\"]\n".into(),
            vec!["p.toml:6:", "holds credentials"],
        ),
        (
            "module name that is an option",
            "[modules]\nload = [\"overlay\", \"--help\"]\n".into(),
            vec![
                "p.toml:6:20: modules.load[1]",
                "invalid module name `--help`",
            ],
        ),
        (
            "module name starting with -",
            "[modules]\nload = [\"-r\"]\n".into(),
            vec!["p.toml:6:9: modules.load[0]", "invalid module name `-r`"],
        ),
        (
            "a huge timeout",
            "[kubernetes]\nversion = \"1.31.4\"\n[kubeadm]\ntimeout = \"600000000y\"\n".into(),
            vec![
                "p.toml:8:11: kubeadm.timeout",
                "is too long",
                "at most 365 days",
            ],
        ),
        (
            "a huge backoff",
            "[kubernetes]\nversion = \"1.31.4\"\n[kubeadm]\ndiscovery.max_delay = \"100000h\"\n"
                .into(),
            vec!["p.toml:8:", "max_delay", "is too long"],
        ),
        (
            "a huge dpkg lock wait",
            "[packages]\ndpkg_lock_timeout = \"18446744073709551615s\"\n".into(),
            vec!["p.toml:6:", "dpkg_lock_timeout"],
        ),
        (
            "removing localhost",
            "[hosts]\nremove_names = [\"localhost\"]\n".into(),
            vec!["p.toml:6:17: hosts.remove_names[0]", "loopback name"],
        ),
        (
            "removing ip6-localhost in capitals",
            "[hosts]\nremove_names = [\"ok\", \"IP6-LOCALHOST\"]\n".into(),
            vec!["p.toml:6:23: hosts.remove_names[1]", "loopback name"],
        ),
        (
            "removing the node's own name",
            "[hosts]\nremove_names = [\"CP-1\"]\n".into(),
            vec!["p.toml:6:17: hosts.remove_names[0]"],
        ),
    ];
    let before = sb.snapshot();
    for (case, extra, wants) in cases {
        let profile = sb.profile("p.toml", &format!("{NODE}{extra}"));
        let out = sb.run(&["apply", "--profile", profile.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{case}: {}{}", out.stdout, out.stderr);
        for want in wants {
            assert!(
                out.stderr.contains(want),
                "{case}: no {want:?} in\n{}",
                out.stderr
            );
        }
        assert!(sb.take_calls().is_empty(), "{case}: a program ran");
        sb.assert_unchanged(&before, case);
    }
}

#[test]
fn a_profile_too_big_is_refused_before_it_is_read_whole() {
    let sb = Sandbox::new();
    let big = format!("{NODE}# {}\n", "x".repeat(2 * 1024 * 1024));
    let profile = sb.profile("p.toml", &big);
    let out = sb.run(&["profile", "validate", profile.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("larger than 1024 KiB"),
        "{}",
        out.stderr
    );
}

#[test]
fn hosts_validation_is_linear() {
    let sb = Sandbox::new();
    let entries: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                "{{ address = \"10.{}.{}.{}\", names = [\"n{i}\"] }}",
                i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect();
    let text = format!("{NODE}[hosts]\nentries = [\n{}\n]\n", entries.join(",\n"));
    let profile = sb.profile("p.toml", &text);
    let started = std::time::Instant::now();
    let out = sb.run(&["profile", "validate", profile.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let took = started.elapsed();
    assert!(
        took.as_secs() < 10,
        "validating 20000 hosts entries took {took:?}"
    );
}

#[test]
fn credentials_in_a_repository_url_are_never_shown_and_stay_out_of_world_readable_files() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let server = common::server::Server::start();
    server.put(
        "/core:/stable:/v1.31/deb/Release.key",
        bootstrap::formats::armor::armor(&[0x99, 0x01, 0x0d, 0x04, 1, 2, 3]),
    );
    sb.write("/.standin/dpkg-status", "ca-certificates\t20230311\tii \n");
    let base = server.url().replace("http://", "http://bob:s3cret%21pw@");
    let text = format!(
        "{NODE}[kubernetes]\nversion = \"1.31.4\"\n[packages]\nmethod = \"apt\"\n{}",
        common::release::urls(&base)
    );
    let profile = sb.profile("p.toml", &text);
    let path = profile.to_str().unwrap();
    let mut shown = String::new();
    for args in [
        vec!["plan", "--profile", path, "--only", "packages"],
        vec![
            "-vvv",
            "--output",
            "json",
            "apply",
            "--profile",
            path,
            "--only",
            "packages",
        ],
        vec!["profile", "show", path],
    ] {
        let out = sb.run(&args);
        shown.push_str(&out.stdout);
        shown.push_str(&out.stderr);
    }
    for secret in ["s3cret", "bob:"] {
        assert!(!shown.contains(secret), "`{secret}` shown in:\n{shown}");
    }
    assert!(
        shown.contains("is plain http://"),
        "no http warning in:\n{shown}"
    );
    let sources = sb.read("/etc/apt/sources.list.d/kubernetes.list");
    assert!(
        !sources.contains("s3cret") && !sources.contains("bob"),
        "{sources}"
    );
    let auth = "/etc/apt/auth.conf.d/bootstrap-kubernetes.conf";
    assert!(
        sb.read(auth).contains("login bob password s3cret!pw"),
        "{}",
        sb.read(auth)
    );
    let mode = std::fs::metadata(sb.path(auth))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let requests = server.take_requests().join("\n");
    assert!(
        requests.contains("Release.key"),
        "the key was fetched with the credentials: {requests}"
    );
}

#[test]
fn a_download_larger_than_the_cap_is_refused_with_a_clear_error() {
    use bootstrap::packages::download::{Checksum, Downloader, Job, Options};
    let server = common::server::Server::start();
    server.put("/big", vec![7u8; 4096]);
    let dir = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(Options {
        max_bytes: 1024,
        attempts: 1,
        ..Options::default()
    })
    .unwrap();
    let url = server.url().replace("http://", "http://u:pw@") + "/big";
    let err = downloader
        .fetch(&Job {
            file: "big".into(),
            url,
            checksum: Checksum::Sha256("00".repeat(32)),
            dest: dir.path().join("big"),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("is larger than 1024 bytes"), "{err}");
    assert!(!err.contains("pw"), "{err}");
    assert!(!dir.path().join("big").exists());
}

/// A body sent without Content-Length (read until the server closes) is cut off at the cap
/// while streaming: the announced-length check cannot see it.
#[test]
fn a_streamed_download_without_a_length_is_cut_off_at_the_cap() {
    use bootstrap::packages::download::{Checksum, Downloader, Job, Options};
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = conn.read(&mut request);
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        // Far more than the cap, in small writes; the client is expected to hang up early.
        for _ in 0..64 {
            if conn.write_all(&[7u8; 1024]).is_err() {
                break;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(Options {
        max_bytes: 4096,
        attempts: 1,
        ..Options::default()
    })
    .unwrap();
    let err = downloader
        .fetch(&Job {
            file: "endless".into(),
            url: format!("http://{addr}/endless"),
            checksum: Checksum::Sha256("00".repeat(32)),
            dest: dir.path().join("endless"),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("is larger than 4096 bytes"), "{err}");
    assert!(!dir.path().join("endless").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "no partial file left: {leftovers:?}");
    server.join().unwrap();
}
