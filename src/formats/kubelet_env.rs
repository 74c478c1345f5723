//! `/etc/default/kubelet` (`KUBELET_EXTRA_ARGS=...`): find and drop a stale `--cgroup-driver`.
//!
//! The file is an environment file: kubeadm's drop-in `10-kubeadm.conf` reads it with
//! `EnvironmentFile=-/etc/default/kubelet` and passes `$KUBELET_EXTRA_ARGS` to the kubelet
//! (kubernetes/release, `cmd/krel/templates/latest/kubeadm/10-kubeadm.conf`). So the text is
//! read twice: the assignment's value is unquoted (single quotes, double quotes, backslash, as
//! systemd.exec(5) "EnvironmentFile=" describes), then `$KUBELET_EXTRA_ARGS` is split into
//! words at whitespace, quotes again removed (systemd.service(5), "Command lines"). Both
//! readings keep the source bytes of every character, so an edit removes exactly the bytes of
//! the flag (and its value), one separating space, and a quote only when nothing else is left
//! between it and its partner. The kubelet's flag parser (spf13/pflag) takes the last of
//! repeated flags and accepts `--flag=value` and `--flag value`; every occurrence is removed
//! in one edit, so one run converges.

use std::ops::Range;

use super::lines::{content, split_keep_ends};

const VARIABLE: &str = "KUBELET_EXTRA_ARGS=";
const FLAG: &str = "--cgroup-driver";

/// One character of the value, with the source bytes that spell it (escape included).
#[derive(Debug, Clone)]
struct Spelled {
    c: char,
    at: Range<usize>,
}

/// A word of the kubelet's command line, unquoted, with the source bytes it spans.
#[derive(Debug)]
struct Word {
    text: String,
    span: Range<usize>,
}

/// A word being read: its characters and the source bytes it spans, quotes included.
#[derive(Debug, Default)]
struct Raw {
    chars: Vec<Spelled>,
    span: Option<Range<usize>>,
}

impl Raw {
    fn touch(&mut self, at: &Range<usize>) {
        let start = self.span.as_ref().map_or(at.start, |s| s.start);
        self.span = Some(start..at.end);
    }
}

/// Shell-like unquoting of `chars` (each with its source range): `'...'` literal, `"..."` with
/// `\` escaping `"`, `\`, `$` and `` ` ``, `\` escaping any character outside quotes. Returns
/// the words (one when `split` is off; else unquoted whitespace separates them) and the
/// source ranges of the quoted regions, quotes included.
fn unquote(chars: &[Spelled], split: bool) -> (Vec<Raw>, Vec<Range<usize>>) {
    let mut words = vec![Raw::default()];
    let mut regions = Vec::new();
    let mut quote: Option<(char, usize)> = None;
    let mut i = 0;
    while i < chars.len() {
        let Spelled { c, at } = chars[i].clone();
        let next = chars.get(i + 1);
        let escaped = match (quote, c, next) {
            (None, '\\', Some(n)) => Some(n),
            (Some(('"', _)), '\\', Some(n)) if "\"\\$`".contains(n.c) => Some(n),
            _ => None,
        };
        let word = words.last_mut().expect("never empty");
        if let Some(n) = escaped {
            let at = at.start..n.at.end;
            word.touch(&at);
            word.chars.push(Spelled { c: n.c, at });
            i += 2;
            continue;
        }
        match (quote, c) {
            (None, c) if split && c.is_whitespace() => {
                if word.span.is_some() {
                    words.push(Raw::default());
                }
            }
            (None, '\'' | '"') => {
                word.touch(&at);
                quote = Some((c, at.start));
            }
            (Some((q, open)), _) if c == q => {
                word.touch(&at);
                regions.push(open..at.end);
                quote = None;
            }
            _ => {
                word.touch(&at);
                word.chars.push(Spelled { c, at });
            }
        }
        i += 1;
    }
    if let Some((_, open)) = quote {
        regions.push(open..chars.last().map_or(open + 1, |s| s.at.end));
    }
    words.retain(|w| w.span.is_some());
    (words, regions)
}

