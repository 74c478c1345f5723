//! `/proc/swaps`: the swap areas active now.

/// One active swap area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapArea {
    /// Device or file path, with `\040` escapes decoded.
    pub path: String,
    /// `partition` or `file`.
    pub kind: String,
}

fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Parses `/proc/swaps` (a header line, then one area per line).
pub fn parse(text: &str) -> Vec<SwapArea> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            Some(SwapArea {
                path: unescape(fields.next()?),
                kind: fields.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_areas() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap\\040file                               file\t\t1048572\t\t0\t\t-2\n/dev/zram0 partition 100 0 100\n";
        let areas = parse(text);
        assert_eq!(areas.len(), 2);
        assert_eq!(areas[0].path, "/swap file");
        assert_eq!(areas[1].kind, "partition");
        assert!(parse("Filename Type Size Used Priority\n").is_empty());
    }
}
