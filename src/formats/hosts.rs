//! `/etc/hosts`: a marked block we own, name removals outside it, every other byte kept.

use std::net::IpAddr;

use super::lines::{append_after, content, dominant_ending, ending, split_keep_ends};

/// First line of the block this agent owns.
pub const BLOCK_BEGIN: &str = "# BEGIN bootstrap managed block: edits inside are replaced";
/// Last line of the block this agent owns.
pub const BLOCK_END: &str = "# END bootstrap managed block";
/// Prefix put in front of a line whose every name was removed.
pub const REMOVED_PREFIX: &str = "# removed by bootstrap: ";

/// One line of the managed block: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The address the names resolve to.
    pub address: IpAddr,
    /// Host names, first one canonical.
    pub names: Vec<String>,
}

/// A name found outside our block that maps to another address than ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// 1-based line number in the edited file.
    pub line: usize,
    /// The name.
    pub name: String,
    /// The address that line gives it.
    pub address: String,
}

/// The result of editing a hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The whole new file.
    pub text: String,
    /// Names removed outside the block, with the 1-based line they were on.
    pub removed: Vec<(usize, String)>,
    /// Names of the block that another line, outside it, maps elsewhere.
    pub conflicts: Vec<Conflict>,
    /// 1-based begin lines of further managed blocks, dropped: the first block alone holds
    /// the entries (a second one would keep stale entries alive).
    pub merged: Vec<usize>,
}

/// Why a hosts file cannot be edited safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostsError {
    /// A begin marker without its end marker: the block's extent is unknown.
    #[error(
        "line {line}: the bootstrap block begins here but never ends; add the line `{BLOCK_END}` where it should end, or delete the begin line"
    )]
    UnterminatedBlock {
        /// Line of the begin marker.
        line: usize,
    },
}

/// The address and names of a hosts line, ignoring its comment; `None` for blank and comment lines.
fn fields(line: &str) -> Option<(&str, Vec<&str>)> {
    let data = content(line).split('#').next().unwrap_or("");
    let mut tokens = data.split_whitespace();
    let address = tokens.next()?;
    Some((address, tokens.collect()))
}

fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Removes `remove` names from one line outside the block; returns the new line and the removed names.
fn remove_names<'a>(line: &'a str, remove: &[String]) -> (std::borrow::Cow<'a, str>, Vec<String>) {
    let Some((address, names)) = fields(line) else {
        return (line.into(), Vec::new());
    };
    let (gone, kept): (Vec<&str>, Vec<&str>) = names
        .iter()
        .partition(|n| remove.iter().any(|r| same_name(r, n)));
    if gone.is_empty() {
        return (line.into(), Vec::new());
    }
    let gone: Vec<String> = gone.into_iter().map(str::to_string).collect();
    let body = content(line);
    if kept.is_empty() {
        return (
            format!("{REMOVED_PREFIX}{body}{}", ending(line)).into(),
            gone,
        );
    }
    let separator = if body.contains('\t') { "\t" } else { " " };
    let comment = body.find('#').map(|i| &body[i..]).unwrap_or("");
    let mut rebuilt = format!("{address}{separator}{}", kept.join(" "));
    if !comment.is_empty() {
        rebuilt.push(' ');
        rebuilt.push_str(comment);
    }
    rebuilt.push_str(ending(line));
    (rebuilt.into(), gone)
}

fn render_block(entries: &[Entry], eol: &str) -> String {
    let mut block = format!("{BLOCK_BEGIN}{eol}");
    for entry in entries {
        block.push_str(&format!("{} {}{eol}", entry.address, entry.names.join(" ")));
    }
    block.push_str(BLOCK_END);
    block.push_str(eol);
    block
}

/// Locates the managed blocks: (index of begin line, index of end line) of each, in order.
/// More than one happens when a file was merged or copied by hand; the first is ours and the
/// others are folded into it by [`edit`].
fn find_blocks(lines: &[&str]) -> Result<Vec<(usize, usize)>, HostsError> {
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(offset) = lines[from..]
        .iter()
        .position(|l| content(l).trim_end() == BLOCK_BEGIN)
    {
        let begin = from + offset;
        let end = lines[begin + 1..]
            .iter()
            .position(|l| content(l).trim_end() == BLOCK_END)
            .ok_or(HostsError::UnterminatedBlock { line: begin + 1 })?;
        blocks.push((begin, begin + 1 + end));
        from = begin + 2 + end;
    }
    Ok(blocks)
}

