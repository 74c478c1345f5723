//! `profile show`: the effective profile, every default filled in.

use crate::profile::Profile;

/// The effective profile as TOML, for people (and valid as a profile itself).
pub fn human(profile: &Profile) -> String {
    profile.to_toml()
}

/// The effective profile as one JSON object: `{"profile": {...}}`.
pub fn json(profile: &Profile) -> serde_json::Value {
    serde_json::json!({ "profile": profile })
}
