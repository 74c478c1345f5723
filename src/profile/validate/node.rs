//! `[node]`: the node name and the interface its address is read from; host names
//! anywhere in the profile.

use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::locate::{Seg, keys};
use crate::profile::node::AddressSource;
use crate::values::name::{interface_name_ok, rfc1123_fix, rfc1123_problem};

const NAME_EXPECTED: &str = "a lowercase RFC 1123 name: letters a-z, digits and `-`, dot-separated labels, such as worker-1";

/// A host name: a lowercase RFC 1123 name once lowercased.
pub(super) fn check_host_name(path: Vec<Seg>, name: &str, out: &mut Vec<Diagnostic>) {
    if let Some(problem) = rfc1123_problem(&name.to_ascii_lowercase()) {
        out.push(
            Diagnostic::at(path, format!("invalid host name `{name}`: {problem}"))
                .expected(NAME_EXPECTED)
                .help(format!("use `{}`", rfc1123_fix(name))),
        );
    }
}

/// The node name, and the interface of `node.address`.
pub(super) fn check_node(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let name = &profile.node.name;
    if let Some(problem) = rfc1123_problem(name).filter(|_| !name.is_empty()) {
        out.push(
            Diagnostic::at(
                keys(&["node", "name"]),
                format!("invalid node name `{name}`: {problem}"),
            )
            .expected(NAME_EXPECTED)
            .help(format!(
                "Kubernetes node names must be lowercase RFC 1123 subdomains; use \"{}\"",
                rfc1123_fix(name)
            )),
        );
    }
    if let AddressSource::Interface(iface) = &profile.node.address
        && !interface_name_ok(iface)
    {
        out.push(
            Diagnostic::at(
                keys(&["node", "address", "interface"]),
                format!("invalid interface name `{iface}`"),
            )
            .expected("a network interface name of 1-15 characters without `/`, `:` or spaces, such as eth1")
            .help("list interfaces with `ip -br link`"),
        );
    }
}
