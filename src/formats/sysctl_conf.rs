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

/// Normalises a key to dotted form, the way systemd-sysctl reads it (sysctl.d(5)): "either
/// `/` or `.` may be used as separators ... If the first separator is a slash, remaining
/// slashes and dots are left intact. If the first separator is a dot, dots and slashes are
/// interchanged." So `net/ipv4/ip_forward` → `net.ipv4.ip_forward`, and
/// `net/ipv4/conf/eth0.100/forwarding` → `net.ipv4.conf.eth0/100.forwarding`.
pub fn normalize_key(key: &str) -> String {
    let key = key.trim().trim_start_matches('/');
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => swap_separators(key),
        _ => key.to_string(),
    }
}

fn swap_separators(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect()
}

/// The path of a key under `/proc/sys`: `net.ipv4.ip_forward` → `net/ipv4/ip_forward`,
/// `net.ipv4.conf.eth0/100.forwarding` → `net/ipv4/conf/eth0.100/forwarding`.
pub fn proc_path(key: &str) -> String {
    swap_separators(&normalize_key(key))
}

/// Whether every part of the key's /proc/sys path is a name: not empty, `.` or `..` (a
/// key like `net/../../etc/passwd`, or its dotted spelling `net.//.//etc.passwd`, would
/// otherwise name a file outside /proc/sys).
pub fn stays_in_proc_sys(key: &str) -> bool {
    proc_path(key)
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..")
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

    #[test]
    fn slash_and_dot_spellings_are_one_key() {
        for (written, key, path) in [
            (
                "net/ipv4/ip_forward",
                "net.ipv4.ip_forward",
                "net/ipv4/ip_forward",
            ),
            (
                "/net/ipv4/ip_forward",
                "net.ipv4.ip_forward",
                "net/ipv4/ip_forward",
            ),
            (
                " net.ipv4.ip_forward ",
                "net.ipv4.ip_forward",
                "net/ipv4/ip_forward",
            ),
            (
                "net/ipv4/conf/eth0.100/forwarding",
                "net.ipv4.conf.eth0/100.forwarding",
                "net/ipv4/conf/eth0.100/forwarding",
            ),
            (
                "net.ipv4.conf.eth0/100.forwarding",
                "net.ipv4.conf.eth0/100.forwarding",
                "net/ipv4/conf/eth0.100/forwarding",
            ),
            ("kernel", "kernel", "kernel"),
        ] {
            assert_eq!(normalize_key(written), key, "{written}");
            assert_eq!(proc_path(written), path, "{written}");
        }
    }
}
