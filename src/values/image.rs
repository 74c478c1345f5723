//! Container image references, by the grammar of distribution/reference
//! (github.com/distribution/reference, `reference.go`): `[domain[:port]/]path[:tag][@digest]`,
//! path components lowercase `[a-z0-9]+` joined by `.`, `_`, `__` or dashes, a tag
//! `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, a digest `algorithm:hex` (32+ hex characters).

/// What is wrong with an image reference, or `None` when it is one.
pub fn image_reference_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() || image.len() > 255 {
        return Some("empty or longer than 255 characters");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if digest.is_some_and(|d| !digest_ok(d)) {
        return Some("the digest is not ALGORITHM:HEX");
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if tag.is_some_and(|t| !tag_ok(t)) {
        return Some("the tag may hold only letters, digits, `_`, `.` and `-`");
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && is_domain(parts[0]) {
        if !registry_ok(parts[0]) {
            return Some("the registry is not a host name with an optional port");
        }
        parts.remove(0);
    }
    if parts.iter().all(|c| component_ok(c)) {
        None
    } else {
        Some(
            "the repository path may hold only lowercase letters, digits and `.`, `_`, `-` between them",
        )
    }
}

/// `algorithm:hex`, the hex part at least 32 characters.
fn digest_ok(digest: &str) -> bool {
    digest.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn tag_ok(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Whether the first path component names a registry: it has a dot or a port, is
/// `localhost`, or has an uppercase letter (which a repository path cannot).
fn is_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// A host name of letter-digit-hyphen labels, with an optional numeric port.
fn registry_ok(domain: &str) -> bool {
    let (host, port) = domain
        .split_once(':')
        .map_or((domain, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

/// A repository path component: lowercase letters and digits, separated by `.`, `_`, `__`
/// or dashes.
fn component_ok(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !c.is_empty()
        && c.bytes().next().is_some_and(alnum)
        && c.bytes().last().is_some_and(alnum)
        && c.bytes().all(|b| alnum(b) || b"._-".contains(&b))
        && !c.contains("..")
        && !c.contains("___")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        for ok in [
            "ghcr.io/kube-vip/kube-vip:v1.2.3",
            "kube-vip/kube-vip",
            "localhost:5000/kube-vip:v1",
            "registry.example.com/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_reference_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "x\n    securityContext:\n      privileged: true",
            "ghcr.io/Kube-Vip/kube-vip:v1",
            "ghcr.io/kube-vip/kube-vip:v1 --privileged",
            "ghcr.io/kube-vip/kube-vip:",
            "ghcr.io/kube-vip/kube-vip@sha256:xyz",
            "a//b",
            "\"quoted\"",
            "bad_host.example:99999/x",
        ] {
            assert!(image_reference_problem(bad).is_some(), "{bad:?}");
        }
    }
}
