//! Step `kubeadm`: the node becomes a cluster member. The first control plane places the
//! bundle's CA, writes kube-vip's static pod (HA), runs `kubeadm init --config`; other nodes
//! run `kubeadm join --config`, retrying while the API server does not answer yet. After
//! init: a kubeconfig for a regular user, the CNI add-on, the join command (classic flow
//! without a bundle), and a bounded wait for Ready. A member node is left alone; a half-done
//! node is reported with evidence and the remedy, never re-initialised; a failed kubeadm run
//! is diagnosed (see `kube::diagnose`).
//!
//! Touches: /etc/kubernetes/pki/ca.{crt,key} (bundle CA, before init),
//! /etc/kubernetes/manifests/kube-vip.yaml, /var/lib/bootstrap/kubeadm/{init,join}.yaml and
//! join-command (0600), /var/lib/bootstrap/cni/NAME.yaml, ~USER/.kube/config (0600); runs
//! kubeadm, kubectl, curl (a CNI URL), chown.

use std::os::unix::fs::MetadataExt;

use sha2::{Digest, Sha256};

use crate::engine::{Change, Context, Plan, Step, StepError};
use crate::formats::diff;
use crate::host::{Command, Host, HostError, Mode as FileMode};
use crate::kube::config::to_yaml;
use crate::kube::diagnose::{self, Evidence, Failure};
use crate::kube::kube_vip;
use crate::kube::render::{Inputs, JoinSecrets};
use crate::kube::retry::{Attempt, Backoff};
use crate::kube::state::{
    self, ADMIN_CONF, CA_CRT, CA_KEY, KUBE_VIP_MANIFEST, KUBELET_CONF, Membership, SUPER_ADMIN_CONF,
};
use crate::kube::yaml::redact_secrets;
use crate::profile::Role;
use crate::profile::kubeadm::{Cni, KubeVip, Kubeadm, Mode};
use crate::profile::kubernetes::Kubernetes;
use crate::profile::swap::SwapPolicy;
use crate::values::KubeVersion;
use crate::values::secret::hex;

mod after;
mod init;
mod inputs;
mod join;
mod run;

use after::{After, cni_copy, kubectl, kubectl_with};
use inputs::missing_inputs;
use join::discovery_failed;
use run::evidence;

/// The init configuration (0600: it holds the token and certificate key).
pub const INIT_CONFIG: &str = "/var/lib/bootstrap/kubeadm/init.yaml";
/// The join configuration (0600).
pub const JOIN_CONFIG: &str = "/var/lib/bootstrap/kubeadm/join.yaml";
/// The join command stored after a classic init (0600).
pub const JOIN_COMMAND_FILE: &str = "/var/lib/bootstrap/kubeadm/join-command";
/// Written when a kubeadm init or join started by bootstrap succeeded: kubeadm's files alone
/// cannot tell a finished init from one that failed waiting for the control plane.
pub const MEMBER_MARKER: &str = "/var/lib/bootstrap/kubeadm/member";
/// The stored copies of applied CNI manifests.
pub const CNI_DIR: &str = "/var/lib/bootstrap/cni";

/// The `kubeadm` step.
pub struct KubeadmStep;

/// One unit of work, shown as one change.
enum Task {
    /// A file written as is.
    Write(Change),
    /// `kubeadm init`; diagnosed when it fails.
    Init(Command),
    /// `kubeadm join`, retried while discovery fails.
    Join(Command, Backoff),
    /// `kubeadm token create --print-join-command`, stored 0600.
    StoreJoinCommand,
    /// admin.conf copied for a user.
    UserKubeconfig(User),
    /// The CNI add-on: fetch, verify, store, apply.
    Cni(Cni, Option<String>),
    /// Wait for the node to be Ready.
    WaitReady(Backoff),
}

/// A regular user from /etc/passwd.
#[derive(Debug, Clone)]
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

impl User {
    fn kube_dir(&self) -> String {
        format!("{}/.kube", self.home.trim_end_matches('/'))
    }
    fn kubeconfig(&self) -> String {
        format!("{}/config", self.kube_dir())
    }
}

/// What this node's kubeadm configuration is, rendered from the profile.
pub struct Rendered {
    /// The file bootstrap writes for kubeadm.
    pub path: &'static str,
    /// The YAML with real secret values (write it 0600, never print it).
    pub yaml: String,
    /// The secrets it was rendered with.
    pub secrets: JoinSecrets,
    /// `init` or `join`.
    pub mode: Mode,
    /// The kubelet configuration patch a join applies (join only).
    pub kubelet_patch: Option<String>,
}

