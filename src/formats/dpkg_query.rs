//! `dpkg-query -W -f '${Package}\t${Version}\t${db:Status-Abbrev}\n'` output: which
//! packages are installed, at which version, and whether they are held.

use std::collections::BTreeMap;

/// The `-f` format this parser reads.
pub const FORMAT: &str = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n";

/// One package as dpkg knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The Debian version, such as `1.31.4-1.1`.
    pub version: String,
    /// Unpacked and configured (status `i`).
    pub installed: bool,
    /// Marked `hold` (`apt-mark hold`).
    pub held: bool,
}

impl Package {
    /// The upstream part of the version: no epoch (`1:`), no Debian revision (`-1.1`).
    pub fn upstream(&self) -> &str {
        let v = self
            .version
            .split_once(':')
            .map_or(self.version.as_str(), |(_, v)| v);
        v.rsplit_once('-').map_or(v, |(u, _)| u)
    }
}

/// Packages by name. Lines that do not have three tab-separated fields are ignored
/// (dpkg-query prints "no packages found" for unknown names on stderr).
pub fn parse(text: &str) -> BTreeMap<String, Package> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (name, version, status) = (fields.next()?, fields.next()?, fields.next()?);
            let mut flags = status.chars();
            let (want, state) = (flags.next()?, flags.next()?);
            Some((
                name.to_string(),
                Package {
                    version: version.to_string(),
                    installed: state == 'i',
                    held: want == 'h',
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn statuses() {
        let text =
            "kubeadm\t1.31.4-1.1\thi \nkubelet\t1:1.30.2-1.1\tii \nkubectl\t\tun \ngarbage\n";
        let p = parse(text);
        assert_eq!(p.len(), 3);
        assert!(p["kubeadm"].installed && p["kubeadm"].held);
        assert_eq!(p["kubeadm"].upstream(), "1.31.4");
        assert!(p["kubelet"].installed && !p["kubelet"].held);
        assert_eq!(p["kubelet"].upstream(), "1.30.2");
        assert!(!p["kubectl"].installed);
    }

    proptest! {
        #[test]
        fn parses_what_it_reads(
            name in "[a-z][a-z0-9-]{0,12}",
            upstream in "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
            rev in "[0-9]\\.[0-9]",
            held in any::<bool>(),
        ) {
            let line = format!("{name}\t{upstream}-{rev}\t{}i \n", if held { 'h' } else { 'i' });
            let p = parse(&line);
            prop_assert_eq!(p[&name].upstream(), upstream.as_str());
            prop_assert_eq!(p[&name].held, held);
            prop_assert!(p[&name].installed);
        }
    }
}
