//! Where each scalar of a YAML document sits in its text, with its path from the root
//! (mapping keys, sequence indexes as numbers), from the positions `yaml-rust2`'s parser
//! gives its events. A minimal edit replaces one span and keeps every other byte.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One scalar value (not a key) and its byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Keys and indexes from the root of the first document.
    pub path: Vec<String>,
    /// The scalar's value.
    pub value: String,
    /// Byte offset of its first character (a quote for a quoted scalar).
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// A container being walked: a mapping waiting for a key or a value, or a sequence.
enum Frame {
    Map { key: Option<String> },
    Seq { next: usize },
}

struct Walker<'a> {
    text: &'a str,
    stack: Vec<Frame>,
    path: Vec<String>,
    spans: Vec<Span>,
    error: Option<String>,
}

impl Walker<'_> {
    /// Called before a value (scalar or container) is seen: the path segment it sits at.
    /// Returns `None` when the value is a mapping key.
    fn enter(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { next }) => {
                *next += 1;
                Some((*next - 1).to_string())
            }
            Some(Frame::Map { key }) => key.take(),
        }
    }

    fn scalar(&mut self, value: String, style: TScalarStyle, mark: Marker) {
        let Some(segment) = self.enter() else {
            if let Some(Frame::Map { key }) = self.stack.last_mut() {
                *key = Some(value);
            }
            return;
        };
        let start = byte_offset(self.text, mark.index());
        match scalar_end(&self.text[start..], &value, style) {
            Some(len) => {
                let mut path = self.path.clone();
                path.push(segment);
                path.retain(|s| !s.is_empty());
                self.spans.push(Span {
                    path,
                    value,
                    start,
                    end: start + len,
                });
            }
            None => {
                self.error.get_or_insert(format!(
                    "line {}: a multi-line or block scalar; bootstrap edits single-line values only",
                    mark.line()
                ));
            }
        }
    }
}

impl MarkedEventReceiver for Walker<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, style, _, _) => self.scalar(value, style, mark),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let segment = self.enter().unwrap_or_default();
                self.path.push(segment);
                self.stack.push(match event {
                    Event::MappingStart(..) => Frame::Map { key: None },
                    _ => Frame::Seq { next: 0 },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.path.pop();
            }
            Event::Alias(_) => {
                self.enter();
            }
            _ => {}
        }
    }
}

/// The byte offset of the `chars`-th character.
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

/// The length in bytes of the scalar at the start of `source`, when it is on one line.
fn scalar_end(source: &str, value: &str, style: TScalarStyle) -> Option<usize> {
    let line = source.split('\n').next().unwrap_or_default();
    match style {
        TScalarStyle::Plain => line.starts_with(value).then_some(value.len()),
        TScalarStyle::SingleQuoted => {
            let bytes = line.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(i + 1);
                }
                i += 1;
            }
            None
        }
        TScalarStyle::DoubleQuoted => {
            let bytes = line.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            None
        }
        TScalarStyle::Literal | TScalarStyle::Folded => None,
    }
}

/// Every value scalar of the first document of `text`, with its path and byte range.
pub fn scalar_spans(text: &str) -> Result<Vec<Span>, String> {
    let mut walker = Walker {
        text,
        stack: Vec::new(),
        path: Vec::new(),
        spans: Vec::new(),
        error: None,
    };
    Parser::new_from_str(text)
        .load(&mut walker, false)
        .map_err(|e| e.to_string())?;
    match walker.error {
        Some(e) => Err(e),
        None => Ok(walker.spans),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_name_paths_and_exact_ranges() {
        let text = "a:\n  b: [x, 'y''s', \"z\\\"\"]\n  é: plain # c\n";
        let spans = scalar_spans(text).unwrap();
        let shown: Vec<(String, &str)> = spans
            .iter()
            .map(|s| (s.path.join("."), &text[s.start..s.end]))
            .collect();
        assert_eq!(
            shown,
            [
                ("a.b.0".to_string(), "x"),
                ("a.b.1".to_string(), "'y''s'"),
                ("a.b.2".to_string(), "\"z\\\"\""),
                ("a.é".to_string(), "plain"),
            ]
        );
        assert!(scalar_spans("a: |\n  x\n").is_err());
    }
}
