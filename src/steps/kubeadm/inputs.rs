//! What a fresh node needs on disk before kubeadm may run, checked in plan, check and apply.

#[allow(unused_imports)]
use super::*;

/// Every input a fresh node's kubeadm run and the steps after it need that is not on the
/// node, so that plan and check name them all before apply starts anything: the bundle
/// files of this node's part, the CNI manifest, the kubeconfig user.
pub(super) fn missing_inputs(ctx: &Context, kubeadm: &Kubeadm) -> Result<Vec<String>, StepError> {
    let host = ctx.host;
    if state::observe(host)? != Membership::Fresh {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    let init = kubeadm.mode() == Mode::Init;
    if let Some(dir) = &kubeadm.secrets.bundle {
        let control_plane = ctx.profile.node.role == Role::ControlPlane;
        let need = crate::kube::bundle::required(init, control_plane, kubeadm.control_planes);
        for path in crate::kube::bundle::missing(host, dir, &need) {
            missing.push(format!(
                "{path} (kubeadm.secrets.bundle; `bootstrap secrets generate` makes it)"
            ));
        }
    }
    if let Some(cni) = kubeadm.cni.as_ref().filter(|_| init)
        && let Some(path) = &cni.manifest
        && !host.exists(path)
    {
        missing.push(format!("{path} (kubeadm.cni.manifest)"));
    }
    if let Some(user) = &kubeadm.kubeconfig_user {
        let passwd = host.read("/etc/passwd")?.unwrap_or_default();
        if !passwd
            .lines()
            .any(|l| l.split(':').next() == Some(user.as_str()))
        {
            missing.push(format!("user `{user}` in /etc/passwd (kubeadm.kubeconfig_user; create it with useradd -m {user})"));
        }
    }
    Ok(missing)
}
