//! Carries out an [`Undo`]: in the order that keeps the node consistent at every point
//! (the cluster membership first, parameters before the modules that provide them, files
//! before the unit reload, directories last), each change through the host seam and
//! journaled, then archives the journal and backups.

use std::time::Duration;

use super::files::Verdict;
use super::{ResetError, Undo};
use crate::host::{Command, Found, Host, HostError};

/// The journal's step name for reset's own changes.
const STEP: &str = "reset";

/// What reset did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// One sentence per change made.
    pub done: Vec<String>,
    /// What was left as it is (files kept with `--keep-edited`, modules that would not
    /// unload), one sentence each.
    pub left: Vec<String>,
    /// Node path of the archive holding the journal and backups.
    pub archive: Option<String>,
}

fn run(host: &Host, command: &Command, out: &mut Outcome) -> Result<(), HostError> {
    host.run_change(STEP, command)?;
    out.done
        .push(format!("ran `{}`", host.redact(&command.display())));
    Ok(())
}

fn undo_files(host: &Host, undo: &Undo, out: &mut Outcome) -> Result<bool, HostError> {
    let mut units = false;
    for f in &undo.files {
        let unit = f.path.contains("/systemd/");
        match (&f.verdict, &f.saved) {
            (Verdict::Restore { backup, owner }, Some(saved)) => {
                host.restore(STEP, &f.path, saved, backup, *owner)?;
                out.done.push(format!("restored {} from {backup}", f.path));
            }
            (Verdict::Remove, _) => {
                if host.inspect(&f.path)? == Found::Missing {
                    out.done.push(format!(
                        "{} is already gone (kubeadm reset removed it)",
                        f.path
                    ));
                    continue;
                }
                host.remove_created(STEP, &f.path)?;
                out.done.push(match f.masked_unit() {
                    Some(unit) => format!("unmasked {unit} (removed the link {})", f.path),
                    None => format!("removed {} (bootstrap created it)", f.path),
                });
            }
            (Verdict::Refuse(why), _) => {
                out.left.push(format!("{} left as it is: {why}", f.path));
                continue;
            }
            _ => continue,
        }
        units |= unit;
    }
    Ok(units)
}

/// Carries out `undo`. Refused files stop everything before any change unless
/// `keep_edited`, which leaves them as they are. The journal and backups are moved into
/// `STATE_DIR/archive/<archive>` at the end (when there was a journal).
pub fn carry_out(
    host: &Host,
    undo: &Undo,
    keep_edited: bool,
    archive: &str,
) -> Result<Outcome, ResetError> {
    let refused = undo.refused().len();
    if refused > 0 && !keep_edited {
        return Err(ResetError::Refused { count: refused });
    }
    let mut out = Outcome::default();
    let a = &undo.actions;
    if a.member.is_some() {
        let reset = Command::new("kubeadm")
            .args(["reset", "-f"])
            .timeout(Duration::from_secs(600));
        run(host, &reset, &mut out)?;
    }
    for p in &a.params {
        if host.exists(&p.path) {
            host.write_kernel_param(STEP, &p.path, &p.old)?;
            out.done.push(format!("set {} back to {}", p.path, p.old));
        }
    }
    let mut reload = undo_files(host, undo, &mut out)?;
    if !a.held.is_empty() {
        let unhold = Command::new("apt-mark")
            .arg("unhold")
            .args(a.held.iter().cloned())
            .waits_for_dpkg_lock(Duration::from_secs(300));
        run(host, &unhold, &mut out)?;
    }
    if !a.enabled.is_empty() {
        let disable = Command::new("systemctl")
            .arg("disable")
            .args(a.enabled.iter().cloned());
        run(host, &disable, &mut out)?;
        reload = true;
    }
    if reload {
        run(host, &crate::host::daemon_reload(), &mut out)?;
    }
    if undo.restart_containerd {
        let restart = Command::new("systemctl").args(["restart", "containerd"]);
        run(host, &restart, &mut out)?;
    }
    for area in &undo.swapon {
        if let Err(e) = run(host, &Command::new("swapon").arg(area), &mut out) {
            out.left.push(format!("swap on {area} stays off: {e}"));
        }
    }
    for module in &undo.unload {
        let remove = Command::new("modprobe").args(["-r", "--", module]);
        if let Err(e) = run(host, &remove, &mut out) {
            out.left
                .push(format!("kernel module {module} stays loaded: {e}"));
        }
    }
    for dir in a.dirs.iter().rev() {
        if host.remove_empty_dir(STEP, dir)? {
            out.done.push(format!("removed the empty directory {dir}"));
        }
    }
    if undo.journaled > 0 {
        out.archive = Some(host.archive_state(archive)?);
    }
    Ok(out)
}
