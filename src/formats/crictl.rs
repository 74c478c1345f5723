//! `/etc/crictl.yaml`: point crictl at the runtime socket, keeping the file's other settings.

use super::lines::{append_after, content, dominant_ending, split_keep_ends};

/// The top-level keys this agent sets.
pub const ENDPOINT_KEYS: [&str; 2] = ["runtime-endpoint", "image-endpoint"];

/// The file with both endpoint keys set to `endpoint` (a `unix://` URL). Other lines are
/// kept; a new file gets crictl's usual `timeout` and `debug` too.
pub fn edit(text: Option<&str>, endpoint: &str) -> String {
    let Some(text) = text else {
        return format!(
            "runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\ntimeout: 10\ndebug: false\n"
        );
    };
    let eol = dominant_ending(text);
    let mut seen = [false; 2];
    let mut out: String = split_keep_ends(text)
        .iter()
        .map(|line| {
            let body = content(line);
            for (i, key) in ENDPOINT_KEYS.iter().enumerate() {
                if body.starts_with(&format!("{key}:")) {
                    seen[i] = true;
                    let wanted = format!("{key}: {endpoint}");
                    if body.trim_end() != wanted {
                        return format!("{wanted}{}", &line[body.len()..]);
                    }
                }
            }
            line.to_string()
        })
        .collect();
    for (i, key) in ENDPOINT_KEYS.iter().enumerate() {
        if !seen[i] {
            out = append_after(&out, &format!("{key}: {endpoint}{eol}"), eol);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCK: &str = "unix:///run/containerd/containerd.sock";

    #[test]
    fn new_file() {
        let text = edit(None, SOCK);
        assert!(text.starts_with("runtime-endpoint: unix:///run/containerd/containerd.sock\n"));
        assert_eq!(edit(Some(&text), SOCK), text);
    }

    #[test]
    fn keeps_other_settings() {
        let old =
            "runtime-endpoint: unix:///var/run/dockershim.sock\npull-image-on-create: true\n# note";
        let new = edit(Some(old), SOCK);
        assert_eq!(
            new,
            format!(
                "runtime-endpoint: {SOCK}\npull-image-on-create: true\n# note\nimage-endpoint: {SOCK}\n"
            )
        );
        assert_eq!(edit(Some(&new), SOCK), new);
    }
}
