//! Every deserialisation problem of a profile at once. serde stops at the first error, so the
//! document is deserialised again after each one with the offending key taken out (or, when
//! the key is required, replaced by a stand-in value of the right shape), until it
//! deserialises or no further progress is possible. Each problem is located in the original
//! text by its key path, so the edits never shift a reported line or column.

use toml_edit::{DocumentMut, Item, Value};

use super::Profile;
use super::diagnostic::{self, Diagnostic};
use super::locate::{self, Seg};

/// At most this many rounds (a profile with more mistakes gets the first ones).
const MAX_ROUNDS: usize = 64;

/// What collecting found: the profile when it deserialised (possibly with stand-in values
/// at `replaced` paths), and every problem in the order found.
pub struct Collected {
    /// The deserialised profile, when the edits let it deserialise.
    pub profile: Option<Profile>,
    /// The problems, located in the original source.
    pub problems: Vec<Diagnostic>,
    /// Paths whose value is a stand-in: validation findings under them are not reported.
    pub replaced: Vec<Vec<Seg>>,
}

/// The item at `path`, for editing.
fn item_mut<'a>(doc: &'a mut DocumentMut, path: &[Seg]) -> Option<&'a mut Item> {
    let mut item = doc.as_item_mut();
    for seg in path {
        item = match seg {
            Seg::Key(k) => item.get_mut(k.as_str())?,
            Seg::Index(i) => item.get_mut(*i)?,
        };
    }
    Some(item)
}

/// Removes the key at `path` from its table; false when `path` does not end in a key.
fn remove(doc: &mut DocumentMut, path: &[Seg]) -> bool {
    let Some((Seg::Key(last), parent)) = path.split_last() else {
        return false;
    };
    item_mut(doc, parent)
        .and_then(Item::as_table_like_mut)
        .and_then(|t| t.remove(last))
        .is_some()
}

/// Sets the key at `path` to `value`, creating it in its table.
fn set(doc: &mut DocumentMut, path: &[Seg], value: Value) -> bool {
    let Some((Seg::Key(last), parent)) = path.split_last() else {
        return false;
    };
    match item_mut(doc, parent).and_then(Item::as_table_like_mut) {
        Some(table) => {
            table.insert(last, Item::Value(value));
            true
        }
        None => false,
    }
}

/// Stand-in values tried, in order, for a required key that is missing or was taken out.
fn stand_ins() -> Vec<Value> {
    vec![
        Value::from("stand-in"),
        Value::from("0.0.0.0"),
        Value::from("1.0.0"),
        Value::from(0),
        Value::from(false),
        Value::Array(Default::default()),
        Value::InlineTable(Default::default()),
    ]
}

/// The span in the original text of a span found in the edited text: shifted by as much as
/// the item at `path` (or its nearest parent) moved between the two.
fn moved(
    edited: &toml_edit::Document<&str>,
    original: &toml_edit::Document<&str>,
    path: &[Seg],
    span: Option<std::ops::Range<usize>>,
) -> Option<std::ops::Range<usize>> {
    let (span, from, to) = (
        span?,
        locate::span_of(edited, path)?,
        locate::span_of(original, path)?,
    );
    let start = (span.start + to.start).checked_sub(from.start)?;
    Some(start..start + span.len())
}

/// For an unknown enum value: the variant suggested ("did you mean ...") or the first one
/// expected, as the stand-in that lets deserialisation go on.
fn variant_for(d: &Diagnostic) -> Option<String> {
    if !d.message.starts_with("unknown value") {
        return None;
    }
    let suggested = d.help.as_deref().and_then(|h| h.split('"').nth(1));
    let first = || {
        d.expected
            .as_deref()
            .and_then(|e| e.strip_prefix("one of: ")?.split(", ").next())
    };
    suggested.or_else(first).map(str::to_string)
}

/// Deserialises `source` (already valid TOML), collecting every problem.
pub fn collect(source: &str) -> Collected {
    let original = toml_edit::Document::parse(source).expect("checked by the caller");
    let mut work: DocumentMut = source.parse().expect("checked by the caller");
    let mut out = Collected {
        profile: None,
        problems: Vec::new(),
        replaced: Vec::new(),
    };
    // Required keys being tried with stand-ins: path and the next candidate.
    let mut trying: Option<(Vec<Seg>, Vec<Value>)> = None;
    for _ in 0..MAX_ROUNDS {
        let text = work.to_string();
        let err = match toml::from_str::<Profile>(&text) {
            Ok(profile) => {
                out.profile = Some(profile);
                return out;
            }
            Err(err) => err,
        };
        let Ok(shown) = toml_edit::Document::parse(text.as_str()) else {
            return out;
        };
        let mut d = diagnostic::from_serde(&err, &shown);
        let path = d.path.clone();
        let missing = d.message.starts_with("missing required key");
        let variant = variant_for(&d);
        // A stand-in that did not fit: an enum takes one of its variants, anything else
        // the next stand-in at the same path.
        if let Some((at, candidates)) = &mut trying
            && *at == path
        {
            let next = variant.map(Value::from).or_else(|| candidates.pop());
            if next.is_some_and(|v| set(&mut work, &path, v)) {
                continue;
            }
            return out;
        }
        trying = None;
        // A key missing in (or as) a stand-in is a consequence, not another problem.
        let consequence = missing && out.replaced.iter().any(|r| path.starts_with(r));
        if !consequence {
            if text != source {
                d.span = moved(&shown, &original, &path, d.span);
            }
            out.problems.push(d);
        }
        if path.is_empty() {
            return out;
        }
        if !out.replaced.contains(&path) {
            out.replaced.push(path.clone());
        }
        let progressed = if missing {
            let mut candidates = stand_ins();
            candidates.reverse();
            let first = candidates.pop();
            trying = Some((path.clone(), candidates));
            first.is_some_and(|v| set(&mut work, &path, v))
        } else if let Some(v) = variant {
            set(&mut work, &path, Value::from(v))
        } else {
            remove(&mut work, &path)
        };
        if !progressed {
            return out;
        }
    }
    out
}
