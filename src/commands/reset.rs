//! `bootstrap reset [--yes] [--keep-edited]`: prints what undoing this agent's changes does
//! (exit 2 when there is something to undo, 0 when nothing), and with `--yes` carries it out
//! under the node lock (see [`crate::reset`]).

use std::time::Duration;

use crate::cli::{Output, ResetArgs};
use crate::host::Host;
use crate::reset::files::Verdict;
use crate::reset::{self, Outcome, ResetError, Undo};

/// What is said about removed secrets.
pub const NOT_SHREDDED: &str = "removed files are unlinked, not overwritten: on copy-on-write filesystems (btrfs, ZFS), in snapshots and on SSDs their old blocks may survive, so shredding is not promised";

/// The plan as sentences: changes, what stays, what is refused.
fn sentences(undo: &Undo) -> (Vec<String>, Vec<String>, Vec<String>) {
    let a = &undo.actions;
    let mut changes = Vec::new();
    if let Some(member) = &a.member {
        changes.push(format!(
            "run `kubeadm reset -f` (the node became a member with `{member}`)"
        ));
    }
    for p in &a.params {
        changes.push(format!("set {} back to {} (now {})", p.path, p.old, p.new));
    }
    let mut refused = Vec::new();
    for f in &undo.files {
        match &f.verdict {
            Verdict::Restore { backup, .. } => {
                changes.push(format!("restore {} from {backup}", f.path))
            }
            Verdict::Remove if f.masked_unit().is_some() => changes.push(format!(
                "unmask {} (remove the link {} -> /dev/null bootstrap made)",
                f.masked_unit().unwrap_or_default(),
                f.path
            )),
            Verdict::Remove if f.private() => changes.push(format!(
                "remove {} (bootstrap created it; private, unlinked: not shredded)",
                f.path
            )),
            Verdict::Remove => changes.push(format!("remove {} (bootstrap created it)", f.path)),
            Verdict::Refuse(why) => refused.push(format!("{}: {why}", f.path)),
            Verdict::AsBefore(_) => {}
        }
    }
    if !a.held.is_empty() {
        changes.push(format!("run `apt-mark unhold {}`", a.held.join(" ")));
    }
    if !a.enabled.is_empty() {
        changes.push(format!("run `systemctl disable {}`", a.enabled.join(" ")));
    }
    if undo.restart_containerd {
        changes.push("run `systemctl restart containerd` (its configuration is put back)".into());
    }
    for area in &undo.swapon {
        changes.push(format!("turn swap on {area} back on (`swapon {area}`)"));
    }
    for m in &undo.unload {
        changes.push(format!(
            "unload kernel module {m} (`modprobe -r`; nothing uses it)"
        ));
    }
    if !a.dirs.is_empty() {
        changes.push(format!(
            "remove the directories bootstrap created, when empty: {}",
            a.dirs.join(", ")
        ));
    }
    if undo.journaled > 0 {
        changes.push(format!(
            "archive the journal and backups under {}/archive/",
            crate::host::STATE_DIR
        ));
    }
    (changes, a.stays.clone(), refused)
}

fn list(title: &str, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let lines: String = items.iter().map(|i| format!("  - {i}\n")).collect();
    format!("{title}\n{lines}")
}

fn print(output: Output, undo: &Undo, outcome: Option<&Outcome>, yes: bool) -> i32 {
    let (changes, stays, refused) = sentences(undo);
    if output == Output::Json {
        super::print_json(&serde_json::json!({
            "command": "reset",
            "journal_lines": undo.journaled,
            "pending": undo.pending(),
            "changes": changes,
            "stays": stays,
            "refused": refused,
            "done": outcome.map(|o| o.done.clone()),
            "left": outcome.map(|o| o.left.clone()),
            "archive": outcome.and_then(|o| o.archive.clone()),
            "note": NOT_SHREDDED,
        }));
        return 0;
    }
    let mut text = String::new();
    if undo.journaled == 0 {
        text.push_str(
            "bootstrap reset: the journal lists no change on this node; nothing to undo\n",
        );
    } else if let Some(o) = outcome {
        text.push_str(&list("bootstrap reset: done", &o.done));
        text.push_str(&list("Left as it is:", &o.left));
        text.push_str(&list("Stays as it is:", &stays));
        if let Some(archive) = &o.archive {
            text.push_str(&format!(
                "The journal and backups are archived in {archive}\n"
            ));
        }
        text.push_str(&format!("Note: {NOT_SHREDDED}\n"));
    } else {
        let head = if yes {
            "bootstrap reset would"
        } else {
            "bootstrap reset (plan; run with --yes to carry it out)"
        };
        text.push_str(&list(&format!("{head}:"), &changes));
        text.push_str(&list("Stays as it is:", &stays));
        text.push_str(&list(
            "Refused (reset changes nothing while any is listed, unless --keep-edited leaves them as they are):",
            &refused,
        ));
        text.push_str(&format!("Note: {NOT_SHREDDED}\n"));
    }
    super::write_stdout(text.as_bytes())
}

/// Runs `bootstrap reset`.
pub fn run(host: &Host, output: Output, args: &ResetArgs) -> i32 {
    let undo = match reset::plan(host) {
        Ok(undo) => undo,
        Err(e) => return fail(&e),
    };
    if !args.yes {
        print(output, &undo, None, false);
        return if undo.pending() { 2 } else { 0 };
    }
    if undo.journaled == 0 {
        print(output, &undo, None, true);
        return 0;
    }
    if let Err(e) = host.require_privileges() {
        return fail(&ResetError::Host(e));
    }
    let _lock = match host.lock(Duration::ZERO) {
        Ok(lock) => lock,
        Err(e) => return fail(&ResetError::Host(e)),
    };
    let archive = format!("reset-{}", host.unix_time());
    match reset::carry_out(host, &undo, args.keep_edited, &archive) {
        Ok(outcome) => print(output, &undo, Some(&outcome), true),
        Err(e) => {
            if matches!(e, ResetError::Refused { .. }) {
                print(output, &undo, None, true);
            }
            fail(&e)
        }
    }
}

fn fail(e: &ResetError) -> i32 {
    eprintln!("error: {e}");
    1
}
