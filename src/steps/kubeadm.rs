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
use crate::kube::render::{Inputs, JoinSecrets, kube_vip_manifest};
use crate::kube::retry::{Attempt, Backoff};
use crate::kube::secrets::hex;
use crate::kube::state::{
    self, ADMIN_CONF, CA_CRT, CA_KEY, KUBE_VIP_MANIFEST, Membership, SUPER_ADMIN_CONF,
};
use crate::profile::Role;
use crate::profile::kubeadm::{Cni, Kubeadm, Mode};
use crate::profile::kubernetes::Kubernetes;
use crate::profile::swap::SwapPolicy;
use crate::profile::values::KubeVersion;

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
    let secrets = JoinSecrets::resolve(ctx.host, kubeadm).map_err(blocked)?;
    let mode = kubeadm.mode(ctx.profile.node.role);
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
    Ok(Some(Rendered {
        path,
        yaml,
        secrets,
        mode,
    }))
}

/// A change writing a file that holds secrets: 0600, the diff shown with secrets redacted.
fn secret_config_change(host: &Host, path: &str, old: Option<&str>, new: &str) -> Change {
    let verb = if old.is_some() { "update" } else { "create" };
    let shown_old = old.map(|o| host.redact(o));
    let shown_new = host.redact(new);
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

fn kubectl(args: &[&str]) -> Command {
    Command::new("kubectl")
        .args(["--kubeconfig", ADMIN_CONF])
        .args(args.iter().copied())
}

fn find_user(host: &Host, name: &str) -> Result<User, StepError> {
    let passwd = host.read("/etc/passwd")?.unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && f[0] == name)
        .and_then(|f| {
            Some(User {
                name: name.to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .ok_or_else(|| {
            blocked(format!(
                "kubeadm.kubeconfig_user: user `{name}` is not in /etc/passwd; create the user first (useradd -m {name}) or change the profile"
            ))
        })
}

fn owner(host: &Host, node_path: &str) -> Option<(u32, u32)> {
    std::fs::symlink_metadata(host.path(node_path))
        .ok()
        .map(|m| (m.uid(), m.gid()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn cni_copy(cni: &Cni) -> String {
    format!("{CNI_DIR}/{}.yaml", cni.name)
}

/// The steps after init that keep a control plane as the profile wants, whether it was
/// initialised just now or long ago.
struct After<'a> {
    ctx: &'a Context<'a>,
    kubeadm: &'a Kubeadm,
    mode: Mode,
    classic: bool,
}

impl After<'_> {
    fn plan(&self, fresh: bool, tasks: &mut Vec<Task>) -> Result<(), StepError> {
        let host = self.ctx.host;
        let before = tasks.len();
        if let Some(name) = &self.kubeadm.kubeconfig_user {
            let user = find_user(host, name)?;
            let current = host.read_bytes(&user.kubeconfig())?;
            let admin = host.read_bytes(ADMIN_CONF)?;
            let owned = [user.kube_dir(), user.kubeconfig()]
                .iter()
                .all(|p| owner(host, p) == Some((user.uid, user.gid)));
            if fresh || current.is_none() || current != admin || !owned {
                tasks.push(Task::UserKubeconfig(user));
            }
        }
        if self.mode == Mode::Init {
            if let Some(cni) = &self.kubeadm.cni {
                let stored = host.read_bytes(&cni_copy(cni))?;
                let want = match (&cni.sha256, &cni.manifest) {
                    (Some(pin), _) => Some(pin.clone()),
                    (None, Some(path)) => host.read_bytes(path)?.map(|b| sha256_hex(&b)),
                    (None, None) => None,
                };
                let converged = stored.as_ref().is_some_and(|s| Some(sha256_hex(s)) == want);
                if fresh || !converged {
                    tasks.push(Task::Cni(cni.clone(), want));
                }
            }
            if self.classic && (fresh || !host.exists(JOIN_COMMAND_FILE)) {
                tasks.push(Task::StoreJoinCommand);
            }
            if tasks.len() > before && self.kubeadm.cni.is_some() {
                tasks.push(Task::WaitReady(Backoff::polling(
                    self.kubeadm.ready_timeout.0,
                )));
            }
        }
        Ok(())
    }
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
        match (self.membership(host, &rendered)?, rendered.mode, role) {
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
                    let want = kube_vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF);
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

    /// kubeadm's files, corrected by bootstrap's own record: a complete set of files next to
    /// a config bootstrap wrote, without the record that kubeadm finished, is a run that
    /// failed late (for example waiting for the control plane).
    fn membership(&self, host: &Host, rendered: &Rendered) -> Result<Membership, StepError> {
        let observed = state::observe(host)?;
        let kind = match observed {
            Membership::ControlPlane => "control plane",
            Membership::Worker => "worker",
            _ => return Ok(observed),
        };
        if host.exists(MEMBER_MARKER) || !host.exists(rendered.path) {
            return Ok(observed);
        }
        Ok(Membership::Partial {
            present: vec![format!("the files of a {kind}"), rendered.path.to_string()],
            missing: vec![format!("{MEMBER_MARKER} (written when kubeadm finishes)")],
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

    fn plan_init(
        &self,
        ctx: &Context,
        kubeadm: &Kubeadm,
        kubernetes: &Kubernetes,
        rendered: &Rendered,
        tasks: &mut Vec<Task>,
    ) -> Result<(), StepError> {
        let host = ctx.host;
        if let Some(dir) = &kubeadm.secrets.bundle {
            let ca = rendered.secrets.ca.as_ref().ok_or_else(|| {
                blocked(format!(
                    "the first control plane needs the bundle's CA, but {dir} has no ca.crt and ca.key (a worker's copy?): copy the whole bundle made by `bootstrap secrets generate`"
                ))
            })?;
            self.check_ca(host, rendered)?;
            let old_cert = host.read(CA_CRT)?;
            if old_cert.as_deref() != Some(ca.cert_pem.as_str()) {
                tasks.push(Task::Write(Change::file(
                    CA_CRT,
                    old_cert.as_deref(),
                    ca.cert_pem.clone(),
                    FileMode::Exact(0o644),
                )));
            }
            let old_key = host.read_bytes(CA_KEY)?;
            if old_key.as_deref() != Some(ca.key_pem.as_bytes()) {
                tasks.push(Task::Write(Change::secret_file(
                    CA_KEY,
                    old_key.is_some(),
                    ca.key_pem.clone().into_bytes(),
                )));
            }
        }
        let mut vip_final = None;
        if let Some(vip) = &kubeadm.kube_vip {
            let during = if at_least(kubernetes.version, 29) {
                SUPER_ADMIN_CONF
            } else {
                ADMIN_CONF
            };
            let first = kube_vip_manifest(vip, kubeadm.bind_port, during);
            write_manifest(host, first.clone(), tasks)?;
            vip_final = Some((first, kube_vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF)));
        }
        write_config(host, rendered, tasks)?;
        let mut command = Command::new("kubeadm")
            .args(["init", "--config", INIT_CONFIG])
            .timeout(kubeadm.timeout.0);
        if rendered.secrets.certificate_key.is_some() {
            command = command.arg("--upload-certs");
        }
        tasks.push(Task::Init(command));
        if let Some((first, last)) = vip_final
            && first != last
        {
            let mut change = Change::file(
                KUBE_VIP_MANIFEST,
                Some(&first),
                last,
                FileMode::KeepOr(0o600),
            );
            change.summary = format!(
                "switch kube-vip to {ADMIN_CONF} once init is done (super-admin.conf is for init only)"
            );
            tasks.push(Task::Write(change));
        }
        Ok(())
    }

    fn plan_join(
        &self,
        ctx: &Context,
        kubeadm: &Kubeadm,
        rendered: &Rendered,
        tasks: &mut Vec<Task>,
    ) -> Result<(), StepError> {
        let host = ctx.host;
        write_config(host, rendered, tasks)?;
        let d = &kubeadm.discovery;
        tasks.push(Task::Join(
            Command::new("kubeadm")
                .args(["join", "--config", JOIN_CONFIG])
                .timeout(kubeadm.timeout.0),
            Backoff {
                attempts: d.attempts,
                initial: d.initial_delay.0,
                max: d.max_delay.0,
            },
        ));
        if let Some(vip) = &kubeadm.kube_vip {
            // After the join: kube-vip mounts admin.conf, which the join writes; a hostPath
            // that does not exist yet would be created as a directory by the kubelet.
            let want = kube_vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF);
            write_manifest(host, want, tasks)?;
        }
        Ok(())
    }

    fn run_task(&self, ctx: &Context, task: &Task) -> Result<(), StepError> {
        let host = ctx.host;
        let step = self.name();
        let (kubeadm, kubernetes) =
            sections(ctx)?.ok_or_else(|| blocked("no [kubeadm] section"))?;
        let mode = kubeadm.mode(ctx.profile.node.role);
        match task {
            Task::Write(change) => Ok(change.apply(host, step)?),
            Task::Init(command) => {
                host.run_change(step, command)
                    .map_err(|e| self.diagnosed(ctx, kubernetes, mode, INIT_CONFIG, e))?;
                Ok(host.write_file(step, MEMBER_MARKER, b"init\n", FileMode::KeepOr(0o644))?)
            }
            Task::Join(command, backoff) => {
                let result = backoff.run(&mut |d| host.sleep(d), |n| {
                    match host.run_change(step, command) {
                        Ok(_) => Attempt::Done(()),
                        Err(e)
                            if discovery_failed(&e)
                                && matches!(state::observe(host), Ok(Membership::Fresh)) =>
                        {
                            tracing::info!(
                                attempt = n,
                                "the API server did not answer yet; retrying"
                            );
                            Attempt::Retry(e)
                        }
                        Err(e) => Attempt::Fail(e),
                    }
                });
                result.map_err(|gave_up| {
                    let mut error =
                        self.diagnosed(ctx, kubernetes, mode, JOIN_CONFIG, gave_up.error);
                    if gave_up.exhausted
                        && let StepError::Blocked(text) = &mut error
                    {
                        *text = format!(
                            "gave up after {} join attempts (kubeadm.discovery.attempts)\n{text}",
                            gave_up.attempts
                        );
                    }
                    error
                })?;
                Ok(host.write_file(step, MEMBER_MARKER, b"join\n", FileMode::KeepOr(0o644))?)
            }
            Task::StoreJoinCommand => {
                let out = host.run_change(step, &join_command_cmd())?;
                let line = out
                    .stdout
                    .lines()
                    .find(|l| l.trim_start().starts_with("kubeadm join"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let parsed: crate::profile::kubeadm::JoinCommand = line.parse().map_err(|e: String| {
                    blocked(format!("`kubeadm token create --print-join-command` printed no usable join command: {}", e.split("; expected").next().unwrap_or_default()))
                })?;
                host.add_secret(parsed.token.expose());
                host.add_secret(parsed.token.secret_part());
                Ok(host.write_file(
                    step,
                    JOIN_COMMAND_FILE,
                    format!("{line}\n").as_bytes(),
                    FileMode::Exact(0o600),
                )?)
            }
            Task::UserKubeconfig(user) => {
                let admin = host.read_bytes(ADMIN_CONF)?.ok_or_else(|| {
                    blocked(format!(
                        "{ADMIN_CONF} does not exist, so there is nothing to copy for {}",
                        user.name
                    ))
                })?;
                host.write_file(step, &user.kubeconfig(), &admin, FileMode::Exact(0o600))?;
                let owned = [user.kube_dir(), user.kubeconfig()]
                    .iter()
                    .all(|p| owner(host, p) == Some((user.uid, user.gid)));
                if !owned {
                    host.run_change(step, &chown(user))?;
                }
                Ok(())
            }
            Task::Cni(cni, want) => self.apply_cni(host, cni, want.as_deref()),
            Task::WaitReady(backoff) => {
                let node = &ctx.profile.node.name;
                backoff
                    .run(&mut |d| host.sleep(d), |_| match host.run(&ready_cmd(node)) {
                        Ok(out) if out.success() && out.stdout.trim() == "True" => Attempt::Done(()),
                        Ok(out) => Attempt::Retry(format!("Ready={} {}", out.stdout.trim(), out.tail(1))),
                        Err(e) => Attempt::Retry(e.to_string()),
                    })
                    .map_err(|gave_up| {
                        blocked(format!(
                            "node {node} was not Ready after {} checks (last: {}); see `kubectl --kubeconfig {ADMIN_CONF} get pods -A` for the CNI and CoreDNS pods",
                            gave_up.attempts, gave_up.error.trim()
                        ))
                    })
            }
        }
    }

    fn apply_cni(&self, host: &Host, cni: &Cni, want: Option<&str>) -> Result<(), StepError> {
        let bytes = match (&cni.url, &cni.manifest) {
            (Some(url), _) => {
                let out =
                    host.run(&Command::new("curl").args(["-fsSL", "--max-time", "120", url]))?;
                if !out.success() {
                    return Err(blocked(format!(
                        "cannot download the {} manifest from {url}: {}",
                        cni.name,
                        out.tail(2)
                    )));
                }
                out.stdout.into_bytes()
            }
            (None, Some(path)) => host.read_bytes(path)?.ok_or_else(|| {
                blocked(format!(
                    "the {} manifest {path} does not exist on the node",
                    cni.name
                ))
            })?,
            (None, None) => return Err(blocked("kubeadm.cni needs manifest or url")),
        };
        let actual = sha256_hex(&bytes);
        if let Some(want) = want
            && want != actual
        {
            return Err(blocked(format!(
                "the {} manifest has sha256 {actual}, but the profile pins {want}; nothing was applied (check the URL or update kubeadm.cni.sha256 after reviewing the manifest)",
                cni.name
            )));
        }
        let copy = cni_copy(cni);
        host.write_file(self.name(), &copy, &bytes, FileMode::Exact(0o644))?;
        host.run_change(self.name(), &kubectl(&["apply", "-f", &copy]))?;
        Ok(())
    }

    fn diagnosed(
        &self,
        ctx: &Context,
        kubernetes: &Kubernetes,
        mode: Mode,
        config: &str,
        error: HostError,
    ) -> StepError {
        let failure = match &error {
            HostError::Failed {
                command,
                code,
                tail,
            } => Failure {
                command: command.clone(),
                code: code.parse().ok(),
                tail: tail.clone(),
            },
            other => Failure {
                command: format!(
                    "kubeadm {}",
                    if mode == Mode::Init { "init" } else { "join" }
                ),
                code: None,
                tail: other.to_string(),
            },
        };
        match evidence(ctx, kubernetes, mode, config) {
            Ok(mut e) => {
                e.failure = Some(failure);
                blocked(diagnose::report(&e, &diagnose::analyse(&e)))
            }
            Err(_) => StepError::Host(error),
        }
    }
}

fn evidence(
    ctx: &Context,
    kubernetes: &Kubernetes,
    mode: Mode,
    config: &str,
) -> Result<Evidence, StepError> {
    Ok(diagnose::collect(
        ctx.host,
        mode,
        config,
        Some(kubernetes.cgroup_driver),
        ctx.profile.swap.policy != SwapPolicy::Keep,
        Some(&format!("v{}", kubernetes.version)),
        Some(&kubernetes.image_repository),
    )?)
}

/// Whether a failed join failed at discovery (the API server not answering yet), which is
/// worth retrying; other failures are not.
fn discovery_failed(error: &HostError) -> bool {
    let HostError::Failed { tail, .. } = error else {
        return false;
    };
    [
        "connection refused",
        "no route to host",
        "i/o timeout",
        "couldn't validate the identity of the API Server",
    ]
    .iter()
    .any(|m| tail.contains(m))
        && !tail.contains("none of the public keys")
        && !tail.contains("JWS signature")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_discovery_failures_are_retried() {
        let failed = |tail: &str| HostError::Failed {
            command: "kubeadm join".into(),
            code: "1".into(),
            tail: tail.into(),
        };
        assert!(discovery_failed(&failed(
            "couldn't validate the identity of the API Server: dial tcp 192.168.33.13:6443: connect: connection refused"
        )));
        assert!(!discovery_failed(&failed(
            "couldn't validate the identity of the API Server: none of the public keys \"sha256:ab\" are pinned"
        )));
        assert!(!discovery_failed(&failed(
            "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]"
        )));
    }
}
