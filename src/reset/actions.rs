//! What the commands and kernel parameters the journal lists call for, decided purely from
//! the journal: `kubeadm reset -f` after a successful `kubeadm init`/`join`, `apt-mark
//! unhold` of what `apt-mark hold` held, `systemctl disable` of what `systemctl enable`
//! enabled, the modules `modprobe` loaded, the swap areas `swapoff` turned off, the live
//! kernel parameters set (first old value, last new value), the directories created for
//! files; and what stays as it is (packages installed, objects applied to the cluster). An undo already journaled
//! (an interrupted earlier reset) is not asked for again.

use std::collections::BTreeMap;

use crate::host::Entry;

/// A kernel parameter the agent set: the value before its first change and after its last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Node path under /proc/sys.
    pub path: String,
    /// The value before bootstrap's first change.
    pub old: String,
    /// The value bootstrap set last.
    pub new: String,
}

/// The undo work the journal's commands and parameters call for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    /// The `kubeadm init`/`join` command that made the node a member, when no `kubeadm
    /// reset` followed it.
    pub member: Option<String>,
    /// Packages held by `apt-mark hold`.
    pub held: Vec<String>,
    /// Units enabled by `systemctl enable`.
    pub enabled: Vec<String>,
    /// Modules loaded by `modprobe`.
    pub loaded: Vec<String>,
    /// Swap areas turned off by `swapoff`.
    pub swapped_off: Vec<String>,
    /// Kernel parameters set.
    pub params: Vec<Param>,
    /// Directories created for files, in creation order.
    pub dirs: Vec<String>,
    /// What stays as it is, one sentence each.
    pub stays: Vec<String>,
}

fn exit_zero(e: &Entry) -> bool {
    e.detail.as_deref() == Some("exit 0")
}

/// Adds or removes `names` from `set`, keeping first-seen order.
fn toggle(set: &mut Vec<String>, names: &[&str], add: bool) {
    for name in names {
        set.retain(|n| n != name);
        if add {
            set.push((*name).to_string());
        }
    }
}

/// The words of a command after its options (`--` ends them).
fn operands<'a>(words: &[&'a str]) -> Vec<&'a str> {
    words
        .iter()
        .copied()
        .filter(|w| !w.starts_with('-'))
        .collect()
}

fn command(actions: &mut Actions, line: &str) {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["kubeadm", "init" | "join", ..] => actions.member = Some(line.to_string()),
        ["kubeadm", "reset", ..] => actions.member = None,
        ["apt-mark", "hold", rest @ ..] => toggle(&mut actions.held, &operands(rest), true),
        ["apt-mark", "unhold", rest @ ..] => toggle(&mut actions.held, &operands(rest), false),
        ["systemctl", verb @ ("enable" | "disable"), rest @ ..] => {
            toggle(&mut actions.enabled, &operands(rest), *verb == "enable")
        }
        ["modprobe", rest @ ..] => {
            let remove = rest.iter().any(|w| *w == "-r" || *w == "--remove");
            toggle(&mut actions.loaded, &operands(rest), !remove)
        }
        ["swapoff", area] => toggle(&mut actions.swapped_off, &[area], true),
        ["swapon", area] => toggle(&mut actions.swapped_off, &[area], false),
        ["apt-get", rest @ ..] if rest.contains(&"install") => actions.stays.push(format!(
            "packages installed by `{line}` stay installed (remove them with apt-get purge if wanted)"
        )),
        ["kubectl", rest @ ..] if rest.contains(&"apply") => actions.stays.push(format!(
            "objects applied to the cluster by `{line}` stay in the cluster (on a single control plane `kubeadm reset` ends that cluster)"
        )),
        _ => {}
    }
}

fn param(params: &mut BTreeMap<String, Param>, order: &mut Vec<String>, e: &Entry) {
    let Some((old, new)) = e.detail.as_deref().and_then(|d| d.split_once(" -> ")) else {
        return;
    };
    let entry = params.entry(e.target.clone()).or_insert_with(|| {
        order.push(e.target.clone());
        Param {
            path: e.target.clone(),
            old: old.trim().to_string(),
            new: String::new(),
        }
    });
    entry.new = new.trim().to_string();
}

/// Reads the commands, parameters, directories and owner changes of `entries`.
pub fn analyse(entries: &[Entry]) -> Actions {
    let mut actions = Actions::default();
    let mut params = BTreeMap::new();
    let mut order = Vec::new();
    let mut kept = Vec::new();
    for e in entries {
        match e.action.as_str() {
            "run" if exit_zero(e) => command(&mut actions, &e.target),
            "set" => param(&mut params, &mut order, e),
            "mkdir" => actions.dirs.push(e.target.clone()),
            // Files made for the operator (etcd snapshots) are theirs to keep.
            "keep" => toggle(&mut kept, &[&e.target], true),
            "prune" => toggle(&mut kept, &[&e.target], false),
            "chown" if !actions.dirs.contains(&e.target) => actions.stays.push(format!(
                "{} keeps the owner bootstrap gave it ({})",
                e.target,
                e.detail.as_deref().unwrap_or("?")
            )),
            _ => {}
        }
    }
    actions.params = order
        .into_iter()
        .filter_map(|p| params.remove(&p))
        .filter(|p| p.old != p.new)
        .collect();
    actions.stays.extend(
        kept.iter()
            .map(|k| format!("{k} stays: bootstrap made it for the operator (an etcd snapshot)")),
    );
    actions.stays.dedup();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str, code: i32) -> Entry {
        Entry {
            action: "run".into(),
            target: line.into(),
            detail: Some(format!("exit {code}")),
            ..Entry::default()
        }
    }

    #[test]
    fn holds_enables_modules_and_membership_are_read_with_their_undos() {
        let set = |d: &str| Entry {
            action: "set".into(),
            target: "/proc/sys/net/ipv4/ip_forward".into(),
            detail: Some(d.into()),
            ..Entry::default()
        };
        let entries = [
            run("apt-mark hold kubelet kubeadm kubectl", 0),
            run("systemctl enable kubelet.service", 0),
            run("systemctl enable containerd", 1),
            run("modprobe -- br_netfilter", 0),
            run("modprobe -- overlay", 0),
            run("modprobe -r -- overlay", 0),
            set("0 -> 1"),
            set("1 -> 1"),
            run("kubeadm init --config /x --upload-certs", 0),
            run("swapoff /swapfile", 0),
        ];
        let a = analyse(&entries);
        assert_eq!(a.held, ["kubelet", "kubeadm", "kubectl"]);
        assert_eq!(a.enabled, ["kubelet.service"]);
        assert_eq!(a.loaded, ["br_netfilter"]);
        assert_eq!(
            a.params,
            [Param {
                path: "/proc/sys/net/ipv4/ip_forward".into(),
                old: "0".into(),
                new: "1".into()
            }]
        );
        assert_eq!(
            a.member.as_deref(),
            Some("kubeadm init --config /x --upload-certs")
        );
        assert_eq!(a.swapped_off, ["/swapfile"]);
        let mut undone = entries.to_vec();
        undone.push(run("kubeadm reset -f", 0));
        undone.push(run("apt-mark unhold kubelet kubeadm kubectl", 0));
        let b = analyse(&undone);
        assert_eq!((b.member, b.held.len()), (None, 0));
    }
}
