//! Kubernetes release versions.

use std::fmt;
use std::str::FromStr;

use serde_with::{DeserializeFromStr, SerializeDisplay};

use super::Invalid;

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
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let expected = || {
            Invalid::new(
                format!("invalid Kubernetes version `{text}`"),
                "MAJOR.MINOR.PATCH such as 1.31.4",
            )
        };
        let trimmed = text.trim().trim_start_matches('v');
        let parts: Vec<&str> = trimmed.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(expected());
        };
        let number = |s: &str| -> Result<u32, Invalid> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            s.parse().map_err(|e| expected().because(e))
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

#[cfg(test)]
mod tests {
    use super::*;

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
