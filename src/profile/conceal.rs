//! Keeps the profile's secrets out of everything a profile error shows (the source snippet,
//! the message, the JSON `error` event): the source is masked before any diagnostic is built
//! from it, and messages are scrubbed of every secret value found.
//!
//! What counts as secret: every value under a `secrets` table except `bundle` (a path) and
//! `ca_cert_hash` (public), and the value of any key naming a token, certificate key, join
//! command, secret, password or credential, wherever it is and in any TOML spelling (quoted
//! or dotted keys, inline tables, multi-line strings); anywhere in the file, text shaped like
//! a bootstrap token or a certificate key and the user:password part of a URL. When the file is not valid TOML, a
//! line-based reading masks the value of any line in a `secrets` table or naming a token,
//! certificate, join command, secret, password or credential, and the rest of a multi-line
//! string such a line opens.

use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

use crate::host::REDACTED;

/// The profile source with secret values masked, and the values themselves (for scrubbing).
#[derive(Debug)]
pub struct Concealed {
    /// The source, each secret byte replaced by `*` (same length and lines, so spans hold).
    pub source: String,
    values: Vec<String>,
}

/// Keys of `[kubeadm.secrets]` whose values are not secret.
const PUBLIC_SECRETS_KEYS: [&str; 2] = ["bundle", "ca_cert_hash"];

/// Words that mark a key, or a line of a file that cannot be parsed, as holding a secret.
const SECRET_WORDS: [&str; 7] = [
    "token",
    "certificate_key",
    "join",
    "secret",
    "password",
    "passwd",
    "credential",
];

/// Masks the secrets in `source`.
pub fn conceal(source: &str) -> Concealed {
    let mut ranges = Vec::new();
    let mut values = Vec::new();
    match Document::parse(source) {
        Ok(doc) => secrets_table(&doc, &mut ranges, &mut values),
        Err(_) => ranges.extend(lexical(source)),
    }
    ranges.extend(patterns(source));
    for r in &ranges {
        let raw = source[r.clone()].trim().trim_matches(['"', '\'']).trim();
        if raw.len() >= 4 {
            values.push(raw.to_string());
        }
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    Concealed {
        source: mask(source, &ranges),
        values,
    }
}

impl Concealed {
    /// `text` with every secret value found in the source, and anything shaped like a
    /// secret, replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let known = self
            .values
            .iter()
            .fold(text.to_string(), |acc, v| acc.replace(v.as_str(), REDACTED));
        let mut ranges = patterns(&known);
        ranges.sort_by_key(|r| std::cmp::Reverse(r.start));
        let mut out = known;
        for r in ranges {
            out.replace_range(r, REDACTED);
        }
        out
    }
}

/// Whether a key names a secret: `token`, `certificate_key`, `join_command` and any key
/// naming a secret, password or credential (`-` or `_`, any case); `token_ttl` is a duration.
fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    key != "token_ttl" && SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// Spans and values of every secret in the document: values of secret keys anywhere (a
/// misplaced token is still a token), and everything under a `secrets` table except its
/// public keys.
fn secrets_table(doc: &Document<&str>, ranges: &mut Vec<Range<usize>>, values: &mut Vec<String>) {
    if let Some(table) = doc.as_item().as_table_like() {
        walk(table, ranges, values);
    }
}

fn walk(table: &dyn TableLike, ranges: &mut Vec<Range<usize>>, values: &mut Vec<String>) {
    for (key, item) in table.iter() {
        let in_secrets = key.eq_ignore_ascii_case("secrets");
        match item.as_table_like() {
            Some(inner) if in_secrets => {
                for (k, i) in inner.iter() {
                    if !PUBLIC_SECRETS_KEYS.contains(&k) {
                        collect_item(i, ranges, values);
                    }
                }
            }
            _ if in_secrets || secret_key(key) => collect_item(item, ranges, values),
            Some(inner) => walk(inner, ranges, values),
            None => {
                if let Some(array) = item.as_array_of_tables() {
                    array.iter().for_each(|t| walk(t, ranges, values));
                }
            }
        }
    }
}

fn collect_item(item: &Item, ranges: &mut Vec<Range<usize>>, values: &mut Vec<String>) {
    match item {
        Item::Value(v) => collect_value(v, ranges, values),
        Item::Table(t) => t.iter().for_each(|(_, i)| collect_item(i, ranges, values)),
        Item::ArrayOfTables(a) => a.iter().for_each(|t| {
            t.iter().for_each(|(_, i)| collect_item(i, ranges, values));
        }),
        Item::None => {}
    }
}

fn collect_value(value: &Value, ranges: &mut Vec<Range<usize>>, values: &mut Vec<String>) {
    ranges.extend(value.span());
    match value {
        Value::String(s) => values.push(s.value().to_string()),
        Value::Array(a) => a.iter().for_each(|v| collect_value(v, ranges, values)),
        Value::InlineTable(t) => t.iter().for_each(|(_, v)| collect_value(v, ranges, values)),
        _ => {}
    }
}

