//! API endpoints: an IP address or DNS name with an optional port.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_with::{DeserializeFromStr, SerializeDisplay};

use super::Invalid;
use super::name::rfc1123_problem;

/// An API endpoint: an IP address or DNS name, with an optional port (`10.0.0.10:6443`,
/// `k8s.example.com`, `[fd00::10]:6443`).
#[derive(Debug, Clone, PartialEq, Eq, DeserializeFromStr, SerializeDisplay)]
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
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let expected = || {
            Invalid::new(
                format!("invalid endpoint `{text}`"),
                "an IP address or DNS name with an optional port, such as 192.168.33.100:6443 or k8s.example.com",
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
}
