//! The `[Install]` section of a systemd unit file: what `systemctl enable` links. From
//! systemd.unit(5), "[Install] Section Options"
//! (<https://www.freedesktop.org/software/systemd/man/latest/systemd.unit.html#%5BInstall%5D%20Section%20Options>):
//! `WantedBy=`/`RequiredBy=`/`UpheldBy=` each make a symlink in the `.wants/`, `.requires/`
//! or `.upholds/` directory of every unit listed, `Alias=` a symlink under the alias name;
//! the settings take space-separated lists and may repeat; an empty assignment resets the
//! list. Lines are `key=value`, `#` and `;` start comments, a trailing backslash continues a
//! line (systemd.syntax(7)).

/// The links `systemctl enable` makes for a unit, as read from its `[Install]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Install {
    /// `(directory suffix, unit)`: `("wants", "multi-user.target")` means a link in
    /// `multi-user.target.wants/`.
    pub dependents: Vec<(&'static str, String)>,
    /// `Alias=` names.
    pub aliases: Vec<String>,
}

/// Logical lines of a unit file: continuations joined, comments and blanks left out.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                if !pending.trim().is_empty() {
                    out.push(std::mem::take(&mut pending).trim().to_string());
                }
                pending.clear();
            }
        }
    }
    if !pending.trim().is_empty() {
        out.push(pending.trim().to_string());
    }
    out
}

/// Reads the `[Install]` section of `text`.
pub fn parse(text: &str) -> Install {
    let mut install = Install::default();
    let mut in_install = false;
    for line in logical_lines(text) {
        if line.starts_with('[') {
            in_install = line == "[Install]";
            continue;
        }
        let Some((key, value)) = line.split_once('=').filter(|_| in_install) else {
            continue;
        };
        let suffix = match key.trim() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            "UpheldBy" => "upholds",
            "Alias" => {
                let names = value.split_whitespace().map(str::to_string);
                match value.trim().is_empty() {
                    true => install.aliases.clear(),
                    false => install.aliases.extend(names),
                }
                continue;
            }
            _ => continue,
        };
        if value.trim().is_empty() {
            install.dependents.retain(|(s, _)| *s != suffix);
        }
        for unit in value.split_whitespace() {
            install.dependents.push((suffix, unit.to_string()));
        }
    }
    install
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_links_of_the_install_section_only() {
        // containerd's own unit (containerd/containerd containerd.service), with an extra
        // RequiredBy, a continuation, a comment and a reset.
        let text = "[Unit]\nDescription=containerd container runtime\nWantedBy=not-here.target\n\n[Service]\nExecStart=/usr/bin/containerd\n\n[Install]\n# a comment\nWantedBy=graphical.target\nWantedBy=\nWantedBy=multi-user.target \\\n  other.target\nRequiredBy=kubelet.service\nAlias=ctrd.service\n";
        let install = parse(text);
        assert_eq!(
            install.dependents,
            vec![
                ("wants", "multi-user.target".to_string()),
                ("wants", "other.target".to_string()),
                ("requires", "kubelet.service".to_string()),
            ]
        );
        assert_eq!(install.aliases, vec!["ctrd.service".to_string()]);
        assert_eq!(
            parse("[Service]\nExecStart=/bin/true\n"),
            Install::default()
        );
    }
}
