//! Profile errors that name the file, line and column, the key, what was expected, and what
//! to do, with the offending line shown.

use std::fmt;
use std::ops::Range;

use toml_edit::Document;

use super::conceal;
use super::locate::{self, Seg};
use crate::values::EXPECTED_SEP;
use crate::values::text::line_col;

/// One problem found in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte span in the source, when known.
    pub span: Option<Range<usize>>,
    /// The key path (`node.address`), when known.
    pub key: Option<String>,
    /// The key path as segments, used to find the span of validation problems.
    pub path: Vec<Seg>,
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
}

/// An invalid or unreadable profile. Nothing on the node is touched when one is returned.
#[derive(Debug)]
pub struct ProfileError {
    /// The profile file as named on the command line.
    pub file: String,
    /// The source text (empty when it could not be read).
    pub source: String,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl std::error::Error for ProfileError {}

impl Diagnostic {
    /// A problem at a key path.
    pub fn at(path: Vec<Seg>, message: impl Into<String>) -> Self {
        Diagnostic {
            span: None,
            key: Some(locate::display(&path)),
            path,
            message: message.into(),
            expected: None,
            help: None,
        }
    }

    /// Adds what was expected.
    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Adds advice.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            let contained = word.len() >= 3
                && (is_subsequence(word, c) || c.contains(word) || word.contains(c));
            let score = strsim::jaro_winkler(word, c);
            (if contained { score.max(0.81) } else { score }, c)
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Whether the characters of `short` appear in `long` in order (`iface` in `interface`).
fn is_subsequence(short: &str, long: &str) -> bool {
    let mut rest = long.chars();
    short.chars().all(|c| rest.any(|l| l == c))
}

/// Words between backticks in a serde message: "unknown field `a`, expected `b` or `c`".
fn ticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// Turns a syntax error into a diagnostic, naming the key written on the offending line.
pub fn from_syntax(err: &toml_edit::TomlError, source: &str) -> Diagnostic {
    let span = err.span();
    Diagnostic {
        key: span.as_ref().and_then(|s| key_on_line(source, s.start)),
        span,
        path: Vec::new(),
        message: format!("TOML syntax error: {}", err.message().trim()),
        expected: None,
        help: Some(
            "check quotes, brackets and `key = value` syntax on this line (strings need double quotes)".into(),
        ),
    }
}

/// The key a line that does not parse was meant to set, read from the text alone (the
/// document has no tree): `table.key` for `key = ...` under `[table]`, or the table name of a
/// header line.
fn key_on_line(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = source[start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| {
        let name = l.trim_start_matches('[').split(']').next().unwrap_or("");
        let name = name.trim_end_matches(']').trim();
        (!name.is_empty()).then(|| name.to_string())
    };
    if line.starts_with('[') {
        return header(line);
    }
    let key = line.split_once('=')?.0.trim();
    if key.is_empty() {
        return None;
    }
    let table = source[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .and_then(header);
    Some(table.map_or_else(|| key.to_string(), |t| format!("{t}.{key}")))
}

/// When `path` is a table and `word` names a key inside it (as one quoted key or as dotted
/// keys), the path of that key: serde reports errors in map values at the whole table.
fn child_path(doc: &Document<&str>, path: &[Seg], word: &str) -> Option<Vec<Seg>> {
    let mut item = doc.as_item();
    for seg in path {
        item = match seg {
            Seg::Key(k) => item.get(k.as_str())?,
            Seg::Index(i) => item.get(*i)?,
        };
    }
    if !item.is_table_like() {
        return None;
    }
    let mut child = path.to_vec();
    if item.get(word).is_some() {
        child.push(Seg::Key(word.to_string()));
        return Some(child);
    }
    let mut nested = item;
    for part in word.split('.') {
        nested = nested.get(part)?;
        child.push(Seg::Key(part.to_string()));
    }
    Some(child)
}

/// Turns a deserialization error into a diagnostic, naming the key and suggesting a fix.
pub fn from_serde(err: &toml::de::Error, doc: &Document<&str>) -> Diagnostic {
    let message = err.message().trim().to_string();
    let words = ticked(&message);
    let (mut path, span) = serde_location(err, doc, &words);
    let mut d = Diagnostic {
        span,
        key: None,
        path: Vec::new(),
        message: message.clone(),
        expected: None,
        help: None,
    };
    if message.starts_with("unknown field") {
        unknown_field(&mut d, &words);
    } else if message.starts_with("unknown variant") {
        unknown_variant(&mut d, &words);
    } else if message.starts_with("missing field") {
        let field = words.first().copied().unwrap_or("");
        d.message = format!("missing required key `{field}`");
        d.help = Some(if path.is_empty() {
            format!("add a [{field}] section")
        } else {
            format!("add `{field} = ...` under [{}]", locate::display(&path))
        });
        path.push(Seg::Key(field.to_string()));
    } else if message.starts_with("invalid type") {
        let (found, expected) = message
            .trim_start_matches("invalid type: ")
            .split_once(", expected ")
            .unwrap_or((&message, ""));
        d.message = format!("wrong type: found {found}");
        d.expected = Some(expected.to_string());
        d.help = Some(
            "strings need double quotes; lists use [ ... ]; tables use { ... } or [section]".into(),
        );
    } else if let Some((what, expected)) = message.split_once(EXPECTED_SEP) {
        d.message = what.to_string();
        d.expected = Some(expected.to_string());
        d.help = Some("replace the value with one of the form expected".into());
    }
    if !path.is_empty() {
        d.key = Some(locate::display(&path));
        d.path = path;
    }
    d
}

/// The key path and span a deserialization error points at: the table or value at fault,
/// narrowed to the key inside it that the message names.
fn serde_location(
    err: &toml::de::Error,
    doc: &Document<&str>,
    words: &[&str],
) -> (Vec<Seg>, Option<Range<usize>>) {
    let span = err.span();
    // An empty span at 0 is how the deserializer points at the whole document (a missing
    // top-level key); any other span points into the table or value at fault.
    let path = span
        .as_ref()
        .filter(|s| !s.is_empty())
        .map(|s| locate::path_at(doc, s.start))
        .unwrap_or_default();
    match words.iter().find_map(|w| child_path(doc, &path, w)) {
        Some(child) => {
            let child_span = locate::span_of(doc, &child);
            (child, child_span.or(span))
        }
        None => (path, span),
    }
}

/// "unknown field `a`, expected `b` or `c`": the keys allowed here, and the nearest one.
fn unknown_field(d: &mut Diagnostic, words: &[&str]) {
    let candidates: Vec<&str> = words.iter().skip(1).copied().collect();
    d.message = format!("unknown key `{}`", words.first().unwrap_or(&""));
    d.expected = Some(if candidates.is_empty() {
        "no keys here".to_string()
    } else {
        format!("one of: {}", candidates.join(", "))
    });
    d.help = Some(
        match words
            .first()
            .and_then(|w| suggest(w, candidates.iter().copied()))
        {
            Some(near) => format!("did you mean `{near}`?"),
            None => "remove the key, or check the section it is in".into(),
        },
    );
}

/// "unknown variant `a`, expected `b` or `c`": the values allowed, and the one meant (the
/// words other tools use for a role included).
fn unknown_variant(d: &mut Diagnostic, words: &[&str]) {
    let found = words.first().copied().unwrap_or("");
    let candidates: Vec<&str> = words.iter().skip(1).copied().collect();
    d.message = format!("unknown value `{found}`");
    d.expected = Some(format!("one of: {}", candidates.join(", ")));
    let near = match found {
        "master" | "controlplane" | "control_plane" | "cp" => Some("control-plane"),
        "node" | "agent" | "minion" => Some("worker"),
        _ => suggest(found, candidates.iter().copied()),
    };
    d.help = Some(near.map_or_else(
        || "use one of the values listed as expected".to_string(),
        |n| format!("did you mean \"{n}\"?"),
    ));
}

impl ProfileError {
    /// An invalid profile: the source kept for snippets has its secrets masked, and every
    /// message is scrubbed of them, so no renderer can show a secret (see `conceal`).
    pub fn new(file: &str, source: &str, mut diagnostics: Vec<Diagnostic>) -> Self {
        let concealed = conceal::conceal(source);
        for d in &mut diagnostics {
            d.message = concealed.scrub(&d.message);
            for text in [&mut d.key, &mut d.expected, &mut d.help]
                .into_iter()
                .flatten()
            {
                *text = concealed.scrub(text);
            }
        }
        ProfileError {
            file: file.to_string(),
            source: concealed.source,
            diagnostics,
        }
    }

    /// A profile file that could not be read.
    pub fn unreadable(file: &str, err: &std::io::Error) -> Self {
        ProfileError {
            file: file.to_string(),
            source: String::new(),
            diagnostics: vec![Diagnostic {
                span: None,
                key: None,
                path: Vec::new(),
                message: format!("cannot read the profile: {err}"),
                expected: None,
                help: Some("check the path given to --profile".into()),
            }],
        }
    }

    /// Lines `file:line:col: message` only, one per problem (for JSON output and tests).
    pub fn summary_lines(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .map(|d| {
                let key = d
                    .key
                    .as_deref()
                    .map(|k| format!(" [{k}]"))
                    .unwrap_or_default();
                format!("{}:{key} {}", self.location(d), d.message)
            })
            .collect()
    }

    /// `file:line:col` of a problem, or just `file` when its place is unknown (never a
    /// made-up `:0:0`).
    fn location(&self, d: &Diagnostic) -> String {
        match &d.span {
            Some(s) => {
                let (line, col) = line_col(&self.source, s.start);
                format!("{}:{line}:{col}", self.file)
            }
            None => self.file.clone(),
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.diagnostics.len();
        writeln!(
            f,
            "invalid profile {}: {count} problem{}; nothing was changed",
            self.file,
            if count == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            let (line, col) = d
                .span
                .as_ref()
                .map_or((0, 0), |s| line_col(&self.source, s.start));
            writeln!(f)?;
            let at = self.location(d);
            match &d.key {
                Some(key) => writeln!(f, "{at}: {key}: {}", d.message)?,
                None => writeln!(f, "{at}: {}", d.message)?,
            }
            if let Some(span) = &d.span
                && let Some(text) = self.source.lines().nth(line.saturating_sub(1))
            {
                let width = line.to_string().len();
                let len = span
                    .len()
                    .clamp(1, text.chars().count().saturating_sub(col - 1).max(1));
                writeln!(f, "{:width$} |", "")?;
                writeln!(f, "{line} | {text}")?;
                writeln!(
                    f,
                    "{:width$} | {}{}",
                    "",
                    " ".repeat(col - 1),
                    "^".repeat(len)
                )?;
            }
            if let Some(expected) = &d.expected {
                writeln!(f, "  expected: {expected}")?;
            }
            if let Some(help) = &d.help {
                writeln!(f, "  help: {help}")?;
            }
        }
        Ok(())
    }
}
