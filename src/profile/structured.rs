//! Profile problems as data, for `--output json`: each with file, line, column, key, what is
//! wrong, what was expected and what to do, so tools need not parse the rendered text.

use serde::Serialize;

use super::diagnostic::ProfileError;
use crate::values::text::line_col;

/// One located problem of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The profile file as named on the command line.
    pub file: String,
    /// 1-based line, when the problem has a location.
    pub line: Option<usize>,
    /// 1-based column, when the problem has a location.
    pub column: Option<usize>,
    /// The key path (`node.address`), when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
}

impl ProfileError {
    /// Every problem as data, in file order.
    pub fn located(&self) -> Vec<Located> {
        self.diagnostics
            .iter()
            .map(|d| {
                let at = d.span.as_ref().map(|s| line_col(&self.source, s.start));
                Located {
                    file: self.file.clone(),
                    line: at.map(|a| a.0),
                    column: at.map(|a| a.1),
                    key: d.key.clone(),
                    message: d.message.clone(),
                    expected: d.expected.clone(),
                    help: d.help.clone(),
                }
            })
            .collect()
    }
}
