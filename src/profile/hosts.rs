//! `[hosts]`: entries for the managed /etc/hosts block and names to take out of the rest.

use serde::{Deserialize, Serialize};

use crate::values::Ip;

/// `[hosts]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hosts {
    /// Entries written into the managed block (this node's own name and address are added).
    #[serde(default)]
    pub entries: Vec<HostEntry>,
    /// Names removed from /etc/hosts lines outside the block (for example a Vagrant box's
    /// `ubuntu-bionic` on 127.0.1.1).
    #[serde(default)]
    pub remove_names: Vec<String>,
}

/// One `address names...` line of the block.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// The address.
    pub address: Ip,
    /// Host names for it.
    pub names: Vec<String>,
}
