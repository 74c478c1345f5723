//! IP addresses and networks as the profile writes them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_with::{DeserializeFromStr, SerializeDisplay};

use super::Invalid;

/// An IP address written as a string in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, DeserializeFromStr, SerializeDisplay)]
pub struct Ip(pub IpAddr);

impl FromStr for Ip {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        text.trim().parse().map(Ip).map_err(|e| {
            Invalid::new(
                format!("invalid IP address `{text}`"),
                "an IPv4 or IPv6 address such as 192.168.33.13",
            )
            .because(e)
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
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        let expected = || {
            Invalid::new(
                format!("invalid CIDR `{text}`"),
                "an address and prefix length such as 10.244.0.0/16",
            )
        };
        let (address, prefix) = text.trim().split_once('/').ok_or_else(expected)?;
        let address: IpAddr = address.parse().map_err(|e| expected().because(e))?;
        let prefix: u8 = prefix.parse().map_err(|e| expected().because(e))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(Invalid::new(
                format!("invalid CIDR `{text}`: prefix /{prefix} is longer than {max} bits"),
                format!("a prefix length of at most {max}"),
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
}
