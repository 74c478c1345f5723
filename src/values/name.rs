//! Names the node and the profile use: DNS (RFC 1123) names and network interface names.

/// Why `name` is not a lowercase RFC 1123 subdomain, or `None` when it is one.
pub fn rfc1123_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > 253 {
        return Some(format!(
            "it is {} characters long (at most 253)",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (two dots, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return Some(format!("label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Some(format!("it contains `{c}`"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("label `{label}` starts or ends with `-`"));
        }
    }
    None
}

/// A lowercase RFC 1123 form of `name`, for suggestions.
pub fn rfc1123_fix(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// A Linux interface name as the kernel accepts it (net/core/dev.c `dev_valid_name`):
/// 1-15 bytes, not `.` or `..`, no `/`, `:` or whitespace; control characters and
/// non-ASCII bytes are refused too, so a name can never carry a newline into a file.
pub fn interface_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123() {
        assert_eq!(rfc1123_problem("worker-1"), None);
        assert_eq!(rfc1123_problem("a.b-c.d"), None);
        assert!(rfc1123_problem("Worker").is_some());
        assert!(rfc1123_problem("-a").is_some());
        assert!(rfc1123_problem("a..b").is_some());
        assert!(rfc1123_problem("a_b").is_some());
        assert!(rfc1123_problem(&"a".repeat(64)).is_some());
        assert_eq!(rfc1123_fix("My_Node"), "my-node");
    }
}
