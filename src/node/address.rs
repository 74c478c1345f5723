//! Resolving this node's address from the profile: a literal, a named interface, or the
//! interface of the default route. On the real root they are read with `ip -j`; under any
//! other `--root` from that root's `/proc/net` files ([`super::procnet`]), since `ip` would
//! describe the machine running bootstrap instead; a root without them needs a literal.

use std::net::IpAddr;

use serde::Deserialize;

use super::procnet;
use crate::host::{Command, Host, HostError};
use crate::profile::AddressSource;

/// Why the address could not be found.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// `ip` could not be run.
    #[error("cannot read network addresses: {0}")]
    Host(#[from] HostError),
    /// `ip` failed or printed something unexpected.
    #[error("`{command}` failed: {detail}")]
    Ip {
        /// The command.
        command: String,
        /// What went wrong.
        detail: String,
    },
    /// The interface has no usable address.
    #[error(
        "interface {interface} has no global IPv4 or IPv6 address; set node.address to an address, or to {{ interface = \"...\" }} naming another interface"
    )]
    NoAddress {
        /// The interface.
        interface: String,
    },
    /// A `--root` other than `/` without the network files to read the address from.
    #[error(
        "node.address is read from the node's network, but {root}/proc/net has no route or address files (with --root other than /, bootstrap does not read this machine's interfaces): set node.address to the node's literal address"
    )]
    NotInRoot {
        /// The root.
        root: String,
    },
    /// No default route to pick an interface from.
    #[error(
        "this machine has no default route, so node.address = \"auto\" cannot pick an interface; set node.address in the profile"
    )]
    NoDefaultRoute,
}

#[derive(Deserialize)]
struct Route {
    dev: Option<String>,
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Deserialize)]
struct AddrInfo {
    family: String,
    local: Option<String>,
    scope: Option<String>,
}

fn ip_json<T: for<'de> Deserialize<'de>>(host: &Host, args: &[&str]) -> Result<T, AddressError> {
    let command = Command::new("ip").args(args.iter().copied());
    let output = host.run(&command)?;
    let fail = |detail: String| AddressError::Ip {
        command: command.display(),
        detail,
    };
    if !output.success() {
        return Err(fail(output.tail(3)));
    }
    let text = if output.stdout.trim().is_empty() {
        "[]"
    } else {
        output.stdout.trim()
    };
    serde_json::from_str(text).map_err(|e| fail(format!("unexpected output: {e}")))
}

fn default_interface(host: &Host) -> Result<String, AddressError> {
    for family in ["-4", "-6"] {
        let routes: Vec<Route> = ip_json(host, &["-j", family, "route", "show", "default"])?;
        if let Some(dev) = routes.into_iter().find_map(|r| r.dev) {
            return Ok(dev);
        }
    }
    Err(AddressError::NoDefaultRoute)
}

fn interface_address(host: &Host, interface: &str) -> Result<IpAddr, AddressError> {
    let links: Vec<Link> = ip_json(host, &["-j", "addr", "show", "dev", interface])?;
    let infos: Vec<AddrInfo> = links.into_iter().flat_map(|l| l.addr_info).collect();
    ["inet", "inet6"]
        .iter()
        .find_map(|family| {
            infos
                .iter()
                .filter(|a| {
                    a.family == *family && a.scope.as_deref().unwrap_or("global") == "global"
                })
                .find_map(|a| a.local.as_deref()?.parse().ok())
        })
        .ok_or_else(|| AddressError::NoAddress {
            interface: interface.to_string(),
        })
}

/// The node's address according to `source`.
pub fn resolve(host: &Host, source: &AddressSource) -> Result<IpAddr, AddressError> {
    match source {
        AddressSource::Literal(ip) => Ok(ip.0),
        _ if !host.is_real_root() => resolve_in_root(host, source),
        AddressSource::Interface(name) => interface_address(host, name),
        AddressSource::Auto => interface_address(host, &default_interface(host)?),
    }
}

/// `source` resolved from the root's own `/proc/net` files.
fn resolve_in_root(host: &Host, source: &AddressSource) -> Result<IpAddr, AddressError> {
    let read =
        |path: &str| -> Result<String, AddressError> { Ok(host.read(path)?.unwrap_or_default()) };
    let route = read("/proc/net/route")?;
    let ipv6_route = read("/proc/net/ipv6_route")?;
    let fib_trie = read("/proc/net/fib_trie")?;
    let if_inet6 = read("/proc/net/if_inet6")?;
    if [&route, &ipv6_route, &fib_trie, &if_inet6]
        .iter()
        .all(|t| t.trim().is_empty())
    {
        return Err(AddressError::NotInRoot {
            root: host.root().display().to_string(),
        });
    }
    let interface = match source {
        AddressSource::Interface(name) => name.clone(),
        _ => procnet::default_interface(&route, &ipv6_route).ok_or(AddressError::NoDefaultRoute)?,
    };
    procnet::interface_address(&interface, &route, &fib_trie, &if_inet6)
        .ok_or(AddressError::NoAddress { interface })
}
