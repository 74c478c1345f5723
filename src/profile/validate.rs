//! Checks on a parsed profile that types alone cannot express: name syntax, contradictions.

use std::collections::{HashMap, HashSet};

use super::Profile;
use super::diagnostic::Diagnostic;
use super::kernel::DEFAULT_MODULES;
use super::locate::{Seg, keys};
use super::node::AddressSource;
use super::packages::Method;
use crate::values::name::{interface_name_ok, rfc1123_fix, rfc1123_problem};

const NAME_EXPECTED: &str = "a lowercase RFC 1123 name: letters a-z, digits and `-`, dot-separated labels, such as worker-1";

fn check_host_name(path: Vec<Seg>, name: &str, out: &mut Vec<Diagnostic>) {
    if let Some(problem) = rfc1123_problem(&name.to_ascii_lowercase()) {
        out.push(
            Diagnostic::at(path, format!("invalid host name `{name}`: {problem}"))
                .expected(NAME_EXPECTED)
                .help(format!("use `{}`", rfc1123_fix(name))),
        );
    }
}

fn check_node(profile: &Profile, out: &mut Vec<Diagnostic>) {
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

/// Loopback names the distribution's /etc/hosts carries; removing them breaks local tools.
const LOOPBACK_NAMES: [&str; 4] = [
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
];

fn check_hosts(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let hosts = &profile.hosts;
    // Lowercase name -> (address, entry index; usize::MAX for node.address): one pass, so
    // validation stays linear in the number of names.
    let mut seen: HashMap<String, (std::net::IpAddr, usize)> = HashMap::new();
    if let AddressSource::Literal(ip) = profile.node.address {
        seen.insert(profile.node.name.to_ascii_lowercase(), (ip.0, usize::MAX));
    }
    for (i, entry) in hosts.entries.iter().enumerate() {
        let base = || {
            vec![
                Seg::Key("hosts".into()),
                Seg::Key("entries".into()),
                Seg::Index(i),
            ]
        };
        if entry.names.is_empty() {
            let mut path = base();
            path.push(Seg::Key("names".into()));
            out.push(
                Diagnostic::at(path, "a hosts entry needs at least one name")
                    .expected("a list of names such as [\"worker-1\"]")
                    .help("add the names this address should answer to, or remove the entry"),
            );
        }
        for (j, name) in entry.names.iter().enumerate() {
            let mut path = base();
            path.extend([Seg::Key("names".into()), Seg::Index(j)]);
            check_host_name(path.clone(), name, out);
            let first = *seen
                .entry(name.to_ascii_lowercase())
                .or_insert((entry.address.0, i));
            if let (other, at) = first
                && other != entry.address.0
            {
                let origin = if at == usize::MAX {
                    "node.address".to_string()
                } else {
                    format!("hosts.entries[{at}]")
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
            Some(format!(
                "`{name}` is a loopback name that local programs rely on"
            ))
        } else if mapped.contains(&lower) {
            Some(format!(
                "`{name}` is both a name to remove and a name this profile maps"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(
                Diagnostic::at(path, problem)
                    .expected("names to remove that are not loopback names (localhost, ip6-localhost, ...), the node's name, nor in hosts.entries")
                    .help("drop it from hosts.remove_names"),
            );
        }
    }
}

fn check_kernel(profile: &Profile, out: &mut Vec<Diagnostic>) {
    for (i, module) in profile.modules.load.iter().enumerate() {
        if module.is_empty()
            || module.starts_with('-')
            || !module
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(
                Diagnostic::at(
                    vec![
                        Seg::Key("modules".into()),
                        Seg::Key("load".into()),
                        Seg::Index(i),
                    ],
                    format!("invalid module name `{module}`"),
                )
                .expected("a kernel module name such as br_netfilter")
                .help("use the name `lsmod` or `modinfo` shows (letters, digits, `_` and `-`)"),
            );
        }
    }
    let loads_bridge = profile
        .modules
        .load
        .iter()
        .any(|m| m.replace('-', "_") == DEFAULT_MODULES[1]);
    profile.sysctl.check_spellings(out);
    for (key, value) in &profile.sysctl.settings {
        let path = profile.sysctl.path_of(key);
        let valid_key = !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..")
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
            && crate::formats::sysctl_conf::stays_in_proc_sys(key);
        if !valid_key {
            out.push(
                Diagnostic::at(path.clone(), format!("invalid sysctl key `{key}`"))
                    .expected("a dotted kernel parameter name such as net.ipv4.ip_forward")
                    .help("write the key as `sysctl -a` prints it"),
            );
        }
        if value.trim().is_empty() || value.contains(['\n', '\r']) {
            out.push(
                Diagnostic::at(path.clone(), format!("invalid value for sysctl `{key}`"))
                    .expected("a non-empty single-line value")
                    .help("give the value `sysctl -w` would take, or remove the key"),
            );
        }
    }
    // Located at modules.load, the key to change: the bridge sysctls may be defaults that
    // appear nowhere in the file.
    let bridge: Vec<&str> = (profile.sysctl.settings.iter())
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("net.bridge."))
        .collect();
    if !bridge.is_empty() && !loads_bridge {
        out.push(
            Diagnostic::at(
                keys(&["modules", "load"]),
                format!(
                    "`{}` exist{} only when br_netfilter is loaded, but modules.load leaves it out",
                    bridge.join("`, `"),
                    if bridge.len() == 1 { "s" } else { "" }
                ),
            )
            .expected("br_netfilter in modules.load")
            .help("add \"br_netfilter\" to modules.load"),
        );
    }
}

fn check_containerd(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let c = &profile.containerd;
    let at = |key: &str| keys(&["containerd", key]);
    for (key, value) in [
        ("config_path", &c.config_path),
        ("socket", &c.socket),
        ("cni_bin_dir", &c.cni_bin_dir),
    ] {
        if !value.starts_with('/') || value.contains(char::is_whitespace) {
            out.push(
                Diagnostic::at(at(key), format!("`{value}` is not an absolute path"))
                    .expected("an absolute path such as /etc/containerd/config.toml"),
            );
        }
    }
    let valid_package = c.package.len() > 1
        && c.package
            .starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && c.package
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "+-.".contains(ch));
    if !valid_package {
        out.push(
            Diagnostic::at(
                at("package"),
                format!("invalid package name `{}`", c.package),
            )
            .expected("a Debian package name such as containerd or containerd.io"),
        );
    }
    if let Some(image) = &c.sandbox_image
        && (image.is_empty() || image.contains(char::is_whitespace) || !image.contains([':', '@']))
    {
        out.push(
            Diagnostic::at(
                at("sandbox_image"),
                format!("invalid image reference `{image}`"),
            )
            .expected("an image with a tag or digest, such as registry.k8s.io/pause:3.10"),
        );
    }
    for (registry, mirrors) in &c.mirrors {
        let path = || {
            vec![
                Seg::Key("containerd".into()),
                Seg::Key("mirrors".into()),
                Seg::Key(registry.clone()),
            ]
        };
        if let Some(problem) = super::containerd::registry_problem(registry) {
            out.push(
                Diagnostic::at(
                    path(),
                    format!("invalid registry name {registry:?}: {problem}"),
                )
                .expected("a registry host[:port] such as docker.io or registry.example:5000"),
            );
        }
        for (i, mirror) in mirrors.iter().enumerate() {
            if let Some(problem) = super::containerd::mirror_problem(mirror) {
                let mut p = path();
                p.push(Seg::Index(i));
                out.push(
                    Diagnostic::at(p, format!("invalid mirror URL {mirror:?}: {problem}"))
                        .expected("an http:// or https:// URL such as https://mirror.gcr.io"),
                );
            }
        }
    }
}

fn check_packages(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let packages = &profile.packages;
    let at = |key: &str| keys(&["packages", key]);
    if packages.method == Method::Bundle && packages.bundle.is_none() {
        out.push(
            Diagnostic::at(at("method"), "method = \"bundle\" needs packages.bundle")
                .expected("packages.bundle: a directory or .tar.gz on the node, such as \"/var/lib/bootstrap/k8s-bundle.tar.gz\"")
                .help("add `bundle = \"...\"` to [packages], or use method = \"binary\""),
        );
    }
    let paths = [
        ("install_dir", Some(&packages.install_dir)),
        ("bundle", packages.bundle.as_ref()),
    ];
    for (key, path) in paths {
        if let Some(path) = path
            && (!path.starts_with('/') || path.contains(char::is_whitespace))
        {
            out.push(
                Diagnostic::at(at(key), format!("invalid path `{path}`"))
                    .expected("an absolute node path without spaces, such as /usr/local/bin")
                    .help("start the path with `/`; it is resolved under --root"),
            );
        }
    }
    for (i, entry) in packages.no_proxy.iter().flatten().enumerate() {
        if entry.trim().is_empty()
            || (entry.contains([',', ' ', '/']) && entry.parse::<crate::values::Cidr>().is_err())
        {
            out.push(
                Diagnostic::at(
                    vec![Seg::Key("packages".into()), Seg::Key("no_proxy".into()), Seg::Index(i)],
                    format!("invalid no_proxy entry `{entry}`"),
                )
                .expected("one host, .domain or network per entry, such as \".cluster.local\" or \"10.0.0.0/8\"")
                .help("split a comma-separated NO_PROXY value into one list item per entry"),
            );
        }
    }
}

/// Every problem with `profile`, in no particular order (spans are filled in by the caller).
pub fn validate(profile: &Profile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_node(profile, &mut out);
    check_hosts(profile, &mut out);
    check_kernel(profile, &mut out);
    check_containerd(profile, &mut out);
    check_packages(profile, &mut out);
    super::kubernetes::validate(profile, &mut out);
    super::kubeadm::validate(profile, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123() {
        assert_eq!(rfc1123_problem("worker-1"), None);
        assert_eq!(rfc1123_problem("a.b-c.d"), None);
        assert!(rfc1123_problem("Worker").is_some());
        assert!(rfc1123_problem("-a").is_some());
        assert!(rfc1123_problem("a..b").is_some());
        assert!(rfc1123_problem("a_b").is_some());
        assert!(rfc1123_problem(&"a".repeat(64)).is_some());
        assert_eq!(rfc1123_fix("My_Node"), "my-node");
    }
}
