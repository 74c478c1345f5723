//! Value types shared by every layer: names, addresses, endpoints, versions, secrets, URL
//! credentials and text positions. Each parses itself with a message saying what was
//! expected. This module is the bottom layer: it depends on no other module of the crate
//! (`tests/architecture.rs` checks the layer order).

pub mod endpoint;
pub mod image;
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

/// The cause an [`Invalid`] keeps: the parser's own error.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A value that does not parse: what is wrong, and what would be accepted. Shown as
/// `PROBLEM; expected EXPECTED`, the form profile diagnostics split at [`EXPECTED_SEP`]; the
/// parser's own error, when there was one, is kept as the source.
#[derive(Debug, thiserror::Error)]
#[error("{problem}{EXPECTED_SEP}{expected}")]
pub struct Invalid {
    /// What is wrong, naming the value (a secret only by its length).
    pub problem: String,
    /// What would be accepted instead.
    pub expected: String,
    /// Why the underlying parser refused it.
    #[source]
    pub cause: Option<Cause>,
}

impl Invalid {
    /// `problem`, with what was `expected` instead.
    pub fn new(problem: impl Into<String>, expected: impl Into<String>) -> Invalid {
        Invalid {
            problem: problem.into(),
            expected: expected.into(),
            cause: None,
        }
    }

    /// The same error, keeping the parser's own error as its source.
    pub fn because(mut self, cause: impl Into<Cause>) -> Invalid {
        self.cause = Some(cause.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn invalid_shows_problem_and_expectation_and_keeps_its_cause() {
        let cause = "x".parse::<std::net::IpAddr>().unwrap_err();
        let e = Invalid::new("invalid IP address `x`", "an address").because(cause);
        assert_eq!(e.to_string(), "invalid IP address `x`; expected an address");
        assert!(e.source().is_some());
        assert!(Invalid::new("a", "b").source().is_none());
    }
}
