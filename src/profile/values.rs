//! Value types of the profile that parse themselves with a message saying what was expected.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_with::{DeserializeFromStr, SerializeDisplay};

/// Separates the found value from the expectation in messages, so diagnostics can split them.
pub const EXPECTED_SEP: &str = "; expected ";

/// An IP address written as a string in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, DeserializeFromStr, SerializeDisplay)]
pub struct Ip(pub IpAddr);

impl FromStr for Ip {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.trim().parse().map(Ip).map_err(|_| {
            format!(
                "invalid IP address `{text}`{EXPECTED_SEP}an IPv4 or IPv6 address such as 192.168.33.13"
            )
        })
    }
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An IP network in CIDR notation, such as `10.244.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, DeserializeFromStr, SerializeDisplay)]
pub struct Cidr {
    /// The network address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Whether two networks share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let prefix = self.prefix.min(other.prefix);
        match (self.address, other.address) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = format!(
            "invalid CIDR `{text}`{EXPECTED_SEP}an address and prefix length such as 10.244.0.0/16"
        );
        let (address, prefix) = text.trim().split_once('/').ok_or(expected.clone())?;
        let address: IpAddr = address.parse().map_err(|_| expected.clone())?;
        let prefix: u8 = prefix.parse().map_err(|_| expected.clone())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!(
                "invalid CIDR `{text}`: prefix /{prefix} is longer than {max} bits{EXPECTED_SEP}a prefix length of at most {max}"
            ));
        }
        Ok(Cidr { address, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A Kubernetes release version `MAJOR.MINOR.PATCH` (a leading `v` is accepted).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, DeserializeFromStr, SerializeDisplay,
)]
pub struct KubeVersion {
    /// Major version (1).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl KubeVersion {
    /// `1.31` for `1.31.4`.
    pub fn minor_string(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl FromStr for KubeVersion {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "invalid Kubernetes version `{text}`{EXPECTED_SEP}MAJOR.MINOR.PATCH such as 1.31.4"
            )
        };
        let trimmed = text.trim().trim_start_matches('v');
        let parts: Vec<&str> = trimmed.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(expected());
        };
        let number = |s: &str| -> Result<u32, String> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            s.parse().map_err(|_| expected())
        };
        Ok(KubeVersion {
            major: number(major)?,
            minor: number(minor)?,
            patch: number(patch)?,
        })
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

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
                out.push_str(crate::host::REDACTED);
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
    fn cidr_parse_and_overlap() {
        let pods: Cidr = "10.244.0.0/16".parse().unwrap();
        let services: Cidr = "10.96.0.0/12".parse().unwrap();
        assert!(!pods.overlaps(&services));
        let wide: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(wide.overlaps(&pods));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        assert!("fd00::/108".parse::<Cidr>().is_ok());
        let zero: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(zero.overlaps(&pods));
    }

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

    #[test]
    fn versions() {
        let v: KubeVersion = "v1.31.4".parse().unwrap();
        assert_eq!(v.to_string(), "1.31.4");
        assert_eq!(v.minor_string(), "1.31");
        for bad in ["1.31", "1.31.x", "1.31.4.1", "latest", "1..4", "1.31.+4"] {
            assert!(bad.parse::<KubeVersion>().is_err(), "{bad}");
        }
    }
}
