//! This node's kubeadm configuration rendered from the profile, and the file changes
//! that put it (and kube-vip's static pod) in place.

use super::error::KubeadmError;
#[allow(unused_imports)]
use super::*;

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

/// Renders this node's kubeadm configuration (secrets registered with the host for
/// redaction). `None` when the profile has no `[kubeadm]` section.
pub fn render(ctx: &Context) -> Result<Option<Rendered>, StepError> {
    let Some((kubeadm, kubernetes)) = sections(ctx)? else {
        return Ok(None);
    };
    let secrets = JoinSecrets::resolve(ctx.host, kubeadm, ctx.profile.node.role)
        .map_err(KubeadmError::from)?;
    let mode = kubeadm.mode();
    let inputs = Inputs {
        profile: ctx.profile,
        kubernetes,
        kubeadm,
        address: ctx.address,
        secrets: &secrets,
    };
    let documents = inputs.documents().map_err(KubeadmError::from)?;
    let yaml = to_yaml(&documents).map_err(KubeadmError::from)?;
    let path = match mode {
        Mode::Init => INIT_CONFIG,
        Mode::Join => JOIN_CONFIG,
    };
    let kubelet_patch = match mode {
        Mode::Init => None,
        Mode::Join => Some(inputs.kubelet_patch().map_err(KubeadmError::from)?),
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
pub(super) fn secret_config_change(
    host: &Host,
    path: &str,
    old: Option<&str>,
    new: &str,
) -> Change {
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
pub(super) fn vip_manifest(
    vip: &KubeVip,
    port: u16,
    kubeconfig: &str,
) -> Result<String, StepError> {
    Ok(kube_vip::manifest(vip, port, kubeconfig).map_err(KubeadmError::from)?)
}

/// Plans the kube-vip manifest (0600, like kubeadm's own manifests) when it differs.
pub(super) fn write_manifest(host: &Host, want: String, plan: &mut Plan) -> Result<(), StepError> {
    let old = host.read(KUBE_VIP_MANIFEST)?;
    if old.as_deref() != Some(want.as_str()) {
        plan.push(Change::file(
            KUBE_VIP_MANIFEST,
            old.as_deref(),
            want,
            FileMode::KeepOr(0o600),
        ));
    }
    Ok(())
}

/// Plans kubeadm's config file when it differs from the rendering.
pub(super) fn write_config(
    host: &Host,
    rendered: &Rendered,
    plan: &mut Plan,
) -> Result<(), StepError> {
    let old = host.read(rendered.path)?;
    if old.as_deref() != Some(rendered.yaml.as_str()) {
        plan.push(secret_config_change(
            host,
            rendered.path,
            old.as_deref(),
            &rendered.yaml,
        ));
    }
    Ok(())
}

pub(super) fn at_least(version: KubeVersion, minor: u32) -> bool {
    (version.major, version.minor) >= (1, minor)
}
