//! The declarative profile (TOML): types with defaults, loading, and validation whose errors
//! name file, line, column, key, expectation and fix.

pub mod access;
mod collect;
pub mod conceal;
pub mod containerd;
pub mod diagnostic;
pub mod hosts;
pub mod kernel;
pub mod kubeadm;
pub mod kubernetes;
pub mod locate;
pub mod node;
pub mod packages;
pub mod structured;
pub mod swap;
pub mod upgrade;
pub mod validate;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use diagnostic::{Diagnostic, ProfileError};
pub use node::{AddressSource, Role};

/// A whole profile, with defaults filled in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `[node]`: name, role and address. Required.
    pub node: node::Node,
    /// `[hosts]`: the managed /etc/hosts block.
    #[serde(default)]
    pub hosts: hosts::Hosts,
    /// `[modules]`: kernel modules to load and persist.
    #[serde(default)]
    pub modules: kernel::Modules,
    /// `[sysctl]`: kernel parameters to set and persist.
    #[serde(default)]
    pub sysctl: kernel::Sysctl,
    /// `[swap]`: swap policy.
    #[serde(default)]
    pub swap: swap::Swap,
    /// `[containerd]`: runtime install and configuration.
    #[serde(default)]
    pub containerd: containerd::Containerd,
    /// `[kubernetes]`: release and shared cluster settings; absent for node prep only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<kubernetes::Kubernetes>,
    /// `[packages]`: how the Kubernetes binaries are installed.
    #[serde(default)]
    pub packages: packages::Packages,
    /// `[kubeadm]`: cluster formation (kubeadm init or join); absent for node prep only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeadm: Option<kubeadm::Kubeadm>,
    /// `[upgrade]`: how `bootstrap upgrade` and `bootstrap drain` treat this node.
    #[serde(default)]
    pub upgrade: upgrade::Upgrade,
    /// `[access]`: RBAC objects applied on the first control plane after init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<access::Access>,
}

/// The largest profile read: real ones are a few kilobytes; a bigger file is a mistake (or
/// `/dev/zero`) and is refused before it fills memory.
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// Reads at most [`MAX_PROFILE_BYTES`] of a profile, as UTF-8 text.
fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_PROFILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_PROFILE_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {} KiB; a profile is a small TOML file (is this the right path?)",
            MAX_PROFILE_BYTES / 1024
        )));
    }
    Ok(text)
}

impl Profile {
    /// Parses and validates profile text; `file` names it in messages.
    pub fn parse(source: &str, file: &str) -> Result<Profile, ProfileError> {
        let fail = |diagnostics| ProfileError::new(file, source, diagnostics);
        let doc = toml_edit::Document::parse(source)
            .map_err(|e| fail(vec![diagnostic::from_syntax(&e, source)]))?;
        // Every problem at once: all deserialisation problems, then validation of what
        // deserialised (except at keys whose value is a stand-in for a bad one).
        let collected = collect::collect(source);
        let mut problems = collected.problems;
        if let Some(profile) = collected.profile {
            let checked = validate::validate(&profile)
                .into_iter()
                .filter(|d| !collected.replaced.iter().any(|r| d.path.starts_with(r)));
            for mut d in checked {
                d.span = locate::span_of(&doc, &d.path);
                problems.push(d);
            }
            if problems.is_empty() {
                return Ok(profile);
            }
        }
        problems.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
        Err(fail(problems))
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        let source = read_capped(path).map_err(|e| ProfileError::unreadable(&file, &e))?;
        Profile::parse(&source, &file)
    }

    /// The effective profile as TOML, defaults included.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = Profile::parse("[node]\nname = \"n1\"\nrole = \"worker\"\n", "p.toml").unwrap();
        assert_eq!(p.node.address, AddressSource::Auto);
        assert_eq!(p.modules.load, vec!["overlay", "br_netfilter"]);
        assert_eq!(p.sysctl.settings.len(), 3);
        assert_eq!(p.swap.policy, swap::SwapPolicy::Off);
        let again = Profile::parse(&p.to_toml(), "shown.toml").unwrap();
        assert_eq!(again.to_toml(), p.to_toml());
    }

    #[test]
    fn sysctl_dotted_and_quoted_keys_merge_over_defaults() {
        let src = "[node]\nname = \"n\"\nrole = \"worker\"\n[sysctl]\n\"net.ipv4.ip_forward\" = 1\nvm.max_map_count = 262144\nnet.ipv4.ip_local_port_range = \"32768 60999\"\n";
        let p = Profile::parse(src, "p.toml").unwrap();
        let keys: Vec<&str> = p.sysctl.settings.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "net.bridge.bridge-nf-call-iptables",
                "net.bridge.bridge-nf-call-ip6tables",
                "net.ipv4.ip_forward",
                "vm.max_map_count",
                "net.ipv4.ip_local_port_range"
            ]
        );
    }

    #[test]
    fn unknown_key_is_located_with_suggestion() {
        let src = "[node]\nnmae = \"n\"\nrole = \"worker\"\n";
        let err = Profile::parse(src, "p.toml").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("p.toml:2:1: node.nmae: unknown key `nmae`"),
            "{text}"
        );
        assert!(text.contains("did you mean `name`?"), "{text}");
    }

    #[test]
    fn role_master_suggests_control_plane() {
        let src = "[node]\nname = \"n\"\nrole = \"master\"\n";
        let text = Profile::parse(src, "p.toml").unwrap_err().to_string();
        assert!(
            text.contains("p.toml:3:8: node.role: unknown value `master`"),
            "{text}"
        );
        assert!(text.contains("did you mean \"control-plane\"?"), "{text}");
    }
}
