//! Between byte spans and key paths in the profile's TOML source, for error locations.

use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Renders a key path the way users write it: `hosts.entries[1].address`.
pub fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if k.contains('.') {
                    out.push_str(&format!("\"{k}\""));
                } else {
                    out.push_str(k);
                }
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Builds a key path from keys.
pub fn keys(keys: &[&str]) -> Vec<Seg> {
    keys.iter().map(|k| Seg::Key(k.to_string())).collect()
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn value_path(value: &Value, offset: usize, path: &mut Vec<Seg>) -> bool {
    match value {
        Value::Array(array) => {
            for (i, v) in array.iter().enumerate() {
                path.push(Seg::Index(i));
                if value_path(v, offset, path) || contains(v.span(), offset) {
                    return true;
                }
                path.pop();
            }
            false
        }
        Value::InlineTable(table) => {
            for (key, v) in table.iter() {
                path.push(Seg::Key(key.to_string()));
                let key_span = table.key(key).and_then(|k| k.span());
                if value_path(v, offset, path)
                    || contains(v.span(), offset)
                    || contains(key_span, offset)
                {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

fn table_path(table: &Table, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (key, item) in table.iter() {
        path.push(Seg::Key(key.to_string()));
        let key_span = table.key(key).and_then(|k| k.span());
        let found = match item {
            Item::Table(t) => table_path(t, offset, path) || contains(t.span(), offset),
            Item::ArrayOfTables(array) => array.iter().enumerate().any(|(i, t)| {
                path.push(Seg::Index(i));
                let hit = table_path(t, offset, path) || contains(t.span(), offset);
                if !hit {
                    path.pop();
                }
                hit
            }),
            Item::Value(v) => value_path(v, offset, path) || contains(v.span(), offset),
            Item::None => false,
        };
        if found || contains(key_span, offset) {
            return true;
        }
        path.pop();
    }
    false
}

/// The key path of the deepest key or value whose span contains `offset`.
pub fn path_at(doc: &Document<&str>, offset: usize) -> Vec<Seg> {
    let mut path = Vec::new();
    if let Some(table) = doc.as_item().as_table() {
        table_path(table, offset, &mut path);
    }
    path
}

/// The span of the value at `path`, or of the nearest existing parent.
pub fn span_of(doc: &Document<&str>, path: &[Seg]) -> Option<Range<usize>> {
    let mut item = doc.as_item();
    let mut best = None;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => item.get(k.as_str()),
            Seg::Index(i) => item.get(*i),
        };
        let Some(next) = next else { break };
        if let Some(span) = next.span().or_else(|| key_span(item, seg)) {
            best = Some(span);
        }
        item = next;
    }
    best
}

fn key_span(parent: &Item, seg: &Seg) -> Option<Range<usize>> {
    let Seg::Key(k) = seg else { return None };
    match parent {
        Item::Table(t) => t.key(k).and_then(|key| key.span()),
        Item::Value(Value::InlineTable(t)) => t.key(k).and_then(|key| key.span()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[node]\nname = \"a\"\n\n[hosts]\nentries = [\n  { address = \"1.2.3.4\", names = [\"x\"] },\n  { address = \"bad\", names = [] },\n]\n";

    #[test]
    fn finds_path_and_span_both_ways() {
        let doc = Document::parse(SRC).unwrap();
        let offset = SRC.find("\"bad\"").unwrap();
        let path = path_at(&doc, offset);
        assert_eq!(display(&path), "hosts.entries[1].address");
        let span = span_of(&doc, &path).unwrap();
        assert_eq!(&SRC[span], "\"bad\"");
        assert_eq!(crate::values::text::line_col(SRC, offset), (7, 15));
        let name = span_of(&doc, &keys(&["node", "name"])).unwrap();
        assert_eq!(&SRC[name], "\"a\"");
    }
}
