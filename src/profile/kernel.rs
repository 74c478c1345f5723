//! `[modules]` and `[sysctl]`: kernel modules to load and kernel parameters to set.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::values::EXPECTED_SEP;

/// Modules loaded unless the profile lists its own.
pub const DEFAULT_MODULES: [&str; 2] = ["overlay", "br_netfilter"];

/// Kernel parameters always set (the profile may change their values or add more).
pub const DEFAULT_SYSCTLS: [(&str, &str); 3] = [
    ("net.bridge.bridge-nf-call-iptables", "1"),
    ("net.bridge.bridge-nf-call-ip6tables", "1"),
    ("net.ipv4.ip_forward", "1"),
];

/// `[modules]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modules {
    /// Modules to load now and at every boot.
    #[serde(default = "default_modules")]
    pub load: Vec<String>,
}

fn default_modules() -> Vec<String> {
    DEFAULT_MODULES.iter().map(|m| m.to_string()).collect()
}

impl Default for Modules {
    fn default() -> Self {
        Modules {
            load: default_modules(),
        }
    }
}

/// `[sysctl]` section: the effective kernel parameters, defaults first, in order.
/// Keys may be quoted (`"net.ipv4.ip_forward" = 1`) or written as TOML dotted keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// `(key, value)` pairs, keys in dotted form.
    pub settings: Vec<(String, String)>,
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            settings: DEFAULT_SYSCTLS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

impl Sysctl {
    fn set(&mut self, key: String, value: String) {
        match self.settings.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.settings.push((key, value)),
        }
    }
}

impl Serialize for Sysctl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.settings.len()))?;
        for (k, v) in &self.settings {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A sysctl value as written in TOML: a number, a string, a boolean, or a nested table
/// (from unquoted dotted keys).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawValue {
    Int(i64),
    Text(String),
    Bool(bool),
    Table(toml::Table),
}

fn flatten(prefix: &str, table: toml::Table, out: &mut Sysctl) -> Result<(), String> {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(t) => flatten(&key, t, out)?,
            toml::Value::Integer(i) => out.set(key, i.to_string()),
            toml::Value::String(s) => out.set(key, s),
            toml::Value::Boolean(b) => out.set(key, u8::from(b).to_string()),
            other => {
                return Err(format!(
                    "invalid value for sysctl `{key}`: {}{EXPECTED_SEP}a number or a string such as \"32768 60999\"",
                    other.type_str()
                ));
            }
        }
    }
    Ok(())
}

struct SysctlVisitor;

impl<'de> Visitor<'de> for SysctlVisitor {
    type Value = Sysctl;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table of kernel parameters such as \"net.ipv4.ip_forward\" = 1")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sysctl, A::Error> {
        let mut sysctl = Sysctl::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<RawValue>().map_err(|_| {
                de::Error::custom(format!(
                    "invalid value for sysctl `{key}`{EXPECTED_SEP}a number or a string such as \"32768 60999\""
                ))
            })?;
            match value {
                RawValue::Int(i) => sysctl.set(key, i.to_string()),
                RawValue::Text(s) => sysctl.set(key, s),
                RawValue::Bool(b) => sysctl.set(key, u8::from(b).to_string()),
                RawValue::Table(t) => flatten(&key, t, &mut sysctl).map_err(de::Error::custom)?,
            }
        }
        Ok(sysctl)
    }
}

impl<'de> Deserialize<'de> for Sysctl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SysctlVisitor)
    }
}