fn blocked(e: impl std::fmt::Display) -> StepError {
    StepError::Blocked(e.to_string())
}

fn sections<'a>(ctx: &Context<'a>) -> Result<Option<(&'a Kubeadm, &'a Kubernetes)>, StepError> {
    let Some(kubeadm) = &ctx.profile.kubeadm else {
        return Ok(None);
    };
    let kubernetes = ctx.profile.kubernetes.as_ref().ok_or_else(|| {
        blocked("[kubeadm] needs [kubernetes] version (the profile was not validated)")
    })?;
    Ok(Some((kubeadm, kubernetes)))
}

/// Renders this node's kubeadm configuration (secrets registered with the host for
/// redaction). `None` when the profile has no `[kubeadm]` section.
pub fn render(ctx: &Context) -> Result<Option<Rendered>, StepError> {
    let Some((kubeadm, kubernetes)) = sections(ctx)? else {
        return Ok(None);
    };
    let secrets =
        JoinSecrets::resolve(ctx.host, kubeadm, ctx.profile.node.role).map_err(blocked)?;
    let mode = kubeadm.mode();
    let inputs = Inputs {
        profile: ctx.profile,
        kubernetes,
        kubeadm,
        address: ctx.address,
        secrets: &secrets,
    };
    let documents = inputs.documents().map_err(blocked)?;
    let yaml = to_yaml(&documents).map_err(blocked)?;
    let path = match mode {
        Mode::Init => INIT_CONFIG,
        Mode::Join => JOIN_CONFIG,
    };
    let kubelet_patch = match mode {
        Mode::Init => None,
        Mode::Join => Some(inputs.kubelet_patch().map_err(blocked)?),
    };
    Ok(Some(Rendered {
        path,
        yaml,
        secrets,
        mode,
        kubelet_patch,
    }))
}

/// A change writing a file that holds secrets: 0600, the diff shown with secrets redacted.
fn secret_config_change(host: &Host, path: &str, old: Option<&str>, new: &str) -> Change {
    let verb = if old.is_some() { "update" } else { "create" };
    let shown_old = old.map(|o| host.redact(&redact_secrets(o)));
    let shown_new = host.redact(&redact_secrets(new));
    Change {
        summary: format!("{verb} {path} (0600; secrets shown as <redacted>)"),
        diff: Some(diff::unified(path, shown_old.as_deref(), &shown_new)),
        action: crate::engine::Action::WriteFile {
            path: path.to_string(),
            contents: new.as_bytes().to_vec(),
            mode: FileMode::Exact(0o600),
        },
    }
}

/// The kube-vip static pod mounting `kubeconfig`.
fn vip_manifest(vip: &KubeVip, port: u16, kubeconfig: &str) -> Result<String, StepError> {
    kube_vip::manifest(vip, port, kubeconfig).map_err(blocked)
}

/// Plans the kube-vip manifest (0600, like kubeadm's own manifests) when it differs.
fn write_manifest(host: &Host, want: String, tasks: &mut Vec<Task>) -> Result<(), StepError> {
    let old = host.read(KUBE_VIP_MANIFEST)?;
    if old.as_deref() != Some(want.as_str()) {
        tasks.push(Task::Write(Change::file(
            KUBE_VIP_MANIFEST,
            old.as_deref(),
            want,
            FileMode::KeepOr(0o600),
        )));
    }
    Ok(())
}

/// Plans kubeadm's config file when it differs from the rendering.
fn write_config(host: &Host, rendered: &Rendered, tasks: &mut Vec<Task>) -> Result<(), StepError> {
    let old = host.read(rendered.path)?;
    if old.as_deref() != Some(rendered.yaml.as_str()) {
        tasks.push(Task::Write(secret_config_change(
            host,
            rendered.path,
            old.as_deref(),
            &rendered.yaml,
        )));
    }
    Ok(())
}

fn at_least(version: KubeVersion, minor: u32) -> bool {
    (version.major, version.minor) >= (1, minor)
}

