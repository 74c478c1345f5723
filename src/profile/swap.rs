//! `[swap]`: what to do about swap.

use serde::{Deserialize, Serialize};

/// `[swap]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swap {
    /// `off` (default): swap off now and at every boot, as the kubelet requires by default.
    /// `keep`: leave swap alone (the kubelet must then be configured for swap).
    #[serde(default)]
    pub policy: SwapPolicy,
}

/// The swap policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwapPolicy {
    /// Turn swap off and keep it off.
    #[default]
    Off,
    /// Leave swap as it is.
    Keep,
}
