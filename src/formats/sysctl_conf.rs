//! sysctl.d files: parse `key = value` settings, render the file we own.

use super::lines::{content, split_keep_ends};

/// One setting read from a sysctl configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Key in dotted form (`net.ipv4.ip_forward`).
    pub key: String,
    /// Value with surrounding whitespace removed.
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// Normalises a key to dotted form: `net/ipv4/ip_forward` → `net.ipv4.ip_forward`.
pub fn normalize_key(key: &str) -> String {
    let key = key.trim();
    if key.contains('/') && !key.contains('.') {
        key.replace('/', ".")
    } else {
        key.to_string()
    }
}

/// The path of a key under `/proc/sys`: `net.ipv4.ip_forward` → `net/ipv4/ip_forward`.
pub fn proc_path(key: &str) -> String {
    if key.contains('/') {
        key.trim_start_matches('/').to_string()
    } else {
        key.replace('.', "/")
    }
}

/// Normalises a value as the kernel prints it: runs of whitespace become one space.
pub fn normalize_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a sysctl.d-format file (`#` and `;` comments, optional leading `-`).
pub fn parse(text: &str) -> Vec<Setting> {
    split_keep_ends(text)
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let body = content(line).trim();
            if body.is_empty() || body.starts_with('#') || body.starts_with(';') {
                return None;
            }
            let (key, value) = body.split_once('=')?;
            Some(Setting {
                key: normalize_key(key.trim_start_matches('-')),
                value: normalize_value(value),
                line: i + 1,
            })
        })
        .collect()
}

/// Renders the file this agent owns from ordered `(key, value)` pairs.
pub fn render(header: &str, settings: &[(String, String)]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    for (key, value) in settings {
        out.push_str(&format!("{key} = {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let text = "# c\n; c\nnet.ipv4.ip_forward=1\n -net/bridge/bridge-nf-call-iptables =  1 \r\nkernel.printk = 4\t4 1 7\nbroken line\n";
        let s = parse(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].key, "net.ipv4.ip_forward");
        assert_eq!(s[1].key, "net.bridge.bridge-nf-call-iptables");
        assert_eq!(s[1].value, "1");
        assert_eq!(s[1].line, 4);
        assert_eq!(s[2].value, "4 4 1 7");
    }

    #[test]
    fn renders_and_parses_back() {
        let settings = vec![("net.ipv4.ip_forward".to_string(), "1".to_string())];
        let text = render("Managed by bootstrap.\nDo not edit.", &settings);
        assert_eq!(
            text,
            "# Managed by bootstrap.\n# Do not edit.\nnet.ipv4.ip_forward = 1\n"
        );
        assert_eq!(parse(&text)[0].value, "1");
        assert_eq!(proc_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
    }
}