impl Task {
    fn change(&self, ctx: &Context) -> Change {
        let name = &ctx.profile.node.name;
        match self {
            Task::Write(change) => change.clone(),
            Task::Init(command) => {
                Change::run(format!("run `{}`", command.display()), command.clone())
            }
            Task::Join(command, backoff) => Change::run(
                format!(
                    "run `{}` (up to {} attempts while the API server does not answer)",
                    command.display(),
                    backoff.attempts
                ),
                command.clone(),
            ),
            Task::StoreJoinCommand => Change::run(
                format!("store a join command for workers in {JOIN_COMMAND_FILE} (0600)"),
                join_command_cmd(),
            ),
            Task::UserKubeconfig(user) => Change::run(
                format!(
                    "copy {ADMIN_CONF} to {} (0600, owner {})",
                    user.kubeconfig(),
                    user.name
                ),
                chown(user),
            ),
            Task::Cni(cni, _) => {
                let source = cni.url.as_deref().or(cni.manifest.as_deref()).unwrap_or("");
                Change::run(
                    format!(
                        "apply the {} CNI add-on from {source}{}",
                        cni.name,
                        cni.sha256
                            .as_ref()
                            .map_or(String::new(), |s| format!(" (sha256 {s})"))
                    ),
                    kubectl(&["apply", "-f", &cni_copy(cni)]),
                )
            }
            Task::WaitReady(backoff) => Change::run(
                format!(
                    "wait up to {} for node {name} to be Ready",
                    humantime::format_duration(
                        backoff.initial * backoff.attempts.saturating_sub(1)
                    )
                ),
                ready_cmd(name),
            ),
        }
    }
}

fn join_command_cmd() -> Command {
    Command::new("kubeadm").args(["token", "create", "--print-join-command"])
}

fn chown(user: &User) -> Command {
    Command::new("chown")
        .arg(format!("{}:{}", user.uid, user.gid))
        .args([user.kube_dir(), user.kubeconfig()])
}

fn ready_cmd(node: &str) -> Command {
    kubectl(&[
        "get",
        "node",
        node,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ])
}