/// Locates the first managed block.
fn find_block(lines: &[&str]) -> Result<Option<(usize, usize)>, HostsError> {
    Ok(find_blocks(lines)?.first().copied())
}

/// Reads the entries of the managed block, if the file has one.
pub fn block_entries(text: &str) -> Result<Option<Vec<Entry>>, HostsError> {
    let lines = split_keep_ends(text);
    let Some((begin, end)) = find_block(&lines)? else {
        return Ok(None);
    };
    let entries = lines[begin + 1..end]
        .iter()
        .filter_map(|l| fields(l))
        .filter_map(|(address, names)| {
            Some(Entry {
                address: address.parse().ok()?,
                names: names.into_iter().map(str::to_string).collect(),
            })
        })
        .collect();
    Ok(Some(entries))
}

/// Produces the hosts file with the managed block holding `entries` (replaced in place, or
/// appended) and every name in `remove` taken off the lines outside the block.
/// Every other byte of `text` is kept.
pub fn edit(text: &str, entries: &[Entry], remove: &[String]) -> Result<Edit, HostsError> {
    let eol = dominant_ending(text);
    let lines = split_keep_ends(text);
    let blocks = find_blocks(&lines)?;
    let block_at = blocks.first().copied();
    let block = render_block(entries, eol);
    let mut out = String::with_capacity(text.len() + block.len());
    let mut removed = Vec::new();
    let mut conflicts = Vec::new();
    let mut merged = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if let Some(&(begin, end)) = blocks.iter().find(|(b, _)| *b == index) {
            if Some(begin) == block_at.map(|b| b.0) {
                out.push_str(&block);
            } else {
                merged.push(begin + 1);
            }
            index = end + 1;
            continue;
        }
        let line_no = index + 1;
        let (line, gone) = remove_names(lines[index], remove);
        removed.extend(gone.into_iter().map(|n| (line_no, n)));
        if let Some((address, names)) = fields(&line) {
            for name in names {
                let ours = entries
                    .iter()
                    .find(|e| e.names.iter().any(|n| same_name(n, name)));
                if let Some(entry) = ours
                    && address.parse::<IpAddr>().ok() != Some(entry.address)
                {
                    conflicts.push(Conflict {
                        line: line_no,
                        name: name.to_string(),
                        address: address.to_string(),
                    });
                }
            }
        }
        out.push_str(&line);
        index += 1;
    }
    if block_at.is_none() {
        out = append_after(&out, &block, eol);
    }
    Ok(Edit {
        text: out,
        removed,
        conflicts,
        merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(address: &str, names: &[&str]) -> Entry {
        Entry {
            address: address.parse().unwrap(),
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    const DEBIAN: &str = "127.0.0.1\tlocalhost\n127.0.1.1\tubuntu-bionic\tubuntu-bionic\n\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\n";

    #[test]
    fn appends_block_and_keeps_the_rest() {
        let e = edit(DEBIAN, &[entry("192.168.33.13", &["master"])], &[]).unwrap();
        assert!(e.text.starts_with(DEBIAN));
        assert!(e.text.ends_with(&format!(
            "{BLOCK_BEGIN}\n192.168.33.13 master\n{BLOCK_END}\n"
        )));
        assert!(e.removed.is_empty());
    }

    #[test]
    fn a_second_block_is_folded_into_the_first_in_one_edit() {
        let text = format!(
            "127.0.0.1 localhost\n{BLOCK_BEGIN}\n10.0.0.1 a\n{BLOCK_END}\n# mine\n{BLOCK_BEGIN}\n10.0.0.9 stale\n{BLOCK_END}\n::1 ip6-localhost\n"
        );
        let want = [entry("10.0.0.2", &["b"])];
        let e = edit(&text, &want, &[]).unwrap();
        assert_eq!(
            e.text,
            format!(
                "127.0.0.1 localhost\n{BLOCK_BEGIN}\n10.0.0.2 b\n{BLOCK_END}\n# mine\n::1 ip6-localhost\n"
            )
        );
        assert_eq!(e.merged, vec![6]);
        let again = edit(&e.text, &want, &[]).unwrap();
        assert_eq!(again.text, e.text);
        assert!(again.merged.is_empty());
        let open = format!("{BLOCK_BEGIN}\n{BLOCK_END}\n{BLOCK_BEGIN}\nx\n");
        assert_eq!(
            edit(&open, &want, &[]),
            Err(HostsError::UnterminatedBlock { line: 3 })
        );
    }

    #[test]
    fn second_edit_is_identical() {
        let entries = [
            entry("192.168.33.13", &["master"]),
            entry("192.168.33.14", &["worker-1"]),
        ];
        let once = edit(DEBIAN, &entries, &["ubuntu-bionic".into()]).unwrap();
        let twice = edit(&once.text, &entries, &["ubuntu-bionic".into()]).unwrap();
        assert_eq!(once.text, twice.text);
        assert!(twice.removed.is_empty());
    }

    #[test]
    fn removes_names_commenting_empty_lines() {
        let e = edit(DEBIAN, &[], &["ubuntu-bionic".into()]).unwrap();
        assert!(e.text.contains(&format!(
            "{REMOVED_PREFIX}127.0.1.1\tubuntu-bionic\tubuntu-bionic\n"
        )));
        assert_eq!(e.removed.len(), 2);
        assert_eq!(e.removed[0].0, 2);
    }

    #[test]
    fn removes_one_name_keeping_others_and_comment() {
        let text = "10.0.0.1 a old b # note\r\n";
        let e = edit(text, &[], &["OLD".into()]).unwrap();
        assert!(e.text.starts_with("10.0.0.1 a b # note\r\n"));
    }

    #[test]
    fn replaces_block_in_place_with_crlf() {
        let text = format!("a\r\n{BLOCK_BEGIN}\r\n1.1.1.1 x\r\n{BLOCK_END}\r\nb\r\n");
        let e = edit(&text, &[entry("2.2.2.2", &["y", "z"])], &[]).unwrap();
        assert_eq!(
            e.text,
            format!("a\r\n{BLOCK_BEGIN}\r\n2.2.2.2 y z\r\n{BLOCK_END}\r\nb\r\n")
        );
        assert_eq!(
            block_entries(&e.text).unwrap().unwrap(),
            vec![entry("2.2.2.2", &["y", "z"])]
        );
    }

    #[test]
    fn no_trailing_newline_and_ipv6() {
        let e = edit("::1 localhost", &[entry("fd00::5", &["n"])], &[]).unwrap();
        assert_eq!(
            e.text,
            format!("::1 localhost\n{BLOCK_BEGIN}\nfd00::5 n\n{BLOCK_END}\n")
        );
    }

    #[test]
    fn conflicts_are_reported_not_changed() {
        let text = "127.0.1.1 master\n";
        let e = edit(text, &[entry("192.168.33.13", &["master"])], &[]).unwrap();
        assert_eq!(e.conflicts.len(), 1);
        assert_eq!(e.conflicts[0].line, 1);
        assert!(e.text.starts_with(text));
    }

    #[test]
    fn unterminated_block_is_an_error() {
        let text = format!("{BLOCK_BEGIN}\n1.1.1.1 x\n");
        assert_eq!(
            edit(&text, &[], &[]),
            Err(HostsError::UnterminatedBlock { line: 1 })
        );
    }

    proptest! {
        /// Lines the agent does not own survive byte for byte: with no removals, the file
        /// before the appended block is the original exactly.
        #[test]
        fn untouched_text_round_trips(text in "([ \t#a-z0-9.:\\-]{0,30}(\r?\n)?){0,12}") {
            prop_assume!(!text.contains(BLOCK_BEGIN));
            let e = edit(&text, &[], &[]).unwrap();
            prop_assert!(e.text.starts_with(&text));
            let again = edit(&e.text, &[], &[]).unwrap();
            prop_assert_eq!(again.text, e.text);
        }

        /// Applying an edit twice is the same as applying it once.
        #[test]
        fn edit_is_idempotent(text in "([ \t#a-z0-9.:\\-]{0,30}(\r?\n)?){0,12}", name in "[a-z]{1,8}") {
            let entries = [entry("10.1.2.3", &[&name])];
            let remove = vec!["old".to_string()];
            let once = edit(&text, &entries, &remove).unwrap();
            let twice = edit(&once.text, &entries, &remove).unwrap();
            prop_assert_eq!(once.text, twice.text);
        }
    }
}
