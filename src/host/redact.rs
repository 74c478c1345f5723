//! Secret redaction at the seam: every command line, output and journal line passes here.

use std::sync::Mutex;

pub use crate::values::secret::REDACTED;

/// The set of secret strings known to this run.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Mutex<Vec<String>>,
}

impl Redactor {
    /// Registers a secret; empty strings are ignored.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets
            .iter()
            .fold(text.to_string(), |acc, s| acc.replace(s.as_str(), REDACTED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_all_occurrences() {
        let r = Redactor::default();
        r.add("abcdef.0123456789abcdef");
        r.add("");
        assert_eq!(
            r.redact("--token abcdef.0123456789abcdef x abcdef.0123456789abcdef"),
            "--token <redacted> x <redacted>"
        );
    }
}
