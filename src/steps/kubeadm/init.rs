//! Planning `kubeadm init`: the bundle's CA placed first, kube-vip's static pod (HA), the
//! configuration, the command.

#[allow(unused_imports)]
use super::*;

impl KubeadmStep {
    pub(super) fn plan_init(
        &self,
        ctx: &Context,
        kubeadm: &Kubeadm,
        kubernetes: &Kubernetes,
        rendered: &Rendered,
        plan: &mut Plan,
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
                plan.push(Change::file(
                    CA_CRT,
                    old_cert.as_deref(),
                    ca.cert_pem.clone(),
                    FileMode::Exact(0o644),
                ));
            }
            let old_key = host.read_bytes(CA_KEY)?;
            if old_key.as_deref() != Some(ca.key_pem.as_bytes()) {
                plan.push(Change::secret_file(
                    CA_KEY,
                    old_key.is_some(),
                    ca.key_pem.clone().into_bytes(),
                ));
            }
        }
        let mut vip_final = None;
        if let Some(vip) = &kubeadm.kube_vip {
            let during = if at_least(kubernetes.version, 29) {
                SUPER_ADMIN_CONF
            } else {
                ADMIN_CONF
            };
            let first = vip_manifest(vip, kubeadm.bind_port, during)?;
            write_manifest(host, first.clone(), plan)?;
            vip_final = Some((first, vip_manifest(vip, kubeadm.bind_port, ADMIN_CONF)?));
        }
        write_config(host, rendered, plan)?;
        let mut command = Command::new("kubeadm")
            .args(["init", "--config", INIT_CONFIG])
            .timeout(kubeadm.timeout.0);
        if rendered.secrets.certificate_key.is_some() {
            command = command.arg("--upload-certs");
        }
        plan.push(work::init(command));
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
            plan.push(change);
        }
        Ok(())
    }
}
