//! `/etc/fstab`: find swap lines and comment them out, keeping every other byte.

use super::lines::{content, prefix_lines, split_keep_ends};

/// Prefix put in front of a swap line this agent disabled. `bootstrap reset` can strip it.
pub const DISABLED_PREFIX: &str = "# disabled by bootstrap (swap off): ";

/// An active swap line of fstab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapLine {
    /// 1-based line number.
    pub line: usize,
    /// The device or file (first field).
    pub source: String,
}

fn is_swap(line: &str) -> bool {
    let body = content(line).trim_start();
    if body.starts_with('#') {
        return false;
    }
    let fields: Vec<&str> = body.split_whitespace().collect();
    fields.len() >= 3 && fields[2] == "swap"
}

/// The fstab lines that would activate swap at boot.
pub fn swap_lines(text: &str) -> Vec<SwapLine> {
    split_keep_ends(text)
        .iter()
        .enumerate()
        .filter(|(_, l)| is_swap(l))
        .map(|(i, l)| SwapLine {
            line: i + 1,
            source: content(l)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string(),
        })
        .collect()
}

/// The file with every swap line commented out (not deleted).
pub fn disable_swap(text: &str) -> String {
    prefix_lines(text, DISABLED_PREFIX, |_, l| is_swap(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FSTAB: &str = "# /etc/fstab\nUUID=1 / ext4 errors=remount-ro 0 1\n/swapfile none swap sw 0 0\n#/old none swap sw 0 0\nUUID=2\tnone\tswap\tsw\t0\t0";

    #[test]
    fn finds_and_comments_swap_lines() {
        let lines = swap_lines(FSTAB);
        assert_eq!(
            lines,
            vec![
                SwapLine {
                    line: 3,
                    source: "/swapfile".into()
                },
                SwapLine {
                    line: 5,
                    source: "UUID=2".into()
                }
            ]
        );
        let out = disable_swap(FSTAB);
        assert!(out.contains(&format!("{DISABLED_PREFIX}/swapfile none swap sw 0 0\n")));
        assert!(out.ends_with(&format!("{DISABLED_PREFIX}UUID=2\tnone\tswap\tsw\t0\t0")));
        assert!(out.contains("#/old none swap sw 0 0\n"));
        assert!(swap_lines(&out).is_empty());
        assert_eq!(disable_swap(&out), out);
    }

    proptest! {
        /// A file with no swap line comes back byte-identical.
        #[test]
        fn no_swap_round_trips(text in "([ \t#a-z0-9=/]{0,40}(\r?\n)?){0,10}") {
            prop_assume!(swap_lines(&text).is_empty());
            prop_assert_eq!(disable_swap(&text), text);
        }

        /// Disabling twice is the same as once.
        #[test]
        fn idempotent(text in "(([a-z/]{1,6} (none|/x) (swap|ext4) sw 0 0)?(\r?\n)?){0,8}") {
            let once = disable_swap(&text);
            prop_assert_eq!(disable_swap(&once), once.clone());
            prop_assert!(swap_lines(&once).is_empty());
        }
    }
}
