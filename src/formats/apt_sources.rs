//! apt sources: the one-line `.list` file this agent owns for pkgs.k8s.io, and finding and
//! disabling the removed legacy Kubernetes repositories in files it does not own (one-line
//! `.list` style and deb822 `.sources` stanzas), keeping every other byte.

use super::lines::{content, prefix_lines, split_keep_ends};

/// The legacy Kubernetes repository host, frozen 2023-09-13 and removed 2024-03-04.
pub const LEGACY_HOST: &str = "apt.kubernetes.io";
/// The host apt.kubernetes.io redirected to. It also serves other (live) Google
/// repositories, so only its `kubernetes-*` suites count as legacy.
pub const LEGACY_GOOGLE_HOST: &str = "packages.cloud.google.com";

/// Prefix put in front of a legacy line this agent disabled.
pub const DISABLED_PREFIX: &str =
    "# disabled by bootstrap (legacy Kubernetes repository, removed 2024-03-04): ";

/// The sources file this agent owns: one `deb` line for the minor's repository.
pub fn render_list(comment: &str, keyring: &str, repository: &str) -> String {
    let mut out: String = comment.lines().map(|l| format!("# {l}\n")).collect();
    out.push_str(&format!("deb [signed-by={keyring}] {repository}/ /\n"));
    out
}

fn is_comment(line: &str) -> bool {
    content(line).trim_start().starts_with('#')
}

/// Whether active text (a line, or a stanza's lines) uses the legacy Kubernetes repository.
fn uses_legacy(text: &str) -> bool {
    text.contains(LEGACY_HOST)
        || (text.contains(LEGACY_GOOGLE_HOST) && text.contains("kubernetes-"))
}

/// 1-based numbers of the active lines that use a legacy repository. In a deb822 file
/// (`deb822` true) every line of a stanza whose `URIs` names one counts.
pub fn legacy_lines(text: &str, deb822: bool) -> Vec<usize> {
    let lines = split_keep_ends(text);
    if !deb822 {
        return (1..=lines.len())
            .filter(|n| !is_comment(lines[n - 1]) && uses_legacy(lines[n - 1]))
            .collect();
    }
    let mut out = Vec::new();
    let mut stanza: Vec<usize> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let blank = content(line).trim().is_empty();
        if !blank && !is_comment(line) {
            stanza.push(i + 1);
        }
        if blank || i + 1 == lines.len() {
            let text: String = stanza.iter().map(|n| lines[n - 1]).collect();
            if uses_legacy(&text) {
                out.append(&mut stanza);
            }
            stanza.clear();
        }
    }
    out
}

