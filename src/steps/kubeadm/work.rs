//! The work the `kubeadm` step plans beyond files: `kubeadm init` and `kubeadm join` (with
//! their diagnosis, the join retried while the API server does not answer), the join
//! command stored for workers, a user's kubeconfig, the CNI add-on and the wait for Ready.
//! Each is a [`Work`] whose change's summary, made here beside it, says what it does.

use std::time::Duration;

use super::after::{User, cni_copy, kubectl, sha256_hex};
use super::diagnosis::diagnosed;
use super::error::KubeadmError;
use super::{INIT_CONFIG, JOIN_COMMAND_FILE, JOIN_CONFIG, MEMBER_MARKER};
use crate::engine::{Change, Context, StepError, Work};
use crate::host::{Command, Mode as FileMode};
use crate::kube::retry::{Attempt, Backoff};
use crate::kube::state::{self, ADMIN_CONF, Membership};
use crate::profile::kubeadm::{Cni, Mode};

/// `kubeadm init --config`, diagnosed when it fails; [`MEMBER_MARKER`] written once it
/// succeeded.
#[derive(Debug)]
struct Init {
    command: Command,
}

/// The change running `command` (a `kubeadm init`).
pub(super) fn init(command: Command) -> Change {
    Change::work(
        format!(
            "run `{}` (a failure is diagnosed), then record in {MEMBER_MARKER} that it finished",
            command.display()
        ),
        Init { command },
    )
}

impl Work for Init {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        host.run_change(step, &self.command)
            .map_err(|e| diagnosed(ctx, Mode::Init, INIT_CONFIG, e))?;
        Ok(host.write_file(step, MEMBER_MARKER, b"init\n", FileMode::KeepOr(0o644))?)
    }
}

/// `kubeadm join --config`, retried while discovery fails, diagnosed when it fails;
/// [`MEMBER_MARKER`] written once it succeeded.
#[derive(Debug)]
struct Join {
    command: Command,
    backoff: Backoff,
}

/// The change running `command` (a `kubeadm join`) under `backoff`.
pub(super) fn join(command: Command, backoff: Backoff) -> Change {
    Change::work(
        format!(
            "run `{}` (up to {} attempts while the API server does not answer; a failure is diagnosed), then record in {MEMBER_MARKER} that it finished",
            command.display(),
            backoff.attempts
        ),
        Join { command, backoff },
    )
}

impl Work for Join {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        let mut waiting = (host.progress())
            .start("kubeadm.discovery", self.backoff.total_wait())
            .after_grace();
        let subject = "the API server to answer kubeadm join's discovery";
        let result = self.backoff.run(&mut |d| waiting.sleep(d, subject), |n| {
            match host.run_change(step, &self.command) {
                Ok(_) => Attempt::Done(()),
                Err(e)
                    if super::join::discovery_failed(&e)
                        && matches!(state::observe(host), Ok(Membership::Fresh)) =>
                {
                    tracing::info!(attempt = n, "the API server did not answer yet; retrying");
                    Attempt::Retry(e)
                }
                Err(e) => Attempt::Fail(e),
            }
        });
        result.map_err(|gave_up| {
            let error = diagnosed(ctx, Mode::Join, JOIN_CONFIG, gave_up.error);
            match gave_up.exhausted {
                true => KubeadmError::GaveUp {
                    attempts: gave_up.attempts,
                    source: Box::new(error),
                }
                .into(),
                false => error,
            }
        })?;
        Ok(host.write_file(step, MEMBER_MARKER, b"join\n", FileMode::KeepOr(0o644))?)
    }
}

/// `kubeadm token create --print-join-command`, its line stored 0600.
#[derive(Debug)]
struct StoreJoinCommand;

/// The change storing a join command for workers.
pub(super) fn store_join_command() -> Change {
    Change::work(
        format!(
            "store a join command for workers in {JOIN_COMMAND_FILE} (0600), from `kubeadm token create --print-join-command`"
        ),
        StoreJoinCommand,
    )
}

impl Work for StoreJoinCommand {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        let command = Command::new("kubeadm").args(["token", "create", "--print-join-command"]);
        let out = host.run_change(step, &command)?;
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("kubeadm join"))
            .unwrap_or("")
            .trim()
            .to_string();
        let parsed: crate::profile::kubeadm::JoinCommand = line
            .parse()
            .map_err(|e: crate::values::Invalid| KubeadmError::JoinCommand { why: e.problem })?;
        host.add_secret(parsed.token.expose());
        host.add_secret(parsed.token.secret_part());
        Ok(host.write_file(
            step,
            JOIN_COMMAND_FILE,
            format!("{line}\n").as_bytes(),
            FileMode::Exact(0o600),
        )?)
    }
}

/// admin.conf copied for a regular user, the file and its directory given to the user.
#[derive(Debug)]
struct UserKubeconfig(User);

