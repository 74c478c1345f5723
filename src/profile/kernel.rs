//! `[modules]` and `[sysctl]`: kernel modules to load and kernel parameters to set.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::diagnostic::Diagnostic;
use super::locate::Seg;
use crate::formats::sysctl_conf::normalize_key;
use crate::values::Invalid;

/// What a sysctl value may be.
const VALUE_EXPECTED: &str = "a number or a string such as \"32768 60999\"";

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
/// Keys may be quoted (`"net.ipv4.ip_forward" = 1`), written as TOML dotted keys, or use `/`
/// as separator (`"net/ipv4/ip_forward"`); all are normalised to one dotted form, so each
/// parameter has one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// `(key, value)` pairs, keys in normalised dotted form.
    pub settings: Vec<(String, String)>,
    /// Every key the profile itself sets: `(normalised key, key path as written under
    /// [sysctl])`, in file order, two spellings of one parameter included (a validation error).
    pub written: Vec<(String, Vec<String>)>,
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            settings: DEFAULT_SYSCTLS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            written: Vec::new(),
        }
    }
}

impl Sysctl {
    /// Sets the parameter written as the key path `written` (one or more TOML keys).
    fn set(&mut self, written: Vec<String>, value: String) {
        let key = normalize_key(&written.join("."));
        self.written.push((key.clone(), written));
        match self.settings.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.settings.push((key, value)),
        }
    }

    /// The profile key path of a normalised key, for error locations (`sysctl.<key>` for a
    /// default the profile does not set).
    pub fn path_of(&self, key: &str) -> Vec<Seg> {
        let mut path = vec![Seg::Key("sysctl".into())];
        match self.written.iter().rev().find(|(k, _)| k == key) {
            Some((_, written)) => path.extend(written.iter().cloned().map(Seg::Key)),
            None => path.push(Seg::Key(key.to_string())),
        }
        path
    }

    /// One problem for each parameter the profile sets under two spellings (slashes and
    /// dots, quoted and dotted keys): the kernel has one value, and the file would flip.
    pub fn check_spellings(&self, out: &mut Vec<Diagnostic>) {
        for (i, (key, written)) in self.written.iter().enumerate() {
            let Some((_, first)) = self.written[..i].iter().find(|(k, _)| k == key) else {
                continue;
            };
            let mut path = vec![Seg::Key("sysctl".into())];
            path.extend(written.iter().cloned().map(Seg::Key));
            out.push(
                Diagnostic::at(
                    path,
                    format!(
                        "`{}` and `{}` are the same kernel parameter `{key}`, set twice",
                        written.join("."),
                        first.join(".")
                    ),
                )
                .expected(
                    "each kernel parameter once (`/` and `.` separators name the same parameter)",
                )
                .help(format!("keep one of the two, written as `\"{key}\" = ...`")),
            );
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

fn flatten(prefix: &[String], table: toml::Table, out: &mut Sysctl) -> Result<(), Invalid> {
    for (key, value) in table {
        let mut path = prefix.to_vec();
        path.push(key);
        match value {
            toml::Value::Table(t) => flatten(&path, t, out)?,
            toml::Value::Integer(i) => out.set(path, i.to_string()),
            toml::Value::String(s) => out.set(path, s),
            toml::Value::Boolean(b) => out.set(path, u8::from(b).to_string()),
            other => {
                return Err(Invalid::new(
                    format!(
                        "invalid value for sysctl `{}`: {}",
                        path.join("."),
                        other.type_str()
                    ),
                    VALUE_EXPECTED,
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
                de::Error::custom(Invalid::new(
                    format!("invalid value for sysctl `{key}`"),
                    VALUE_EXPECTED,
                ))
            })?;
            match value {
                RawValue::Int(i) => sysctl.set(vec![key], i.to_string()),
                RawValue::Text(s) => sysctl.set(vec![key], s),
                RawValue::Bool(b) => sysctl.set(vec![key], u8::from(b).to_string()),
                RawValue::Table(t) => flatten(&[key], t, &mut sysctl).map_err(de::Error::custom)?,
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
