//! `/etc/default/kubelet` (`KUBELET_EXTRA_ARGS=...`): find and drop a stale `--cgroup-driver`.

use super::lines::{content, split_keep_ends};

/// The `--cgroup-driver` value set in the file's KUBELET_EXTRA_ARGS, with its 1-based line.
pub fn cgroup_driver_flag(text: &str) -> Option<(usize, String)> {
    split_keep_ends(text)
        .iter()
        .enumerate()
        .find_map(|(i, line)| {
            let body = content(line).trim_start();
            if body.starts_with('#') || !body.contains("KUBELET_EXTRA_ARGS") {
                return None;
            }
            body.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .find_map(|word| word.strip_prefix("--cgroup-driver="))
                .map(|v| (i + 1, v.to_string()))
        })
}

/// The file with `--cgroup-driver=...` removed from KUBELET_EXTRA_ARGS lines.
pub fn drop_cgroup_driver_flag(text: &str) -> String {
    split_keep_ends(text)
        .iter()
        .map(|line| {
            let body = content(line);
            if body.trim_start().starts_with('#') || !body.contains("--cgroup-driver=") {
                return line.to_string();
            }
            let start = body.find("--cgroup-driver=").unwrap_or(0);
            let end = body[start..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .map_or(body.len(), |e| start + e);
            let mut kept = format!("{}{}", &body[..start], &body[end..]);
            kept = kept
                .replace("  ", " ")
                .replace("=\" ", "=\"")
                .replace(" \"", "\"");
            format!("{kept}{}", &line[body.len()..])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
