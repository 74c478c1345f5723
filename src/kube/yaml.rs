//! The YAML we write for kubeadm, the kubelet, kube-proxy and static pods, emitted so that
//! every string reads back as the same string under YAML 1.1, the rules of the reader
//! kubeadm uses (sigs.k8s.io/yaml over go-yaml v2, whose `resolve.go` turns plain
//! `y/yes/n/no/on/off/true/false` into booleans, `~`/`null` into null, `010`, `0x1F`,
//! `1_000` into integers and `1e3`, `.inf` into floats). The YAML 1.1 type definitions
//! (https://yaml.org/type/bool.html, int.html, float.html, null.html, timestamp.html)
//! also make `12:30` an integer (base 60) and `2001-12-14` a timestamp for other readers.
//!
//! Rather than list every such form, a string is written plain only when it cannot be any
//! of them: it starts with an ASCII letter or `/`, holds only letters, digits and
//! `._/:@+=-` (no space, no indicator such as `#`, `,`, `[`, `{`, `*`, `&`, `!`, `|`,
//! `>`, `'`, `"`, `%`), does not end with `:`, and is not one of YAML 1.1's boolean or
//! null words in any letter case. Every other string is double-quoted with JSON escapes
//! (a JSON string is a valid YAML double-quoted scalar). Keys follow the same rule.
//! The layout is serde_norway's block style (sequences under a key not indented).

use serde::Serialize;
use serde_norway::Value;

/// Why a value could not be written as YAML.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The value could not be turned into a YAML tree.
    #[error("cannot serialise to YAML: {0}")]
    Serialise(#[from] serde_norway::Error),
    /// A tagged value (`!tag`) was produced, which our documents never hold.
    #[error("cannot serialise a tagged YAML value")]
    Tagged,
}

/// YAML 1.1's boolean and null words (yaml.org/type/bool.html, null.html); any case.
const WORDS: [&str; 11] = [
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "",
];

/// Whether `s` can be written as a plain scalar and read back as the same string by a
/// YAML 1.1 reader (and a YAML 1.2 one).
pub fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:@+=-".contains(c))
        && !s.ends_with(':')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A string as a YAML scalar: plain when safe, otherwise double-quoted.
pub fn scalar(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises to JSON")
    }
}

/// One YAML document for `value` (no leading `---`).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    let tree = serde_norway::to_value(value)?;
    let mut out = String::new();
    emit(&tree, 0, &mut out)?;
    Ok(out)
}

fn inline(value: &Value) -> Result<Option<String>, YamlError> {
    Ok(Some(match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Sequence(items) if items.is_empty() => "[]".to_string(),
        Value::Mapping(map) if map.is_empty() => "{}".to_string(),
        Value::Tagged(_) => return Err(YamlError::Tagged),
        _ => return Ok(None),
    }))
}

fn key(value: &Value) -> Result<String, YamlError> {
    inline(value)?.ok_or(YamlError::Tagged)
}

