//! `[upgrade]`: the drain kubeconfig is an absolute node path.

use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::locate::keys;

/// Every check on `[upgrade]`.
pub(super) fn check_upgrade(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let drain = &profile.upgrade.drain;
    if let Some(path) = &drain.kubeconfig
        && (!path.starts_with('/') || path.contains(char::is_whitespace) || path.contains(".."))
    {
        out.push(
            Diagnostic::at(
                keys(&["upgrade", "drain", "kubeconfig"]),
                format!("invalid path `{path}`"),
            )
            .expected(
                "an absolute node path without spaces or `..`, such as /etc/kubernetes/admin.conf",
            )
            .help("start the path with `/`; it is resolved under --root"),
        );
    }
    if drain.skip && (drain.force || drain.delete_emptydir_data || drain.kubeconfig.is_some()) {
        out.push(
            Diagnostic::at(
                keys(&["upgrade", "drain", "skip"]),
                "skip = true contradicts the other drain settings",
            )
            .expected("either skip = true alone, or the drain settings without skip")
            .help("remove `skip = true` to drain the node, or remove force, delete_emptydir_data and kubeconfig"),
        );
    }
}