/// The file with the given lines commented out (not deleted).
pub fn disable_lines(text: &str, numbers: &[usize]) -> String {
    prefix_lines(text, DISABLED_PREFIX, |n, _| numbers.contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn owned_file() {
        assert_eq!(
            render_list(
                "Managed by bootstrap.",
                "/etc/apt/keyrings/k.gpg",
                "https://pkgs.k8s.io/core:/stable:/v1.31/deb"
            ),
            "# Managed by bootstrap.\ndeb [signed-by=/etc/apt/keyrings/k.gpg] https://pkgs.k8s.io/core:/stable:/v1.31/deb/ /\n"
        );
    }

    #[test]
    fn one_line_style() {
        let text = "deb http://deb.debian.org/debian bookworm main\ndeb https://apt.kubernetes.io/ kubernetes-xenial main\n# deb https://apt.kubernetes.io/ old\n";
        assert_eq!(legacy_lines(text, false), vec![2]);
        let google = "deb https://packages.cloud.google.com/apt cloud-sdk main\ndeb https://packages.cloud.google.com/apt kubernetes-xenial main\n";
        assert_eq!(
            legacy_lines(google, false),
            vec![2],
            "the live cloud-sdk suite stays"
        );
        let out = disable_lines(text, &[2]);
        assert!(out.starts_with(
            "deb http://deb.debian.org/debian bookworm main\n# disabled by bootstrap"
        ));
        assert!(out.ends_with("kubernetes-xenial main\n# deb https://apt.kubernetes.io/ old\n"));
        assert!(legacy_lines(&out, false).is_empty());
    }

    #[test]
    fn deb822_stanza() {
        let text = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\nTypes: deb\nURIs: https://packages.cloud.google.com/apt\nSuites: kubernetes-xenial\nComponents: main\n";
        assert_eq!(legacy_lines(text, true), vec![5, 6, 7, 8]);
        let out = disable_lines(text, &legacy_lines(text, true));
        assert!(legacy_lines(&out, true).is_empty());
        assert!(out.starts_with(
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\n# disabled"
        ));
    }

    /// Active legacy lines in the forms found on real nodes (the old install docs' line,
    /// with signed-by, the google redirect target, indented).
    const LEGACY: [&str; 4] = [
        "deb https://apt.kubernetes.io/ kubernetes-xenial main",
        "deb [signed-by=/etc/apt/keyrings/kubernetes-archive-keyring.gpg] https://apt.kubernetes.io/ kubernetes-xenial main",
        "deb https://packages.cloud.google.com/apt kubernetes-xenial main",
        "  deb http://apt.kubernetes.io/ kubernetes-bionic main",
    ];
    /// Lines that are not active legacy ones: comments naming it, live Google suites,
    /// other repositories, and text without any Kubernetes word.
    const OTHER: [&str; 4] = [
        "# deb https://apt.kubernetes.io/ kubernetes-xenial main",
        "deb https://packages.cloud.google.com/apt cloud-sdk main",
        "deb http://deb.debian.org/debian bookworm main",
        "",
    ];

    /// A one-line-style sources file: (text, 1-based numbers of its legacy lines).
    fn sources() -> impl Strategy<Value = (String, Vec<usize>)> {
        let line = prop_oneof![
            (0..LEGACY.len()).prop_map(|i| (LEGACY[i].to_string(), true)),
            (0..OTHER.len()).prop_map(|i| (OTHER[i].to_string(), false)),
            "[a-j:/. #\\[\\]=]{0,40}".prop_map(|l| (l, false)),
        ];
        let ending = prop_oneof![Just("\n"), Just("\r\n")];
        (prop::collection::vec((line, ending), 0..12), any::<bool>()).prop_map(
            |(lines, last_newline)| {
                let mut text = String::new();
                let mut legacy = Vec::new();
                let count = lines.len();
                for (n, ((line, is_legacy), ending)) in lines.into_iter().enumerate() {
                    text.push_str(&line);
                    if n + 1 < count || last_newline {
                        text.push_str(ending);
                    }
                    if is_legacy {
                        legacy.push(n + 1);
                    }
                }
                (text, legacy)
            },
        )
    }

    proptest! {
        #[test]
        fn legacy_lines_are_found_disabled_once_and_the_rest_kept((text, legacy) in sources()) {
            prop_assert_eq!(legacy_lines(&text, false), legacy.clone());
            prop_assert_eq!(disable_lines(&text, &[]), text.clone());
            let out = disable_lines(&text, &legacy);
            prop_assert!(legacy_lines(&out, false).is_empty());
            // Every line kept byte for byte, the legacy ones behind the prefix.
            let before = split_keep_ends(&text);
            let after = split_keep_ends(&out);
            prop_assert_eq!(before.len(), after.len());
            for (n, (b, a)) in before.iter().zip(&after).enumerate() {
                if legacy.contains(&(n + 1)) {
                    prop_assert_eq!(a.to_string(), format!("{DISABLED_PREFIX}{b}"));
                } else {
                    prop_assert_eq!(a, b);
                }
            }
            // Twice = once.
            prop_assert_eq!(disable_lines(&out, &legacy_lines(&out, false)), out.clone());
        }
    }
}
