//! The text-shaped values of `[kubeadm]`: durations, API endpoints and join commands, each
//! parsed with an error that names what was expected.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::super::validate::rfc1123_problem;
use super::super::values::EXPECTED_SEP;
use crate::kube::secrets::{CaHash, CertificateKey, Token};
use std::time::Duration;

/// A duration written as text: `500ms`, `2s`, `5m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

/// The longest duration any setting accepts: a year. Every duration is added to clocks and
/// multiplied in backoff, so an unbounded one would overflow there instead of failing here.
pub const MAX_SPAN: Duration = Duration::from_secs(365 * 24 * 3600);

impl FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let span = humantime::parse_duration(text.trim()).map_err(|_| {
            format!(
                "invalid duration `{text}`{EXPECTED_SEP}a duration such as 500ms, 10s, 5m or 1h"
            )
        })?;
        if span > MAX_SPAN {
            return Err(format!(
                "duration `{text}` is too long{EXPECTED_SEP}at most 365 days, such as 30s, 15m or 24h"
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

/// An API endpoint: an IP address or DNS name, with an optional port (`10.0.0.10:6443`,
/// `k8s.example.com`, `[fd00::10]:6443`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address or name (IPv6 without brackets).
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

impl Endpoint {
    /// `host:port`, with `default_port` when none was given (IPv6 in brackets).
    pub fn with_port(&self, default_port: u16) -> String {
        let port = self.port.unwrap_or(default_port);
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "invalid endpoint `{text}`{EXPECTED_SEP}an IP address or DNS name with an optional port, such as 192.168.33.100:6443 or k8s.example.com"
            )
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(expected)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(expected()),
            };
            (host, port)
        } else if text.matches(':').count() > 1 {
            (text, None)
        } else {
            match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(expected)
            })
            .transpose()?;
        let is_ip = host.parse::<IpAddr>().is_ok();
        if !is_ip && rfc1123_problem(host).is_some() {
            return Err(expected());
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(_) => f.write_str(&self.with_port(0)),
            None => f.write_str(&self.host),
        }
    }
}

serde_as_string!(Endpoint);

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
        write!(f, "JoinCommand({})", crate::host::REDACTED)
    }
}

const JOIN_EXPECTED: &str = "`kubeadm join HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH` (optionally with --control-plane --certificate-key KEY), as `kubeadm token create --print-join-command` prints it";

impl FromStr for JoinCommand {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid join command: {why}{EXPECTED_SEP}{JOIN_EXPECTED}");
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
            let mut value = |flag: &str| -> Result<String, String> {
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
        s.serialize_str(crate::host::REDACTED)
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
    fn endpoints() {
        let e: Endpoint = "192.168.33.13:6443".parse().unwrap();
        assert_eq!(e.with_port(1), "192.168.33.13:6443");
        let e: Endpoint = "k8s.example.com".parse().unwrap();
        assert_eq!(e.with_port(6443), "k8s.example.com:6443");
        assert_eq!(e.to_string(), "k8s.example.com");
        let e: Endpoint = "[fd00::10]:8443".parse().unwrap();
        assert_eq!(e.with_port(1), "[fd00::10]:8443");
        assert_eq!(e.to_string(), "[fd00::10]:8443");
        for bad in ["", "a:b", "host:0", "Bad_Host", "[fd00::1", "1.2.3.4:99999"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

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
            .unwrap_err();
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
