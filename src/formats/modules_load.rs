//! modules-load.d files and module names.

use super::lines::{content, split_keep_ends};

/// Module names compare with `-` and `_` as the same character, as modprobe does.
pub fn canonical_name(name: &str) -> String {
    name.trim().replace('-', "_")
}

/// The module names listed in a modules-load.d file (`#` and `;` start comments).
pub fn parse(text: &str) -> Vec<String> {
    split_keep_ends(text)
        .iter()
        .map(|l| content(l).trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(str::to_string)
        .collect()
}

/// Renders the file this agent owns.
pub fn render(header: &str, modules: &[String]) -> String {
    let mut out: String = header.lines().map(|l| format!("# {l}\n")).collect();
    for module in modules {
        out.push_str(module);
        out.push('\n');
    }
    out
}

/// Module names from a `modules.builtin` list (`kernel/fs/overlayfs/overlay.ko` → `overlay`).
pub fn parse_builtin(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().rsplit('/').next())
        .filter_map(|f| f.strip_suffix(".ko"))
        .map(canonical_name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mods = vec!["overlay".to_string(), "br_netfilter".to_string()];
        let text = render("Managed by bootstrap.", &mods);
        assert_eq!(text, "# Managed by bootstrap.\noverlay\nbr_netfilter\n");
        assert_eq!(parse(&text), mods);
    }

    #[test]
    fn builtin_names() {
        let text = "kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br-netfilter.ko\n";
        assert_eq!(parse_builtin(text), vec!["overlay", "br_netfilter"]);
        assert_eq!(canonical_name("br-netfilter"), "br_netfilter");
    }
}
