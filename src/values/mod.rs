//! Value types shared by every layer: names, addresses, endpoints, versions, secrets, URL
//! credentials and text positions. Each parses itself with a message saying what was
//! expected. This module is the bottom layer: it depends on no other module of the crate
//! (`tests/architecture.rs` checks the layer order).

pub mod endpoint;
pub mod name;
pub mod net;
pub mod secret;
pub mod text;
pub mod url;
pub mod version;

pub use endpoint::Endpoint;
pub use net::{Cidr, Ip};
pub use secret::{CaHash, CertificateKey, REDACTED, Token};
pub use url::{redact_userinfo, split_userinfo};
pub use version::KubeVersion;

/// Separates the found value from the expectation in messages, so diagnostics can split them.
pub const EXPECTED_SEP: &str = "; expected ";
