//! The text-shaped values of `[kubeadm]`: durations and join commands, each
//! parsed with an error that names what was expected.

use std::fmt;
use std::str::FromStr;

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::secret::{CaHash, CertificateKey, REDACTED, Token};
use crate::values::{Endpoint, Invalid};

/// A duration written as text: `500ms`, `2s`, `5m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

/// The longest duration any setting accepts: a year. Every duration is added to clocks and
/// multiplied in backoff, so an unbounded one would overflow there instead of failing here.
pub const MAX_SPAN: Duration = Duration::from_secs(365 * 24 * 3600);

impl FromStr for Span {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let span = humantime::parse_duration(text.trim()).map_err(|e| {
            Invalid::new(
                format!("invalid duration `{text}`"),
                "a duration such as 500ms, 10s, 5m or 1h",
            )
            .because(e)
        })?;
        if span > MAX_SPAN {
            return Err(Invalid::new(
                format!("duration `{text}` is too long"),
                "at most 365 days, such as 30s, 15m or 24h",
            ));
        }
        Ok(Span(span))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

serde_as_string!(Span);

/// A join command as `kubeadm token create --print-join-command` prints it, taken apart.
/// Shown as `<redacted>` (it holds the token).
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCommand {
    /// The API server endpoint (`host:port`).
    pub endpoint: Endpoint,
    /// The bootstrap token.
    pub token: Token,
    /// The CA hashes to pin.
    pub ca_cert_hashes: Vec<CaHash>,
    /// `--control-plane` was given.
    pub control_plane: bool,
    /// `--certificate-key`, for a control-plane join.
    pub certificate_key: Option<CertificateKey>,
}

impl fmt::Debug for JoinCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinCommand({})", REDACTED)
    }
}

const JOIN_EXPECTED: &str = "`kubeadm join HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH` (optionally with --control-plane --certificate-key KEY), as `kubeadm token create --print-join-command` prints it";

impl FromStr for JoinCommand {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let bad = |why: &str| Invalid::new(format!("invalid join command: {why}"), JOIN_EXPECTED);
        let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "\\").collect();
        let rest = match words.as_slice() {
            ["kubeadm", "join", rest @ ..] => rest,
            _ => return Err(bad("it does not start with `kubeadm join`")),
        };
        let mut endpoint = None;
        let mut token = None;
        let mut hashes = Vec::new();
        let mut control_plane = false;
        let mut certificate_key = None;
        let mut iter = rest
            .iter()
            .map(|w| w.split_once('=').map_or((*w, None), |(f, v)| (f, Some(v))));
        while let Some((word, inline)) = iter.next() {
            let mut value = |flag: &str| -> Result<String, Invalid> {
                inline
                    .map(str::to_string)
                    .or_else(|| iter.next().map(|(w, _)| w.to_string()))
                    .ok_or_else(|| bad(&format!("{flag} has no value")))
            };
            match word {
                "--token" | "--discovery-token" => {
                    token = Some(value(word)?.parse::<Token>()?);
                }
                "--discovery-token-ca-cert-hash" => hashes.push(value(word)?.parse::<CaHash>()?),
                "--certificate-key" => {
                    certificate_key = Some(value(word)?.parse::<CertificateKey>()?);
                }
                "--control-plane" => control_plane = true,
                flag if flag.starts_with('-') => {
                    return Err(bad(&format!("unsupported flag `{flag}`")));
                }
                address => endpoint = Some(address.parse::<Endpoint>()?),
            }
        }
        Ok(JoinCommand {
            endpoint: endpoint.ok_or_else(|| bad("no API server endpoint"))?,
            token: token.ok_or_else(|| bad("no --token"))?,
            ca_cert_hashes: if hashes.is_empty() {
                return Err(bad("no --discovery-token-ca-cert-hash"));
            } else {
                hashes
            },
            control_plane,
            certificate_key,
        })
    }
}

impl Serialize for JoinCommand {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for JoinCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_commands() {
        let text = format!(
            "kubeadm join 192.168.33.13:6443 --token abcdef.0123456789abcdef \\\n  --discovery-token-ca-cert-hash sha256:{}",
            "a".repeat(64)
        );
        let c: JoinCommand = text.parse().unwrap();
        assert_eq!(c.endpoint.with_port(1), "192.168.33.13:6443");
        assert!(!c.control_plane);
        let cp: JoinCommand = format!(
            "{text} --control-plane --certificate-key={}",
            "b".repeat(64)
        )
        .parse()
        .unwrap();
        assert!(cp.control_plane && cp.certificate_key.is_some());
        assert!("kubeadm init".parse::<JoinCommand>().is_err());
        let err = "kubeadm join 1.2.3.4:6443 --token abcdef.0123456789abcdef"
            .parse::<JoinCommand>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("no --discovery-token-ca-cert-hash"), "{err}");
        assert!(format!("{c:?}").contains("redacted"));
    }

    #[test]
    fn spans() {
        assert_eq!(
            "500ms".parse::<Span>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!("5m".parse::<Span>().unwrap().to_string(), "5m");
        assert!("soon".parse::<Span>().is_err());
    }
}
