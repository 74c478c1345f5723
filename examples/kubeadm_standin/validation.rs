//! kubeadm's own validation words, so the agent's diagnosis is tested against what kubeadm
//! prints, not against phrases tuned to it. Sources (kubernetes/kubernetes):
//! - cmd/kubeadm/app/apis/kubeadm/validation/validation.go (`ValidateToken`,
//!   `ValidateDiscoveryBootstrapToken`, `ValidateDiscovery`, `ValidateCertificateKey`,
//!   `ValidateSocketPath`, `ValidateNodeRegistrationOptions`);
//! - staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go (`path: Invalid
//!   value: "v": detail`, `path: Required value: detail`) and pkg/util/errors (an aggregate
//!   of several errors prints as `[a, b]`, duplicates once);
//! - staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go (`IsDNS1123Subdomain`);
//! - cmd/kubeadm/app/apis/bootstraptoken/v1/utils.go (`NewBootstrapTokenString`);
//! - cmd/kubeadm/app/util/pubkeypin/pubkeypin.go (`Set.Allow`) and
//!   cmd/kubeadm/app/discovery/token/token.go ("invalid discovery token CA certificate hash");
//! - cmd/kubeadm/app/util/config/common.go (`NormalizeKubernetesVersion`).

/// The bootstrap token pattern of k8s.io/cluster-bootstrap/token/api.
pub const TOKEN_PATTERN: &str = r"\A([a-z0-9]{6})\.([a-z0-9]{16})\z";

/// Go's `%q` for the strings kubeadm quotes (ASCII escapes as Go writes them).
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `field.Invalid(path, value, detail)` as printed.
pub fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", quote(value))
}

/// `field.Required(path, detail)` as printed.
pub fn required(path: &str, detail: &str) -> String {
    format!("{path}: Required value: {detail}")
}

/// An aggregate of errors as `utilerrors.NewAggregate(...).Error()` prints it.
pub fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Go's `net.SplitHostPort` error for `endpoint`, none when it splits.
pub fn split_host_port(endpoint: &str) -> Option<String> {
    let fail = |why: &str| Some(format!("address {endpoint}: {why}"));
    if let Some(rest) = endpoint.strip_prefix('[') {
        return match rest.split_once(']') {
            None => fail("missing ']' in address"),
            Some((_, after)) if after.starts_with(':') => None,
            Some((_, "")) => fail("missing port in address"),
            Some(_) => fail("missing port in address"),
        };
    }
    match endpoint.matches(':').count() {
        0 => fail("missing port in address"),
        1 => None,
        _ => fail("too many colons in address"),
    }
}

