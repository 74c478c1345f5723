//! Unified diffs for plan output.

use similar::TextDiff;

/// A unified diff of a file's old and new text, headed with its path.
/// A file that does not exist yet is diffed against empty text, headed `/dev/null`.
pub fn unified(path: &str, old: Option<&str>, new: &str) -> String {
    let from = if old.is_some() { path } else { "/dev/null" };
    TextDiff::from_lines(old.unwrap_or(""), new)
        .unified_diff()
        .context_radius(2)
        .header(from, path)
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_added_line() {
        let d = super::unified("/etc/x", Some("a\n"), "a\nb\n");
        assert!(d.contains("--- /etc/x"));
        assert!(d.contains("+b"));
        let n = super::unified("/etc/y", None, "z\n");
        assert!(n.contains("--- /dev/null"));
    }
}
