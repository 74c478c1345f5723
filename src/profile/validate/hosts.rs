//! `[hosts]`: entries with names that are host names and map to one address each, and
//! names to remove that nothing else needs.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::node::check_host_name;
use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::hosts::HostEntry;
use crate::profile::locate::Seg;
use crate::profile::node::AddressSource;

/// Loopback names the distribution's /etc/hosts carries; removing them breaks local tools.
const LOOPBACK_NAMES: [&str; 4] = [
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
];

/// Where a name was first mapped: `node.address`, or an entry of `hosts.entries`.
#[derive(Clone, Copy)]
enum Origin {
    NodeAddress,
    Entry(usize),
}

/// Every check on `[hosts]`.
pub(super) fn check_hosts(profile: &Profile, out: &mut Vec<Diagnostic>) {
    // Lowercase name -> (address, where): one pass, so validation stays linear in the
    // number of names.
    let mut seen: HashMap<String, (IpAddr, Origin)> = HashMap::new();
    if let AddressSource::Literal(ip) = profile.node.address {
        seen.insert(
            profile.node.name.to_ascii_lowercase(),
            (ip.0, Origin::NodeAddress),
        );
    }
    for (i, entry) in profile.hosts.entries.iter().enumerate() {
        check_entry(i, entry, &mut seen, out);
    }
    check_remove_names(profile, out);
}

fn entry_path(i: usize, rest: &[Seg]) -> Vec<Seg> {
    let mut path = vec![
        Seg::Key("hosts".into()),
        Seg::Key("entries".into()),
        Seg::Index(i),
    ];
    path.extend_from_slice(rest);
    path
}

/// One entry: at least one name, each a host name mapped to no other address.
fn check_entry(
    i: usize,
    entry: &HostEntry,
    seen: &mut HashMap<String, (IpAddr, Origin)>,
    out: &mut Vec<Diagnostic>,
) {
    if entry.names.is_empty() {
        out.push(
            Diagnostic::at(
                entry_path(i, &[Seg::Key("names".into())]),
                "a hosts entry needs at least one name",
            )
            .expected("a list of names such as [\"worker-1\"]")
            .help("add the names this address should answer to, or remove the entry"),
        );
    }
    for (j, name) in entry.names.iter().enumerate() {
        let path = entry_path(i, &[Seg::Key("names".into()), Seg::Index(j)]);
        check_host_name(path.clone(), name, out);
        let (other, origin) = *seen
            .entry(name.to_ascii_lowercase())
            .or_insert((entry.address.0, Origin::Entry(i)));
        if other != entry.address.0 {
            let origin = match origin {
                Origin::NodeAddress => "node.address".to_string(),
                Origin::Entry(at) => format!("hosts.entries[{at}]"),
            };
            out.push(
                Diagnostic::at(
                    path,
                    format!(
                        "`{name}` is mapped to {} here but to {other} by {origin}",
                        entry.address
                    ),
                )
                .expected("each name mapped to one address")
                .help("remove one of the two mappings"),
            );
        }
    }
}

/// Names to remove: host names that are neither loopback names nor names this profile maps.
fn check_remove_names(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let hosts = &profile.hosts;
    let mapped: HashSet<String> = hosts
        .entries
        .iter()
        .flat_map(|e| e.names.iter().map(|n| n.to_ascii_lowercase()))
        .chain([profile.node.name.to_ascii_lowercase()])
        .collect();
    for (i, name) in hosts.remove_names.iter().enumerate() {
        let path = vec![
            Seg::Key("hosts".into()),
            Seg::Key("remove_names".into()),
            Seg::Index(i),
        ];
        check_host_name(path.clone(), name, out);
        let lower = name.to_ascii_lowercase();
        let problem = if LOOPBACK_NAMES.contains(&lower.as_str()) {
            format!("`{name}` is a loopback name that local programs rely on")
        } else if mapped.contains(&lower) {
            format!("`{name}` is both a name to remove and a name this profile maps")
        } else {
            continue;
        };
        out.push(
            Diagnostic::at(path, problem)
                .expected("names to remove that are not loopback names (localhost, ip6-localhost, ...), the node's name, nor in hosts.entries")
                .help("drop it from hosts.remove_names"),
        );
    }
}