/// The words of a `KUBELET_EXTRA_ARGS=` line, the value's start and its quoted regions, or
/// `None` for any other line.
fn words(line: &str) -> Option<(Vec<Word>, usize, Vec<Range<usize>>)> {
    let body = content(line);
    let trimmed = body.trim_start();
    let assignment = trimmed
        .strip_prefix("export ")
        .map_or(trimmed, str::trim_start);
    let rest = assignment.strip_prefix(VARIABLE)?;
    let from = body.len() - rest.len();
    let source: Vec<Spelled> = body[from..]
        .char_indices()
        .map(|(i, c)| Spelled {
            c,
            at: from + i..from + i + c.len_utf8(),
        })
        .collect();
    let (value, regions) = unquote(&source, false);
    let value = value.first().map_or(&[][..], |w| w.chars.as_slice());
    let (split, _) = unquote(value, true);
    let words = split
        .into_iter()
        .filter_map(|w| {
            Some(Word {
                text: w.chars.iter().map(|s| s.c).collect(),
                span: w.span?,
            })
        })
        .collect();
    Some((words, from, regions))
}

/// Each `--cgroup-driver` of the line: its value and the source bytes of flag and value.
fn flags(words: &[Word]) -> Vec<(String, Range<usize>)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if let Some(value) = word
            .text
            .strip_prefix(FLAG)
            .and_then(|r| r.strip_prefix('='))
        {
            found.push((value.to_string(), word.span.clone()));
        } else if word.text == FLAG {
            let end = words.get(i + 1).map_or(word.span.end, |v| v.span.end);
            let value = words.get(i + 1).map_or("", |v| v.text.as_str());
            found.push((value.to_string(), word.span.start..end));
            i += 1;
        }
        i += 1;
    }
    found
}

/// The `--cgroup-driver` value the kubelet would use (the last one given), with its 1-based
/// line.
pub fn cgroup_driver_flag(text: &str) -> Option<(usize, String)> {
    split_keep_ends(text)
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, line)| {
            let (words, _, _) = words(line)?;
            flags(&words).pop().map(|(value, _)| (i + 1, value))
        })
}

/// `line` without the bytes of every `--cgroup-driver` flag (see the module comment).
fn drop_in_line(line: &str) -> String {
    let Some((words, from, regions)) = words(line) else {
        return line.to_string();
    };
    let found = flags(&words);
    if found.is_empty() {
        return line.to_string();
    }
    let bytes = line.as_bytes();
    let body_end = content(line).len();
    let mut gone = vec![false; line.len()];
    for (_, span) in found {
        let mut span = span;
        let mut keep = Vec::new();
        for q in &regions {
            let (open, close) = (q.start, q.end - 1);
            if span.contains(&open) && close >= span.end {
                if close == span.end {
                    span.end = q.end;
                } else {
                    keep.push(open);
                }
            } else if span.contains(&close) && open < span.start {
                if open + 1 == span.start {
                    span.start = open;
                } else {
                    keep.push(close);
                }
            }
        }
        let blank = |i: usize| bytes[i] == b' ' || bytes[i] == b'\t';
        if span.start > from && blank(span.start - 1) {
            while span.start > from && blank(span.start - 1) {
                span.start -= 1;
            }
        } else {
            while span.end < body_end && blank(span.end) {
                span.end += 1;
            }
        }
        gone[span].fill(true);
        keep.into_iter().for_each(|k| gone[k] = false);
    }
    let kept: Vec<u8> = bytes
        .iter()
        .zip(gone)
        .filter(|(_, g)| !g)
        .map(|(b, _)| *b)
        .collect();
    String::from_utf8(kept).unwrap_or_else(|_| line.to_string())
}

