//! What to do with one file the agent touched, decided purely from its journal history,
//! what is there now and its backup: put the original back, remove what the agent created,
//! nothing (it is already as it was), or refuse (someone changed it after the agent, or the
//! original was not kept).
//!
//! Policy for a file changed since the agent last wrote it: it is never overwritten
//! silently. `reset` refuses and names it; `--keep-edited` leaves such files as they are
//! (their originals stay in the archive) and undoes the rest.

use crate::host::{Entry, Found, Saved};

/// The journal actions that change a file.
pub const FILE_ACTIONS: [&str; 5] = ["write", "symlink", "remove", "restore", "unlink"];

/// What was there before the agent's first change.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// Nothing: the agent created it.
    Created,
    /// A file or link, kept at this backup.
    Backup(String),
    /// Something the agent kept no copy of.
    Unknown,
}

/// What the agent left there with its last change.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Left {
    /// A file with these bytes (`None`: an older journal line without a digest, written at
    /// `time`).
    File { sha256: Option<String>, time: u64 },
    /// A symlink to this target.
    Link(String),
    /// Nothing.
    Absent,
}

/// The decision for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Already as it was before the agent: nothing to do (the reason says why).
    AsBefore(&'static str),
    /// Put the original back from this backup, giving it this owner.
    Restore {
        /// Node path of the backup.
        backup: String,
        /// The original's owner, when journaled.
        owner: Option<(u32, u32)>,
    },
    /// Remove what the agent created.
    Remove,
    /// Refused: why, and what the operator can do.
    Refuse(String),
}

fn origin(first: &Entry) -> Origin {
    match (&first.existed, &first.backup) {
        (Some(false), _) => Origin::Created,
        (_, Some(backup)) => Origin::Backup(backup.clone()),
        _ => Origin::Unknown,
    }
}

fn left(last: &Entry) -> Left {
    match last.action.as_str() {
        "remove" | "unlink" => Left::Absent,
        "symlink" => Left::Link(last.detail.clone().unwrap_or_default()),
        "restore" if last.sha256.is_none() => Left::Link(last.detail.clone().unwrap_or_default()),
        _ => Left::File {
            sha256: last.sha256.clone(),
            time: last.time,
        },
    }
}

/// Why `found` is not what the agent left, or `None` when it is.
fn changed(left: &Left, found: &Found) -> Option<String> {
    let now = match found {
        Found::Missing => "missing".to_string(),
        Found::File { .. } => "a file with other content".to_string(),
        Found::Link(t) => format!("a symlink to {}", t.display()),
        Found::Other => "a directory or special file".to_string(),
    };
    let same = match (left, found) {
        (
            Left::File {
                sha256: Some(h), ..
            },
            Found::File { sha256, .. },
        ) => h == sha256,
        // An older journal line has no digest: unchanged when not modified after the write.
        (Left::File { sha256: None, time }, Found::File { mtime, .. }) => {
            i64::try_from(*time).is_ok_and(|t| *mtime <= t + 1)
        }
        (Left::Link(t), Found::Link(now)) => now.to_string_lossy() == t.as_str(),
        (Left::Absent, Found::Missing) => true,
        _ => false,
    };
    if same {
        return None;
    }
    let was = match left {
        Left::File { sha256: None, .. } => "bootstrap wrote it (an older journal line without its digest; the file was modified after that write)".to_string(),
        Left::File { .. } => "bootstrap wrote it".to_string(),
        Left::Link(t) => format!("bootstrap made it a symlink to {t}"),
        Left::Absent => "bootstrap removed it".to_string(),
    };
    Some(format!("changed since {was}: it is now {now}"))
}

