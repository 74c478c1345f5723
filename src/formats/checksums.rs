//! Checksum files: a release's `.sha256` sibling (the hex digest, optionally followed by the
//! file name) and a bundle's `SHA256SUMS` manifest (`sha256sum` output).

use std::collections::BTreeMap;

fn is_digest(word: &str) -> bool {
    word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The lowercase hex SHA-256 digest a `.sha256` file holds (its first word).
pub fn parse_digest(text: &str) -> Result<String, String> {
    let word = text.split_whitespace().next().unwrap_or("");
    if is_digest(word) {
        Ok(word.to_ascii_lowercase())
    } else {
        let shown: String = word.chars().take(80).collect();
        Err(format!(
            "expected 64 hex digits, found `{shown}` ({} characters)",
            word.len()
        ))
    }
}

/// A line of a `sha256sum`-style manifest that is not `<hex>  <path>`.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: expected `<64 hex digits>  <path>`, found `{text}`")]
pub struct ManifestError {
    /// 1-based line number.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
}

/// The file → digest map of a `sha256sum`-style manifest (`<hex>  <path>` or `<hex> *<path>`,
/// `#` comments and blank lines allowed). Paths lose a leading `./`.
pub fn parse_manifest(text: &str) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (digest, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let path = rest.trim_start().trim_start_matches('*');
        let path = path.strip_prefix("./").unwrap_or(path);
        if !is_digest(digest) || path.is_empty() {
            return Err(ManifestError {
                line: n + 1,
                text: line.to_string(),
            });
        }
        out.insert(path.to_string(), digest.to_ascii_lowercase());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "0f3c9a3d7bf3c1c6d1e1b0dce8a3d52bf4fa1bcbe7f6b86a70ea0c9ec80e0f71";

    #[test]
    fn digest_files() {
        assert_eq!(parse_digest(&format!("{D}\n")).unwrap(), D);
        assert_eq!(
            parse_digest(&format!("{}  crictl.tar.gz\n", D.to_uppercase())).unwrap(),
            D
        );
        assert!(parse_digest("<html>Not Found</html>").is_err());
        assert!(parse_digest("").is_err());
    }

    #[test]
    fn manifests() {
        let text =
            format!("# bundle\n{D}  ./release/v1.31.4/bin/linux/amd64/kubeadm\n\n{D} *cni.tgz\n");
        let m = parse_manifest(&text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["release/v1.31.4/bin/linux/amd64/kubeadm"], D);
        assert!(m.contains_key("cni.tgz"));
        let err = parse_manifest(&format!("{D}  a\nnot a line\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2:"), "{err}");
    }

    proptest! {
        #[test]
        fn rendered_manifests_parse_back(
            files in proptest::collection::btree_map("[a-z0-9/._-]{1,30}", "[0-9a-f]{64}", 0..8)
        ) {
            let files: BTreeMap<String, String> = files
                .into_iter()
                .filter(|(p, _)| !p.starts_with("./") && !p.starts_with('*'))
                .collect();
            let text: String = files.iter().map(|(p, d)| format!("{d}  {p}\n")).collect();
            prop_assert_eq!(parse_manifest(&text).unwrap(), files);
        }
    }
}
