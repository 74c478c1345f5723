//! Planning `kubeadm join`, and which failed joins are worth retrying.

#[allow(unused_imports)]
use super::*;
use crate::kube::render::KUBELET_PATCH;

impl KubeadmStep {
    pub(super) fn plan_join(
        &self,
        ctx: &Context,
        kubeadm: &Kubeadm,
        rendered: &Rendered,
        plan: &mut Plan,
    ) -> Result<(), StepError> {
        let host = ctx.host;
        write_config(host, rendered, plan)?;
        if let Some(patch) = &rendered.kubelet_patch {
            let old = host.read(KUBELET_PATCH)?;
            if old.as_deref() != Some(patch.as_str()) {
                plan.push(Change::file(
                    KUBELET_PATCH,
                    old.as_deref(),
                    patch.clone(),
                    FileMode::KeepOr(0o644),
                ));
            }
        }
        let d = &kubeadm.discovery;
        plan.push(work::join(
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
            let want = vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF)?;
            write_manifest(host, want, plan)?;
        }
        Ok(())
    }
}

/// Whether a failed join failed at discovery (the API server not answering yet), which is
/// worth retrying; other failures are not. The patterns are the diagnosis's
/// ([`crate::kube::diagnose::join`]).
pub(super) fn discovery_failed(error: &HostError) -> bool {
    let HostError::Failed { tail, .. } = error else {
        return false;
    };
    crate::kube::diagnose::join::worth_retrying(tail)
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