/// The file with every `--cgroup-driver` removed from KUBELET_EXTRA_ARGS lines, every other
/// byte kept.
pub fn drop_cgroup_driver_flag(text: &str) -> String {
    split_keep_ends(text)
        .iter()
        .map(|line| drop_in_line(line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_and_drops_the_flag() {
        let text =
            "# extra args\nKUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.5 --cgroup-driver=cgroupfs\"\n";
        assert_eq!(cgroup_driver_flag(text), Some((2, "cgroupfs".into())));
        let out = drop_cgroup_driver_flag(text);
        assert_eq!(
            out,
            "# extra args\nKUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.5\"\n"
        );
        assert_eq!(cgroup_driver_flag(&out), None);
        assert_eq!(
            drop_cgroup_driver_flag("KUBELET_EXTRA_ARGS=--cgroup-driver=systemd\n"),
            "KUBELET_EXTRA_ARGS=\n"
        );
        assert_eq!(
            cgroup_driver_flag("# KUBELET_EXTRA_ARGS=--cgroup-driver=x\n"),
            None
        );
    }

    #[test]
    fn quoted_separate_and_repeated_forms() {
        for (line, value, want) in [
            (
                "KUBELET_EXTRA_ARGS=--node-ip=10.0.0.5 --cgroup-driver=\"systemd\"",
                "systemd",
                "KUBELET_EXTRA_ARGS=--node-ip=10.0.0.5",
            ),
            (
                "KUBELET_EXTRA_ARGS=\"--cgroup-driver cgroupfs --node-ip=10.0.0.5\"",
                "cgroupfs",
                "KUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.5\"",
            ),
            (
                "KUBELET_EXTRA_ARGS='--cgroup-driver=systemd --v=2 --cgroup-driver=cgroupfs'",
                "cgroupfs",
                "KUBELET_EXTRA_ARGS='--v=2'",
            ),
            (
                "export KUBELET_EXTRA_ARGS=--cgroup-driver=\"cgroupfs --v=2\"",
                "cgroupfs",
                "export KUBELET_EXTRA_ARGS=\"--v=2\"",
            ),
            (
                "KUBELET_EXTRA_ARGS=\"--v=2 --cgroup-driver=\\\"systemd\\\"\"",
                "systemd",
                "KUBELET_EXTRA_ARGS=\"--v=2\"",
            ),
            (
                "KUBELET_EXTRA_ARGS=--v=2 \"--cgroup-driver\" 'cgroupfs' --max-pods=50\r\n",
                "cgroupfs",
                "KUBELET_EXTRA_ARGS=--v=2 --max-pods=50\r\n",
            ),
        ] {
            assert_eq!(
                cgroup_driver_flag(line),
                Some((1, value.to_string())),
                "{line}"
            );
            let out = drop_cgroup_driver_flag(line);
            assert_eq!(out, want, "{line}");
            assert_eq!(drop_cgroup_driver_flag(&out), out, "{line}");
        }
        let other = "KUBELET_EXTRA_ARGS=--cgroup-driver-x=1 --node-ip=\"--cgroup-driver=x\"\n";
        assert_eq!(cgroup_driver_flag(other), None);
        assert_eq!(drop_cgroup_driver_flag(other), other);
    }

    fn words_of(text: &str) -> Vec<Vec<String>> {
        split_keep_ends(text)
            .iter()
            .filter_map(|l| words(l).map(|(w, _, _)| w.into_iter().map(|w| w.text).collect()))
            .collect()
    }

    fn quoted(word: &str, style: u8) -> String {
        match style {
            0 => word.to_string(),
            1 => format!("\"{word}\""),
            2 => format!("'{word}'"),
            _ => match word.split_once('=') {
                Some((flag, value)) => format!("{flag}=\"{value}\""),
                None => format!("\"{word}\""),
            },
        }
    }

    fn line_strategy() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "--node-ip=10.0.0.5",
            "--cgroup-driver=systemd",
            "--cgroup-driver=cgroupfs",
            "--cgroup-driver",
            "systemd",
            "--v=2",
            "--max-pods=50",
        ]);
        (
            prop::collection::vec((word, 0u8..4), 0..6),
            0u8..3,
            prop::sample::select(vec![" ", "  ", "\t"]),
        )
            .prop_map(|(ws, outer, gap)| {
                let inner: Vec<String> = ws
                    .iter()
                    .map(|(w, s)| {
                        if outer == 0 {
                            quoted(w, *s)
                        } else {
                            w.to_string()
                        }
                    })
                    .collect();
                let joined = inner.join(gap);
                match outer {
                    0 => format!("KUBELET_EXTRA_ARGS={joined}\n"),
                    1 => format!("KUBELET_EXTRA_ARGS=\"{joined}\"\n"),
                    _ => format!("KUBELET_EXTRA_ARGS='{joined}'\n"),
                }
            })
    }

    proptest! {
        #[test]
        fn edit_once_converges_and_keeps_other_words(
            line in line_strategy(),
            before in "[a-z# =\"]{0,20}\n",
        ) {
            let text = format!("{before}{line}# tail\n");
            let once = drop_cgroup_driver_flag(&text);
            prop_assert_eq!(drop_cgroup_driver_flag(&once), once.clone());
            prop_assert_eq!(cgroup_driver_flag(&once), None);
            prop_assert!(once.starts_with(&before) && once.ends_with("# tail\n"));
            // The words the kubelet sees are the old ones without the flag and its value.
            let mut expected = Vec::new();
            let old = &words_of(&line)[0];
            let mut i = 0;
            while i < old.len() {
                if old[i] == FLAG {
                    i += 2;
                    continue;
                }
                if !old[i].starts_with("--cgroup-driver=") {
                    expected.push(old[i].clone());
                }
                i += 1;
            }
            let new = words_of(&once[before.len()..]);
            prop_assert_eq!(&new[0], &expected, "{:?} -> {:?}", line, once);
        }
    }
}
