//! Carrying out the planned tasks, and diagnosing a failed kubeadm run.

#[allow(unused_imports)]
use super::*;

impl KubeadmStep {
    pub(super) fn run_task(&self, ctx: &Context, task: &Task) -> Result<(), StepError> {
        let host = ctx.host;
        let step = self.name();
        let (kubeadm, kubernetes) =
            sections(ctx)?.ok_or_else(|| blocked("no [kubeadm] section"))?;
        let mode = kubeadm.mode();
        match task {
            Task::Write(change) => Ok(change.apply(host, step)?),
            Task::Init(command) => {
                host.run_change(step, command)
                    .map_err(|e| self.diagnosed(ctx, kubernetes, mode, INIT_CONFIG, e))?;
                Ok(host.write_file(step, MEMBER_MARKER, b"init\n", FileMode::KeepOr(0o644))?)
            }
            Task::Join(command, backoff) => {
                let mut waiting = (host.progress())
                    .start("kubeadm.discovery", backoff.total_wait())
                    .after_grace();
                let subject = "the API server to answer kubeadm join's discovery";
                let result = backoff.run(&mut |d| waiting.sleep(d, subject), |n| {
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
                let owner = crate::host::Owner {
                    uid: user.uid,
                    gid: user.gid,
                };
                Ok(host.write_user_file(step, &user.kubeconfig(), &admin, owner, 0o600)?)
            }
            Task::Cni(cni, want) => self.apply_cni(host, cni, want.as_deref()),
            Task::WaitReady(backoff) => ready::wait(host, &ctx.profile.node.name, backoff),
        }
    }

    pub(super) fn diagnosed(
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

pub(super) fn evidence(
    ctx: &Context,
    kubernetes: &Kubernetes,
    mode: Mode,
    config: &str,
) -> Result<Evidence, StepError> {
    Ok(diagnose::collect(
        ctx.host,
        diagnose::Subject {
            mode,
            config_path: config,
            containerd_config: &ctx.profile.containerd.config_path,
            profile_driver: Some(kubernetes.cgroup_driver),
            fail_swap_on: ctx.profile.swap.policy != SwapPolicy::Keep,
            kube_version: Some(&format!("v{}", kubernetes.version)),
            image_repository: Some(&kubernetes.image_repository),
        },
    )?)
}
