//! After init or join: a kubeconfig for a regular user, the CNI add-on, the join command
//! stored for workers (classic flow), and the wait for Ready.

#[allow(unused_imports)]
use super::*;

/// A regular user from /etc/passwd.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
    home: String,
}

impl User {
    pub(super) fn kube_dir(&self) -> String {
        format!("{}/.kube", self.home.trim_end_matches('/'))
    }
    pub(super) fn kubeconfig(&self) -> String {
        format!("{}/config", self.kube_dir())
    }
}

/// kubectl with admin.conf.
pub(super) fn kubectl(args: &[&str]) -> Command {
    kubectl_with(ADMIN_CONF, args)
}

/// kubectl with the given kubeconfig.
pub(super) fn kubectl_with(kubeconfig: &str, args: &[&str]) -> Command {
    Command::new("kubectl")
        .args(["--kubeconfig", kubeconfig])
        .args(args.iter().copied())
}

pub(super) fn find_user(host: &Host, name: &str) -> Result<User, StepError> {
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

pub(super) fn owner(host: &Host, node_path: &str) -> Option<(u32, u32)> {
    std::fs::symlink_metadata(host.path(node_path))
        .ok()
        .map(|m| (m.uid(), m.gid()))
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(super) fn cni_copy(cni: &Cni) -> String {
    format!("{CNI_DIR}/{}.yaml", cni.name)
}

/// The steps after init that keep a control plane as the profile wants, whether it was
/// initialised just now or long ago.
pub(super) struct After<'a> {
    pub(super) ctx: &'a Context<'a>,
    pub(super) kubeadm: &'a Kubeadm,
    pub(super) mode: Mode,
    pub(super) classic: bool,
}

impl After<'_> {
    pub(super) fn plan(&self, fresh: bool, plan: &mut Plan) -> Result<(), StepError> {
        let host = self.ctx.host;
        let before = plan.changes.len();
        if let Some(name) = &self.kubeadm.kubeconfig_user {
            let user = find_user(host, name)?;
            let current = host.read_bytes(&user.kubeconfig())?;
            let admin = host.read_bytes(ADMIN_CONF)?;
            let owned = [user.kube_dir(), user.kubeconfig()]
                .iter()
                .all(|p| owner(host, p) == Some((user.uid, user.gid)));
            if fresh || current.is_none() || current != admin || !owned {
                plan.push(work::user_kubeconfig(user));
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
                    plan.push(work::apply_cni(cni.clone(), want));
                }
            }
            if self.classic && (fresh || !host.exists(JOIN_COMMAND_FILE)) {
                plan.push(work::store_join_command());
            }
            if let Some(access) = &self.ctx.profile.access {
                super::access::plan(self.ctx, access, fresh, plan)?;
            }
            if plan.changes.len() > before && self.kubeadm.cni.is_some() {
                plan.push(work::wait_ready(
                    &self.ctx.profile.node.name,
                    Backoff::polling(self.kubeadm.ready_timeout.0),
                ));
            }
        }
        Ok(())
    }
}
