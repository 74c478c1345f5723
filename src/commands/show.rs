//! `profile show`: the effective profile, every default filled in or noted (see
//! [`super::effective`]).

use super::effective::{Note, effective};
use crate::profile::Profile;

/// The effective profile as TOML, for people: constant defaults as keys, derived and unset
/// keys as comments at the end of their table. Valid as a profile itself, and the same
/// effective profile when fed back.
pub fn human(profile: &Profile) -> String {
    let (filled, notes) = effective(profile);
    let mut lines: Vec<String> = filled.to_toml().lines().map(str::to_string).collect();
    let mut top = Vec::new();
    // Insert from the last table up, so earlier insertion points stay valid.
    let mut placed: Vec<(usize, String)> = Vec::new();
    for note in &notes {
        match home(&lines, &note.table) {
            Some((at, prefix)) => placed.push((at, comment(note, &prefix))),
            None => top.push(comment(note, &note.table)),
        }
    }
    placed.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    // Within one table keep the notes' own order: reversed insertion at the same point.
    let mut i = 0;
    while i < placed.len() {
        let at = placed[i].0;
        let group: Vec<String> = placed[i..]
            .iter()
            .take_while(|(a, _)| *a == at)
            .map(|(_, l)| l.clone())
            .collect();
        i += group.len();
        for line in group.into_iter().rev() {
            lines.insert(at, line);
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if !top.is_empty() {
        text.push('\n');
        for line in top {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// Where a note for `table` goes: the end of the deepest table shown (its line index) and
/// the key prefix relative to it (`extra_args.` when `[kubeadm.extra_args]` is not shown).
fn home(lines: &[String], table: &str) -> Option<(usize, String)> {
    let mut name = table;
    let mut rest = String::new();
    loop {
        if name.is_empty() {
            return None;
        }
        if let Some(h) = lines.iter().position(|l| *l == format!("[{name}]")) {
            let next = lines[h + 1..]
                .iter()
                .position(|l| l.starts_with('['))
                .map_or(lines.len(), |n| h + 1 + n);
            let mut at = next;
            while at > h + 1 && lines[at - 1].is_empty() {
                at -= 1;
            }
            return Some((at, rest));
        }
        let (parent, last) = name.rsplit_once('.').unwrap_or(("", name));
        rest = format!("{last}.{rest}");
        name = parent;
    }
}

/// `# key = value  # meaning`, or `# key: meaning` without a value.
fn comment(note: &Note, prefix: &str) -> String {
    let key = if prefix.is_empty() {
        note.key.clone()
    } else {
        format!("{}.{}", prefix.trim_end_matches('.'), note.key)
    };
    match note
        .value
        .as_ref()
        .and_then(|v| toml::Value::try_from(v).ok())
    {
        Some(value) => format!("# {key} = {value}  # {}", note.meaning),
        None => format!("# {key}: {}", note.meaning),
    }
}

/// The effective profile as one JSON object: `{"profile": {...}, "notes": [...]}`, the
/// same values as [`human`] (the notes are its commented keys).
pub fn json(profile: &Profile) -> serde_json::Value {
    let (filled, notes) = effective(profile);
    serde_json::json!({ "profile": filled, "notes": notes })
}
