//! `[node]`: who this machine is.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::{Invalid, Ip};

/// `[node]`: the node's name, role and address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Node name: a lowercase RFC 1123 subdomain, used in /etc/hosts and by kubeadm. Empty
    /// (left out) means the machine's hostname, lowercased, as kubeadm defaults it: one
    /// cloud-init user-data then serves many machines.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `control-plane` or `worker`.
    pub role: Role,
    /// The address other nodes reach this one at.
    #[serde(default)]
    pub address: AddressSource,
}

/// What the node does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the API server, etcd, scheduler and controller manager.
    ControlPlane,
    /// Runs workloads only.
    Worker,
}

/// Where the node address comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AddressSource {
    /// The first address of the interface holding the default route (`"auto"`).
    #[default]
    Auto,
    /// A literal address.
    Literal(Ip),
    /// The first address of a named interface (`{ interface = "eth1" }`), as the classic
    /// Vagrant `IFNAME` script does.
    Interface(String),
}

impl Serialize for AddressSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            AddressSource::Auto => s.serialize_str("auto"),
            AddressSource::Literal(ip) => ip.serialize(s),
            AddressSource::Interface(name) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("interface", name)?;
                map.end()
            }
        }
    }
}

struct AddressVisitor;

const ADDRESS_EXPECTED: &str =
    "an IP address such as \"192.168.33.13\", \"auto\", or { interface = \"eth1\" }";

impl<'de> Visitor<'de> for AddressVisitor {
    type Value = AddressSource;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(ADDRESS_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AddressSource, E> {
        if v == "auto" {
            return Ok(AddressSource::Auto);
        }
        v.trim()
            .parse()
            .map(|ip| AddressSource::Literal(Ip(ip)))
            .map_err(|e| {
                E::custom(
                    Invalid::new(format!("invalid address `{v}`"), ADDRESS_EXPECTED).because(e),
                )
            })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressSource, A::Error> {
        let mut interface = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "interface" {
                return Err(de::Error::unknown_field(&key, &["interface"]));
            }
            interface = Some(map.next_value::<String>()?);
        }
        interface
            .map(AddressSource::Interface)
            .ok_or_else(|| de::Error::missing_field("interface"))
    }
}

impl<'de> Deserialize<'de> for AddressSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AddressVisitor)
    }
}