/// The change copying admin.conf for `user`.
pub(super) fn user_kubeconfig(user: User) -> Change {
    Change::work(
        format!(
            "copy {ADMIN_CONF} to {} (0600, owner {})",
            user.kubeconfig(),
            user.name
        ),
        UserKubeconfig(user),
    )
}

impl Work for UserKubeconfig {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        let user = &self.0;
        let admin = host
            .read_bytes(ADMIN_CONF)?
            .ok_or_else(|| KubeadmError::NoAdminConf {
                user: user.name.clone(),
            })?;
        let owner = crate::host::Owner {
            uid: user.uid,
            gid: user.gid,
        };
        Ok(host.write_user_file(step, &user.kubeconfig(), &admin, owner, 0o600)?)
    }
}

/// The CNI add-on: its manifest fetched (URL) or read (node file), checked against the
/// pinned digest, stored, and applied with kubectl.
#[derive(Debug)]
struct ApplyCni {
    cni: Cni,
    want: Option<String>,
}

/// The change applying `cni`, whose manifest must hash to `want` when set.
pub(super) fn apply_cni(cni: Cni, want: Option<String>) -> Change {
    let source = cni.url.as_deref().or(cni.manifest.as_deref()).unwrap_or("");
    let copy = cni_copy(&cni);
    let pin = want
        .as_ref()
        .map_or(String::new(), |s| format!(", checked against sha256 {s}"));
    let apply = kubectl(&["apply", "-f", &copy]).display();
    Change::work(
        format!(
            "apply the {} CNI add-on from {source}{pin} (stored in {copy}, then `{apply}`)",
            cni.name
        ),
        ApplyCni { cni, want },
    )
}

impl ApplyCni {
    fn manifest(&self, ctx: &Context) -> Result<Vec<u8>, StepError> {
        let cni = &self.cni;
        match (&cni.url, &cni.manifest) {
            (Some(url), _) => {
                let fetch = Command::new("curl").args(["-fsSL", "--max-time", "120", url]);
                let out = ctx.host.run(&fetch)?;
                if !out.success() {
                    return Err(KubeadmError::CniDownload {
                        name: cni.name.clone(),
                        url: url.clone(),
                        tail: out.tail(2),
                    }
                    .into());
                }
                Ok(out.stdout.into_bytes())
            }
            (None, Some(path)) => {
                Ok(ctx
                    .host
                    .read_bytes(path)?
                    .ok_or_else(|| KubeadmError::CniMissing {
                        name: cni.name.clone(),
                        path: path.clone(),
                    })?)
            }
            (None, None) => Err(KubeadmError::CniSource.into()),
        }
    }
}

impl Work for ApplyCni {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let bytes = self.manifest(ctx)?;
        let actual = sha256_hex(&bytes);
        if let Some(want) = &self.want
            && *want != actual
        {
            return Err(KubeadmError::CniDigest {
                name: self.cni.name.clone(),
                actual,
                want: want.clone(),
            }
            .into());
        }
        let copy = cni_copy(&self.cni);
        let host = ctx.host;
        host.write_file(step, &copy, &bytes, FileMode::Exact(0o644))?;
        host.run_change(step, &kubectl(&["apply", "-f", &copy]))?;
        Ok(())
    }
}

/// Polls the node's Ready condition until it is `True`.
#[derive(Debug)]
struct WaitReady {
    node: String,
    backoff: Backoff,
}

/// The change waiting for `node` to be Ready, polling under `backoff`.
pub(super) fn wait_ready(node: &str, backoff: Backoff) -> Change {
    let total: Duration = backoff.initial * backoff.attempts.saturating_sub(1);
    Change::work(
        format!(
            "wait up to {} for node {node} to be Ready",
            humantime::format_duration(total)
        ),
        WaitReady {
            node: node.to_string(),
            backoff,
        },
    )
}

impl Work for WaitReady {
    fn run(&self, ctx: &Context, _step: &str) -> Result<(), StepError> {
        let host = ctx.host;
        let node = &self.node;
        let ready = kubectl(&[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        let mut waiting = (host.progress())
            .start("kubeadm.ready_timeout", self.backoff.total_wait())
            .after_grace();
        let last = std::cell::RefCell::new(String::new());
        let subject = || format!("node {node} to be Ready (last: {})", last.borrow().trim());
        let check = |_| {
            let attempt = match host.run(&ready) {
                Ok(out) if out.success() && out.stdout.trim() == "True" => Attempt::Done(()),
                Ok(out) => Attempt::Retry(format!("Ready={} {}", out.stdout.trim(), out.tail(1))),
                Err(e) => Attempt::Retry(e.to_string()),
            };
            if let Attempt::Retry(why) = &attempt {
                last.replace(why.clone());
            }
            attempt
        };
        self.backoff
            .run(&mut |d| waiting.sleep(d, &subject()), check)
            .map_err(|gave_up| KubeadmError::NotReady {
                node: node.clone(),
                checks: gave_up.attempts,
                last: gave_up.error.trim().to_string(),
            })?;
        Ok(())
    }
}