/// Secret-looking spans in any text: bootstrap tokens, 64-hex keys (not `sha256:` pins), URL
/// user information.
fn patterns(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let run =
        |from: usize, ok: &dyn Fn(u8) -> bool| bytes[from..].iter().take_while(|b| ok(**b)).count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_word && bytes[i].is_ascii_alphanumeric() {
            let id = run(i, &word);
            let hex = run(i, &|b: u8| b.is_ascii_hexdigit());
            let pinned = text[..i].ends_with("sha256:");
            let secret = if bytes.get(i + 6) == Some(&b'.') {
                run(i + 7, &word)
            } else {
                0
            };
            if id == 6 && secret >= 16 {
                out.push(i..i + 7 + secret);
                i += 7 + secret;
                continue;
            }
            if hex >= 64 && !pinned {
                out.push(i..i + hex);
                i += hex;
                continue;
            }
        }
        // Bytes, not `text[i..]`: `i` may be inside a multi-byte character (`é`, `…`).
        if bytes[i..].starts_with(b"://") {
            let authority = run(i + 3, &|b: u8| !b"/?# \t\r\n\"'".contains(&b));
            if let Some(at) = text[i + 3..i + 3 + authority].rfind('@') {
                out.push(i + 3..i + 3 + at);
            }
            i += 3 + authority;
            continue;
        }
        i += 1;
    }
    out
}

/// Line-based reading of a file that is not valid TOML (see the module comment).
fn lexical(source: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut in_secrets = false;
    let mut open: Option<(&str, bool)> = None; // multi-line string delimiter, secret?
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let lower = body.to_ascii_lowercase().replace('-', "_");
        let wordy = SECRET_WORDS.iter().any(|w| lower.contains(w));
        if let Some((delim, secret)) = open {
            if secret || wordy {
                out.push(start..start + body.len());
            }
            if body.contains(delim) {
                open = None;
            }
            continue;
        }
        let trimmed = body.trim_start();
        if trimmed.starts_with('[') {
            let header: String = trimmed
                .chars()
                .filter(|c| !matches!(c, '[' | ']' | '"' | '\'' | ' ' | '\t'))
                .collect();
            in_secrets = header
                .split('.')
                .any(|part| part.eq_ignore_ascii_case("secrets"));
            continue;
        }
        let key = body
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        let public = in_secrets && PUBLIC_SECRETS_KEYS.contains(&key) && !wordy;
        let secret = (in_secrets && !public) || wordy;
        let value_at = body.find('=').map_or(0, |e| e + 1);
        if secret {
            out.push(start + value_at..start + body.len());
        }
        let value = &body[value_at..];
        for delim in ["\"\"\"", "'''"] {
            if value.matches(delim).count() % 2 == 1 {
                open = Some((delim, secret));
            }
        }
    }
    out
}

/// `source` with every byte in `ranges` (except line ends) replaced by `*`.
fn mask(source: &str, ranges: &[Range<usize>]) -> String {
    let mut hidden = vec![false; source.len()];
    for r in ranges {
        hidden[r.start.min(source.len())..r.end.min(source.len())].fill(true);
    }
    source
        .char_indices()
        .map(|(i, c)| {
            if hidden[i] && c != '\n' && c != '\r' {
                "*".repeat(c.len_utf8())
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "abcdef.0123456789abcdef";
    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn scrubbing_text_with_multi_byte_characters_does_not_panic() {
        let concealed = conceal("[node]\nname = \"n\"\n");
        assert_eq!(
            concealed.scrub("namespace `aaa…` é://x"),
            "namespace `aaa…` é://x"
        );
    }

    #[test]
    fn masks_values_keeps_length_and_lines() {
        let src = format!(
            "[kubeadm.secrets]\n\"token\" = \"{TOKEN}\"\nbundle = \"/b\"\njoin_command = \"\"\"\nkubeadm join x --token zzz\n\"\"\"\n"
        );
        let c = conceal(&src);
        assert_eq!(c.source.len(), src.len());
        assert_eq!(c.source.lines().count(), src.lines().count());
        assert!(!c.source.contains(TOKEN), "{}", c.source);
        assert!(!c.source.contains("zzz"), "{}", c.source);
        assert!(c.source.contains("bundle = \"/b\""), "{}", c.source);
        assert_eq!(c.scrub(&format!("x {TOKEN} y")), "x <redacted> y");
    }

    #[test]
    fn patterns_anywhere_and_in_broken_files() {
        let src = format!("[node]\nname = \"{TOKEN}\nurl = \"https://u:pw@h/x\"\nk = \"{KEY}\"\n");
        let c = conceal(&src);
        for secret in [TOKEN, "u:pw", KEY] {
            assert!(!c.source.contains(secret), "{secret}: {}", c.source);
        }
        let pin = format!("sha256:{KEY}");
        assert_eq!(conceal(&pin).source, pin);
    }

    #[test]
    fn broken_file_lines_that_name_secrets() {
        let src =
            "[kubeadm.secrets]\ncertificate_key = \"s3cr3t-value\nbundle = \"/b\"\n[x]\nk = 1\n";
        let c = conceal(src);
        assert!(!c.source.contains("s3cr3t"), "{}", c.source);
        assert!(c.source.contains("k = 1"), "{}", c.source);
        assert_eq!(c.scrub("found s3cr3t-value"), "found <redacted>");
    }
}