impl KubeadmStep {
    fn tasks(&self, ctx: &Context) -> Result<(Plan, Vec<Task>), StepError> {
        let Some((kubeadm, kubernetes)) = sections(ctx)? else {
            return Ok((
                Plan::skip("no [kubeadm] section: the node is prepared but joins no cluster"),
                Vec::new(),
            ));
        };
        let missing = missing_inputs(ctx, kubeadm)?;
        if !missing.is_empty() {
            return Err(blocked(format!(
                "this node cannot take its part in the cluster: it lacks\n  - {}\nnothing was run; put them in place (the bundle from `bootstrap secrets generate`, the CNI manifest), then apply again",
                missing.join("\n  - ")
            )));
        }
        let Some(rendered) = render(ctx)? else {
            return Ok((Plan::default(), Vec::new()));
        };
        let host = ctx.host;
        let role = ctx.profile.node.role;
        let mut plan = Plan::default();
        let mut tasks = Vec::new();
        let after = After {
            ctx,
            kubeadm,
            mode: rendered.mode,
            classic: rendered.secrets.token.is_none(),
        };
        match (
            self.membership(host, &rendered, &mut tasks)?,
            rendered.mode,
            role,
        ) {
            (Membership::Partial { present, missing }, mode, _) => {
                let mut evidence = evidence(ctx, kubernetes, mode, rendered.path)?;
                evidence.present = present;
                evidence.missing = missing;
                return Err(blocked(diagnose::report(
                    &evidence,
                    &diagnose::analyse(&evidence),
                )));
            }
            (Membership::Fresh, Mode::Init, _) => {
                self.plan_init(ctx, kubeadm, kubernetes, &rendered, &mut tasks)?;
                after.plan(true, &mut tasks)?;
            }
            (Membership::Fresh, Mode::Join, _) => {
                self.plan_join(ctx, kubeadm, &rendered, &mut tasks)?;
                after.plan(true, &mut tasks)?;
            }
            (Membership::ControlPlane, _, Role::ControlPlane) => {
                self.check_ca(host, &rendered)?;
                if let Some(vip) = &kubeadm.kube_vip {
                    let want = vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF)?;
                    write_manifest(host, want, &mut tasks)?;
                }
                after.plan(false, &mut tasks)?;
                note_config_drift(host, &rendered, &mut plan)?;
            }
            (Membership::Worker, _, Role::Worker) => note_config_drift(host, &rendered, &mut plan)?,
            (Membership::ControlPlane, _, Role::Worker) => {
                return Err(blocked(
                    "the profile says this node is a worker, but it is a control plane (/etc/kubernetes/manifests/kube-apiserver.yaml and admin.conf exist); to change its role, drain it, run `kubeadm reset -f`, then apply again",
                ));
            }
            (Membership::Worker, _, Role::ControlPlane) => {
                return Err(blocked(
                    "the profile says this node is a control plane, but it has joined as a worker (/etc/kubernetes/kubelet.conf exists, no control-plane manifests); to change its role, drain it, run `kubeadm reset -f`, then apply again",
                ));
            }
        }
        plan.changes = tasks.iter().map(|t| t.change(ctx)).collect();
        Ok((plan, tasks))
    }

    /// kubeadm's files, checked against bootstrap's own record and the node itself. A
    /// complete set of files next to a config bootstrap wrote but without the record that
    /// kubeadm finished is either a run killed after kubeadm succeeded (the API server
    /// answers through the node's own kubeconfig: a member, and the record is written now)
    /// or a run that failed late, waiting for the control plane (it does not answer).
    fn membership(
        &self,
        host: &Host,
        rendered: &Rendered,
        tasks: &mut Vec<Task>,
    ) -> Result<Membership, StepError> {
        let observed = state::observe(host)?;
        let (kind, kubeconfig) = match observed {
            Membership::ControlPlane => ("control plane", ADMIN_CONF),
            Membership::Worker => ("worker", KUBELET_CONF),
            _ => return Ok(observed),
        };
        if host.exists(MEMBER_MARKER) || !host.exists(rendered.path) {
            return Ok(observed);
        }
        let readyz = kubectl_with(kubeconfig, &["get", "--raw", "/readyz"]);
        let answer = host.run(&readyz)?;
        if answer.success() {
            let mut change = Change::file(
                MEMBER_MARKER,
                None,
                format!(
                    "{}\n",
                    if rendered.mode == Mode::Init {
                        "init"
                    } else {
                        "join"
                    }
                ),
                FileMode::KeepOr(0o644),
            );
            change.summary = format!(
                "record that kubeadm finished: the files of a {kind} are complete and the API server answers `{}`",
                readyz.display()
            );
            tasks.push(Task::Write(change));
            return Ok(observed);
        }
        Ok(Membership::Partial {
            present: vec![format!("the files of a {kind}"), rendered.path.to_string()],
            missing: vec![
                format!("{MEMBER_MARKER} (written when kubeadm finishes)"),
                format!(
                    "an answer from the API server to `{}` ({})",
                    readyz.display(),
                    answer.tail(1)
                ),
            ],
        })
    }

    fn check_ca(&self, host: &Host, rendered: &Rendered) -> Result<(), StepError> {
        if let Some(bundle_ca) = &rendered.secrets.ca_cert
            && let Some(node_ca) = host.read(CA_CRT)?
            && node_ca.trim() != bundle_ca.trim()
        {
            return Err(blocked(format!(
                "{CA_CRT} is not the CA of the secrets bundle: this node belongs to another cluster (or holds a CA left by an earlier kubeadm run); remove it or run `kubeadm reset -f`, then apply again"
            )));
        }
        Ok(())
    }
}

fn note_config_drift(host: &Host, rendered: &Rendered, plan: &mut Plan) -> Result<(), StepError> {
    if let Some(stored) = host.read(rendered.path)?
        && stored != rendered.yaml
    {
        plan.warn(format!(
            "the kubeadm configuration rendered from the profile differs from {}, which this node was set up with; kubeadm does not change a running cluster from it (use `kubeadm upgrade` or `kubeadm certs` for that)",
            rendered.path
        ));
    }
    Ok(())
}

impl Step for KubeadmStep {
    fn name(&self) -> &'static str {
        "kubeadm"
    }

    fn plan(&self, ctx: &Context) -> Result<Plan, StepError> {
        Ok(self.tasks(ctx)?.0)
    }

    fn apply(&self, ctx: &Context, plan: &Plan) -> Result<Vec<Change>, StepError> {
        let (again, tasks) = self.tasks(ctx)?;
        let same = again.changes.len() == plan.changes.len()
            && again
                .changes
                .iter()
                .zip(&plan.changes)
                .all(|(a, b)| a.summary == b.summary);
        if !same {
            return Err(blocked(
                "the node changed between plan and apply (another kubeadm run?); run apply again",
            ));
        }
        for task in &tasks {
            self.run_task(ctx, task)?;
        }
        Ok(Vec::new())
    }
}
