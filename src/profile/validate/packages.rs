//! `[packages]`: the bundle a bundle install needs, node paths, and no_proxy entries.

use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::locate::{Seg, keys};
use crate::profile::packages::Method;
use crate::values::Cidr;

/// Every check on `[packages]`.
pub(super) fn check_packages(profile: &Profile, out: &mut Vec<Diagnostic>) {
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
            || (entry.contains([',', ' ', '/']) && entry.parse::<Cidr>().is_err())
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