fn owner(first: &Entry) -> Option<(u32, u32)> {
    let (uid, gid) = first.owner.as_deref()?.split_once(':')?;
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

/// Decides what to do with one file from its `history` (its journal entries with a
/// [`FILE_ACTIONS`] action, oldest first, not empty), what is `found` there now, and its
/// backup as read (`None` when the backup is missing or there is none).
pub fn verdict(history: &[&Entry], found: &Found, saved: Option<&Saved>) -> Verdict {
    let (Some(first), Some(last)) = (history.first(), history.last()) else {
        return Verdict::AsBefore("never changed");
    };
    let origin = origin(first);
    match (&origin, found, saved) {
        (Origin::Created, Found::Missing, _) => return Verdict::AsBefore("already gone"),
        (Origin::Backup(_), _, Some(saved)) if saved.matches(found) => {
            return Verdict::AsBefore("already as before");
        }
        _ => {}
    }
    let left = left(last);
    if *found != Found::Missing
        && let Some(why) = changed(&left, found)
    {
        return Verdict::Refuse(format!(
            "{why}; bootstrap will not overwrite a later change: put its content back, or pass --keep-edited to leave it as it is"
        ));
    }
    match origin {
        Origin::Created => Verdict::Remove,
        Origin::Backup(backup) if saved.is_some() => Verdict::Restore {
            backup,
            owner: owner(first),
        },
        Origin::Backup(backup) => Verdict::Refuse(format!(
            "its original's backup {backup} is missing, so it cannot be put back; restore it by hand, or pass --keep-edited to leave the file as it is"
        )),
        Origin::Unknown => Verdict::Refuse(
            "bootstrap kept no copy of what was there before (it was not a regular file or link); pass --keep-edited to leave it as it is".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::digest;

    fn write(existed: bool, sha: &str) -> Entry {
        Entry {
            time: 100,
            action: "write".into(),
            target: "/etc/hosts".into(),
            existed: Some(existed),
            backup: existed.then(|| "/var/lib/bootstrap/backups/etc/hosts".into()),
            sha256: Some(digest(sha.as_bytes())),
            owner: existed.then(|| "0:4".into()),
            ..Entry::default()
        }
    }

    fn file(text: &str) -> Found {
        Found::File {
            sha256: digest(text.as_bytes()),
            mode: 0o644,
            mtime: 100,
        }
    }

    #[test]
    fn a_modified_file_is_restored_with_its_owner_and_a_created_one_removed() {
        let saved = Saved::File(b"orig".to_vec(), 0o644);
        let w = write(true, "ours");
        assert_eq!(
            verdict(&[&w], &file("ours"), Some(&saved)),
            Verdict::Restore {
                backup: "/var/lib/bootstrap/backups/etc/hosts".into(),
                owner: Some((0, 4))
            }
        );
        assert_eq!(
            verdict(&[&w], &file("orig"), Some(&saved)),
            Verdict::AsBefore("already as before")
        );
        let c = write(false, "ours");
        assert_eq!(verdict(&[&c], &file("ours"), None), Verdict::Remove);
        assert_eq!(
            verdict(&[&c], &Found::Missing, None),
            Verdict::AsBefore("already gone")
        );
    }

    #[test]
    fn later_edits_links_and_missing_backups_are_refused() {
        let saved = Saved::File(b"orig".to_vec(), 0o644);
        let w = write(true, "ours");
        let c = write(false, "ours");
        for (history, found, saved, says) in [
            (
                &w,
                file("edited"),
                Some(&saved),
                "a file with other content",
            ),
            (
                &c,
                Found::Link("/etc/shadow".into()),
                None,
                "a symlink to /etc/shadow",
            ),
            (&c, Found::Other, None, "a directory"),
            (
                &w,
                file("ours"),
                None,
                "backup /var/lib/bootstrap/backups/etc/hosts is missing",
            ),
        ] {
            match verdict(&[history], &found, saved) {
                Verdict::Refuse(why) => assert!(why.contains(says), "{why}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_older_line_without_a_digest_goes_by_the_modification_time() {
        let mut w = write(true, "x");
        w.sha256 = None;
        let saved = Saved::File(b"orig".to_vec(), 0o644);
        let at = |mtime| Found::File {
            sha256: digest(b"whatever"),
            mode: 0o644,
            mtime,
        };
        assert!(matches!(
            verdict(&[&w], &at(100), Some(&saved)),
            Verdict::Restore { .. }
        ));
        assert!(matches!(
            verdict(&[&w], &at(500), Some(&saved)),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn a_mask_is_removed_and_a_restored_file_counts_as_done() {
        let mask = Entry {
            action: "symlink".into(),
            target: "/etc/systemd/system/swap.target".into(),
            existed: Some(false),
            detail: Some("/dev/null".into()),
            ..Entry::default()
        };
        assert_eq!(
            verdict(&[&mask], &Found::Link("/dev/null".into()), None),
            Verdict::Remove
        );
        let w = write(true, "ours");
        let mut back = write(true, "orig");
        back.action = "restore".into();
        let saved = Saved::File(b"orig".to_vec(), 0o644);
        assert_eq!(
            verdict(&[&w, &back], &file("orig"), Some(&saved)),
            Verdict::AsBefore("already as before")
        );
    }
}