/// `bootstraputil.IsValidBootstrapToken`.
pub fn token_ok(t: &str) -> bool {
    let part = |p: &str, n: usize| {
        p.len() == n
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    t.split_once('.')
        .is_some_and(|(a, b)| part(a, 6) && part(b, 16))
}

/// `NewBootstrapTokenString`'s refusal (a decoding error of InitConfiguration, before
/// validation).
pub fn token_not_of_the_form(token: &str) -> String {
    format!(
        "the bootstrap token {} was not of the form {}",
        quote(token),
        quote(TOKEN_PATTERN)
    )
}

/// Go's `hex.DecodeString` error, or the decoded length.
fn hex_decode(s: &str) -> Result<usize, String> {
    let bytes = s.as_bytes();
    let bad = |b: u8| {
        let c = char::from(b);
        if c.is_ascii_graphic() || c == ' ' {
            format!("encoding/hex: invalid byte: U+{:04X} '{c}'", b)
        } else {
            format!("encoding/hex: invalid byte: U+{:04X}", b)
        }
    };
    for pair in bytes.chunks(2) {
        if let Some(b) = pair.iter().find(|b| !b.is_ascii_hexdigit()) {
            return Err(bad(*b));
        }
    }
    if bytes.len() % 2 == 1 {
        return Err("encoding/hex: odd length hex string".into());
    }
    Ok(bytes.len() / 2)
}

/// `ValidateCertificateKey`.
pub fn certificate_key(path: &str, key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    match hex_decode(key) {
        Err(e) => Some(invalid(
            path,
            key,
            &format!("certificate key decoding error: {e}"),
        )),
        Ok(32) => None,
        Ok(n) => Some(invalid(
            path,
            key,
            &format!("invalid certificate key size {n}, the key must be an AES key of size 32"),
        )),
    }
}

/// `pubkeypin.Set.Allow` for one hash, wrapped as join discovery wraps it.
pub fn ca_hash(hash: &str) -> Result<(), String> {
    let wrap = |e: String| format!("invalid discovery token CA certificate hash: {e}");
    let parts: Vec<&str> = hash.split(':').collect();
    let [format, value] = parts.as_slice() else {
        return Err(wrap(
            "invalid hash, expected \"format:hex-value\". Known format(s) are: sha256".into(),
        ));
    };
    if !format.eq_ignore_ascii_case("sha256") {
        return Err(wrap(format!(
            "unknown hash format {}. Known format(s) are: sha256",
            quote(format)
        )));
    }
    let decoded_len = value.len() / 2;
    if decoded_len != 32 {
        return Err(wrap(format!(
            "invalid hash {}, expected a 32 byte SHA-256 hash, found {decoded_len} bytes",
            quote(hash)
        )));
    }
    hex_decode(value).map(|_| ()).map_err(|e| {
        wrap(format!(
            "invalid hash {}, could not decode SHA-256 from hex: {e}",
            quote(hash)
        ))
    })
}

/// `validation.IsDNS1123Subdomain`: the messages for `name`, none when valid.
pub fn dns1123_subdomain(name: &str) -> Vec<String> {
    const FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    let mut errors = Vec::new();
    if name.len() > 253 {
        errors.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !name.split('.').all(label_ok) {
        errors.push(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{FMT}')"
        ));
    }
    errors
}

/// `ValidateSocketPath` after kubeadm's defaulting, which prepends `unix://` to a bare path
/// with a warning; `Err` is the validation error.
pub fn cri_socket(path: &str, socket: &str) -> Result<Option<String>, String> {
    if socket.is_empty() {
        return Err(invalid(path, socket, "empty CRI socket"));
    }
    if socket.starts_with('/') {
        return Ok(Some(format!(
            "Usage of CRI endpoints without URL scheme is deprecated and can cause kubelet errors in the future. Automatically prepending scheme \"unix\" to the \"criSocket\" with value {}. Please update your configuration!",
            quote(socket)
        )));
    }
    let scheme = socket.split_once("://").map_or("", |(s, _)| s);
    if scheme != "unix" {
        return Err(invalid(
            path,
            socket,
            &format!(
                "only URL scheme \"unix\" is supported, got {}",
                quote(scheme)
            ),
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_prints_one_plainly_and_several_bracketed_once_each() {
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }

    #[test]
    fn hex_errors_are_go_s() {
        assert_eq!(
            hex_decode("0x"),
            Err("encoding/hex: invalid byte: U+0078 'x'".into())
        );
        assert_eq!(
            hex_decode("abc"),
            Err("encoding/hex: odd length hex string".into())
        );
        assert_eq!(hex_decode("abcd"), Ok(2));
    }

    #[test]
    fn ca_hashes_are_checked_as_pubkeypin_does() {
        let wrap = "invalid discovery token CA certificate hash: ";
        assert_eq!(
            ca_hash("sha256:abc").unwrap_err(),
            format!(
                "{wrap}invalid hash \"sha256:abc\", expected a 32 byte SHA-256 hash, found 1 bytes"
            )
        );
        assert_eq!(
            ca_hash("md5:00").unwrap_err(),
            format!("{wrap}unknown hash format \"md5\". Known format(s) are: sha256")
        );
        assert!(
            ca_hash("00ff")
                .unwrap_err()
                .contains("expected \"format:hex-value\"")
        );
        assert!(ca_hash(&format!("SHA256:{}", "0f".repeat(32))).is_ok());
        assert!(
            ca_hash(&format!("sha256:{}", "zz".repeat(32)))
                .unwrap_err()
                .contains(
                    "could not decode SHA-256 from hex: encoding/hex: invalid byte: U+007A 'z'"
                )
        );
    }

    #[test]
    fn socket_paths_get_the_scheme_and_other_schemes_are_refused() {
        assert!(
            cri_socket("p", "/run/containerd/containerd.sock")
                .unwrap()
                .is_some()
        );
        assert_eq!(cri_socket("p", "unix:///run/c.sock"), Ok(None));
        assert!(
            cri_socket("p", "tcp://1.2.3.4:1")
                .unwrap_err()
                .contains("got \"tcp\"")
        );
    }

    #[test]
    fn subdomains_allow_long_labels_but_not_long_names() {
        assert!(dns1123_subdomain(&"a".repeat(64)).is_empty());
        assert_eq!(dns1123_subdomain(&"a".repeat(254)).len(), 1);
        assert_eq!(dns1123_subdomain("Node_1").len(), 1);
    }
}
