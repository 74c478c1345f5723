//! Credentials inside URLs: kept out of every message, and split off for the tools that need them.

use super::secret::REDACTED;

/// `text` with the user information of every URL in it (`https://user:password@host`)
/// replaced by `<redacted>`: credentials in a mirror or proxy URL are never shown.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| "/?#".contains(c) || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// A URL without its user information, and the user and password it held (percent-decoded),
/// if any.
pub fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return (url.to_string(), None);
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return (url.to_string(), None);
    }
    let user = percent_decode(parsed.username());
    let password = percent_decode(parsed.password().unwrap_or_default());
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let clean = parsed.as_str().trim_end_matches('/').to_string();
    let clean = if url.ends_with('/') {
        format!("{clean}/")
    } else {
        clean
    };
    (clean, Some((user, password)))
}

/// Decodes `%XX` escapes (URL user information is percent-encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_and_split() {
        assert_eq!(
            redact_userinfo("get https://u:p%40ss@m.example/x failed; proxy http://who@p:3128"),
            "get https://<redacted>@m.example/x failed; proxy http://<redacted>@p:3128"
        );
        assert_eq!(
            redact_userinfo("https://m.example/a@b"),
            "https://m.example/a@b"
        );
        let (clean, creds) = split_userinfo("https://u:p%40ss@m.example/k8s/v1.31/deb");
        assert_eq!(clean, "https://m.example/k8s/v1.31/deb");
        assert_eq!(creds, Some(("u".into(), "p@ss".into())));
        assert_eq!(split_userinfo("https://m.example/x").1, None);
    }
}
