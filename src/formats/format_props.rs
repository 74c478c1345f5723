//! Property tests for the formats README names (sysctl.d, modules-load.d, crictl.yaml,
//! containerd TOML; hosts and fstab have theirs beside their code): text this agent does not
//! need to change comes back byte for byte, and applying an edit twice equals once.

use proptest::prelude::*;

use super::{containerd_config, crictl, modules_load, sysctl_conf};

fn ending() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r\n")]
}

fn sysctl_settings() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            "[a-z][a-z0-9_]{0,7}(\\.[a-z0-9_-]{1,8}){1,3}",
            "[0-9a-z]{1,6}( [0-9a-z]{1,6}){0,2}",
        ),
        0..8,
    )
}

fn header() -> impl Strategy<Value = String> {
    "[A-Za-z ,.:-]{0,30}(\n[A-Za-z ,.:-]{1,30}){0,2}"
}

proptest! {
    /// Our sysctl.d file read back gives what was rendered, and rendering what was read
    /// gives the same bytes (a converged file is not rewritten).
    #[test]
    fn sysctl_d_round_trips(header in header(), settings in sysctl_settings()) {
        let text = sysctl_conf::render(&header, &settings);
        let read: Vec<(String, String)> = sysctl_conf::parse(&text)
            .into_iter()
            .map(|s| (s.key, s.value))
            .collect();
        prop_assert_eq!(&read, &settings);
        prop_assert_eq!(sysctl_conf::render(&header, &read), text);
    }

    /// The same for our modules-load.d file.
    #[test]
    fn modules_load_d_round_trips(
        header in header(),
        modules in prop::collection::vec("[a-z][a-z0-9_-]{0,15}", 0..8),
    ) {
        let text = modules_load::render(&header, &modules);
        prop_assert_eq!(&modules_load::parse(&text), &modules);
        prop_assert_eq!(modules_load::render(&header, &modules_load::parse(&text)), text);
    }

    /// crictl.yaml: a file that already points at the socket comes back byte for byte,
    /// whatever else it holds and wherever the keys are; any file edited twice equals once.
    #[test]
    fn crictl_yaml_untouched_and_idempotent(
        others in prop::collection::vec("(# )?[a-z-]{1,12}: [a-z0-9/:.]{0,20}", 0..6),
        at in (0usize..7, 0usize..7),
        eol in ending(),
        wrong in "unix:///[a-z/]{1,20}\\.sock",
    ) {
        let sock = "unix:///run/containerd/containerd.sock";
        let mut lines: Vec<String> = others
            .into_iter()
            .filter(|l| !crictl::ENDPOINT_KEYS.iter().any(|k| l.starts_with(&format!("{k}:"))))
            .collect();
        lines.insert(at.0.min(lines.len()), format!("runtime-endpoint: {sock}"));
        lines.insert(at.1.min(lines.len()), format!("image-endpoint: {sock}"));
        let text: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
        prop_assert_eq!(crictl::edit(Some(&text), sock), text.clone());
        let stale = text.replacen(sock, &wrong, 1);
        let once = crictl::edit(Some(&stale), sock);
        prop_assert_eq!(crictl::edit(Some(&once), sock), once.clone());
        prop_assert_eq!(once, text);
    }
}

/// The containerd configs the edit starts from: real containerd outputs and files.
const BASES: [&str; 4] = [
    include_str!("../../tests/fixtures/containerd/v2-default-containerd-1.6.20.toml"),
    include_str!("../../tests/fixtures/containerd/v2-debian12-package.toml"),
    include_str!("../../tests/fixtures/containerd/v2-user-edited.toml"),
    include_str!("../../tests/fixtures/containerd/v3-containerd-2.x-default.toml"),
];

fn desired() -> impl Strategy<Value = containerd_config::Desired> {
    (
        any::<bool>(),
        prop::option::of(prop_oneof![
            Just("registry.k8s.io/pause:3.10".to_string()),
            Just("registry.k8s.io/pause:3.10.1".to_string()),
            "[a-z]{1,8}\\.example/pause:[0-9]\\.[0-9]{1,2}",
        ]),
        prop_oneof![Just("/opt/cni/bin".to_string()), "/[a-z]{1,8}/bin"],
        prop::option::of(Just("/etc/containerd/certs.d".to_string())),
    )
        .prop_map(
            |(systemd_cgroup, sandbox_image, cni_bin_dir, registry_config_path)| {
                containerd_config::Desired {
                    systemd_cgroup,
                    sandbox_image,
                    cni_bin_dir,
                    registry_config_path,
                }
            },
        )
}

/// Text a person or another tool added: comments and tables this agent does not own.
fn foreign() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "# [a-zA-Z ,.]{0,30}".prop_map(|c| format!("{c}\n")),
            ("[a-z]{1,8}", 0u32..10_000)
                .prop_map(|(k, v)| format!("[site.{k}]\n  limit = {v} # local\n")),
            "[a-z]{1,8}"
                .prop_map(|p| format!("[plugins.\"io.example.v1.{p}\"]\n  enabled = true\n")),
        ],
        0..5,
    )
    .prop_map(|parts| {
        // Table names must not repeat in TOML: number them.
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.replacen("[site.", &format!("[site{i}."), 1).replacen(
                    "v1.",
                    &format!("v1.n{i}"),
                    1,
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// containerd's config: edit twice equals once, and a converged file with foreign
    /// comments and tables added comes back byte for byte.
    #[test]
    fn containerd_toml_idempotent_and_foreign_text_untouched(
        base in 0..BASES.len(),
        want in desired(),
        extra in foreign(),
    ) {
        let once = containerd_config::edit(BASES[base], &want).unwrap();
        prop_assert_eq!(containerd_config::edit(&once, &want).unwrap(), once.clone());
        let mut converged = once.clone();
        if !converged.ends_with('\n') {
            converged.push('\n');
        }
        converged.push_str(&extra);
        prop_assert_eq!(containerd_config::edit(&converged, &want).unwrap(), converged);
    }
}
