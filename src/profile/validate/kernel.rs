//! `[modules]` and `[sysctl]`: module names, sysctl keys and values, and the bridge
//! sysctls that exist only once br_netfilter is loaded.

use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::kernel::DEFAULT_MODULES;
use crate::profile::locate::{Seg, keys};

/// Every check on `[modules]` and `[sysctl]`.
pub(super) fn check_kernel(profile: &Profile, out: &mut Vec<Diagnostic>) {
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