/// Writes `value` as a block at `indent` spaces; each line ends with a newline.
fn emit(value: &Value, indent: usize, out: &mut String) -> Result<(), YamlError> {
    let pad = " ".repeat(indent);
    if let Some(text) = inline(value)? {
        out.push_str(&format!("{pad}{text}\n"));
        return Ok(());
    }
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let k = key(k)?;
                match inline(v)? {
                    Some(text) => out.push_str(&format!("{pad}{k}: {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        let child = if v.is_sequence() { indent } else { indent + 2 };
                        emit(v, child, out)?;
                    }
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                let mut block = String::new();
                emit(item, indent + 2, &mut block)?;
                // The item's first line starts after `- ` in place of its indentation.
                out.push_str(&format!("{pad}- {}", &block[indent + 2..]));
            }
        }
        _ => unreachable!("scalars are inline"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Strings YAML 1.1 reads as something else (yaml.org/type/*.html), and their kin.
    const TRICKY: [&str; 30] = [
        "no",
        "No",
        "NO",
        "n",
        "N",
        "y",
        "Y",
        "yes",
        "on",
        "On",
        "off",
        "OFF",
        "true",
        "False",
        "null",
        "~",
        "",
        "1_000",
        "010",
        "0x1F",
        "0b101",
        "12:30",
        "2001-12-14",
        ".inf",
        "-.Inf",
        ".nan",
        "1e3",
        "+12",
        "<<",
        "=",
    ];

    #[test]
    fn yaml_1_1_lookalikes_are_quoted_and_read_back() {
        for s in TRICKY {
            assert!(!plain_is_safe(s), "{s:?} must be quoted");
            let map: BTreeMap<&str, &str> = [(s, s)].into_iter().collect();
            let text = to_string(&map).unwrap();
            assert!(text.starts_with('"'), "{text}");
            let back: BTreeMap<String, String> = serde_norway::from_str(&text).unwrap();
            assert_eq!(back.get(s).map(String::as_str), Some(s), "{text}");
        }
    }

    #[test]
    fn ordinary_words_stay_plain() {
        for s in [
            "master",
            "unix:///var/run/containerd/containerd.sock",
            "v1.35.2",
            "node-ip",
        ] {
            assert!(plain_is_safe(s), "{s}");
        }
        for s in ["10.0.0.5", "a b", "#x", "a:", "-x", "x\ny: 1", "\"q\""] {
            assert!(!plain_is_safe(s), "{s}");
        }
    }

    #[test]
    fn newlines_and_quotes_cannot_inject_keys() {
        let map: BTreeMap<&str, &str> = [("image", "x\nprivileged: true"), ("i\"f", "e\"th")]
            .into_iter()
            .collect();
        let text = to_string(&map).unwrap();
        let back: BTreeMap<String, String> = serde_norway::from_str(&text).unwrap();
        assert_eq!(back.len(), 2, "{text}");
        assert_eq!(back["image"], "x\nprivileged: true");
        assert_eq!(back["i\"f"], "e\"th");
    }
}

/// Keys whose values are secrets wherever they appear in kubeadm's configuration
/// (`bootstrapTokens[].token`, `discovery.bootstrapToken.token`,
/// `discovery.tlsBootstrapToken`, `certificateKey`, `controlPlane.certificateKey`).
const SECRET_KEYS: [&str; 3] = ["token", "tlsBootstrapToken", "certificateKey"];

/// `text` (kubeadm YAML, ours or an older run's) with the value of every secret key shown
/// as `<redacted>`, whatever the value is: a diff against a stored configuration must not
/// show the previous run's token or certificate key either.
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start_matches([' ', '-']).len();
        let rest = &body[indent..];
        let secret = SECRET_KEYS.iter().find_map(|k| {
            let after = rest
                .strip_prefix(k)
                .or_else(|| rest.strip_prefix(&format!("\"{k}\"")))?;
            after.strip_prefix(':').filter(|v| !v.trim().is_empty())
        });
        match secret {
            Some(_) => {
                let key_end = body.len() - rest.len() + rest.find(':').unwrap_or(0) + 1;
                out.push_str(&body[..key_end]);
                out.push_str(" <redacted>");
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn every_secret_position_is_redacted_whatever_its_value() {
        let old = "bootstrapTokens:\n- token: \"012345.0123456789abcdef\"\n  ttl: \"24h0m0s\"\ncertificateKey: abc\ndiscovery:\n  bootstrapToken:\n    token: zzzzzz.yyyyyyyyyyyyyyyy\n  tlsBootstrapToken: q\ncontrolPlane:\n  certificateKey: \"k\"\n";
        let shown = redact_secrets(old);
        for secret in [
            "012345.0123456789abcdef",
            "abc",
            "zzzzzz",
            "tlsBootstrapToken: q",
            "\"k\"",
        ] {
            assert!(!shown.contains(secret), "{secret}: {shown}");
        }
        assert_eq!(shown.matches("<redacted>").count(), 5, "{shown}");
        assert!(
            shown.contains("- token: <redacted>\n  ttl: \"24h0m0s\"\n"),
            "{shown}"
        );
        let plain = "name: master\ncaCertHashes:\n- sha256:ab\n";
        assert_eq!(redact_secrets(plain), plain);
    }
}
