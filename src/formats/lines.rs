//! Splitting text into lines while keeping every byte, so edits can be minimal.

/// Splits `text` into lines, each keeping its own line ending (`\n` or `\r\n`).
/// The last line has no ending when the file does not end with a newline.
/// Concatenating the result gives back `text` exactly.
pub fn split_keep_ends(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The line ending a file mostly uses: `\r\n` when its first line ends so, else `\n`.
pub fn dominant_ending(text: &str) -> &'static str {
    match text.split_inclusive('\n').next() {
        Some(first) if first.ends_with("\r\n") => "\r\n",
        _ => "\n",
    }
}

/// A line without its ending.
pub fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// The ending of a line (`""`, `"\n"` or `"\r\n"`).
pub fn ending(line: &str) -> &str {
    &line[content(line).len()..]
}

/// Appends `addition` to `text`, adding a line break first when `text` does not end with one.
pub fn append_after(text: &str, addition: &str, eol: &str) -> String {
    let mut out = String::with_capacity(text.len() + addition.len() + 2);
    out.push_str(text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(addition);
    out
}

/// `text` with `prefix` put in front of every line `pick(line_number, line)` selects
/// (1-based numbers), every other byte kept: how this agent comments lines out.
pub fn prefix_lines(text: &str, prefix: &str, pick: impl Fn(usize, &str) -> bool) -> String {
    split_keep_ends(text)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if pick(i + 1, l) {
                format!("{prefix}{l}")
            } else {
                l.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_byte() {
        for text in ["", "a", "a\n", "a\r\nb", "a\n\n\r\nb\n", "\n"] {
            assert_eq!(split_keep_ends(text).concat(), text);
        }
    }

    #[test]
    fn endings() {
        assert_eq!(dominant_ending("a\r\nb\n"), "\r\n");
        assert_eq!(dominant_ending("a\nb\r\n"), "\n");
        assert_eq!(content("x\r\n"), "x");
        assert_eq!(ending("x\r\n"), "\r\n");
        assert_eq!(ending("x"), "");
        assert_eq!(append_after("a", "b\n", "\n"), "a\nb\n");
        assert_eq!(append_after("", "b\n", "\n"), "b\n");
        assert_eq!(
            prefix_lines("a\nb\r\nc", "# ", |n, _| n > 1),
            "a\n# b\r\n# c"
        );
    }
}
