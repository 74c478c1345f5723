//! This node's kubeadm configuration rendered from the profile, and the file changes
//! that put it (and kube-vip's static pod) in place.

use super::error::KubeadmError;
#[allow(unused_imports)]
use super::*;
use crate::engine::Note;
use crate::kube::config::ApiVersion;

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
    /// What choosing the configuration API found (the installed kubeadm's default differing
    /// from the table).
    pub notes: Vec<Note>,
}

/// The kubeadm configuration API to write: the table's ([`ApiVersion::for_kubernetes`],
/// cited there) unless the installed kubeadm, asked on a node it has not run on yet, writes
/// another one by default. An API this agent does not render keeps the table's, with a
/// warning; a member node keeps what it was set up with (kubeadm is not asked again).
pub fn api_version(
    ctx: &Context,
    kubernetes: &Kubernetes,
    notes: &mut Vec<Note>,
) -> Result<ApiVersion, StepError> {
    let table = ApiVersion::for_kubernetes(kubernetes.version);
    if !matches!(state::observe(ctx.host)?, Membership::Fresh) {
        return Ok(table);
    }
    let Some(said) = crate::node::facts::kubeadm::default_api(ctx.host)? else {
        return Ok(table);
    };
    let version = kubernetes.version;
    Ok(match ApiVersion::parse(&said) {
        Some(api) if api == table => table,
        Some(api) => {
            notes.push(Note::Info(format!(
                "the installed kubeadm writes {said} by default (`kubeadm config print init-defaults`), where this agent's table says {} for Kubernetes {version}: rendering {said}, as the installed kubeadm does",
                table.as_str()
            )));
            api
        }
        None => {
            notes.push(Note::Warning(format!(
                "the installed kubeadm writes {said} by default (`kubeadm config print init-defaults`), which this agent does not render: rendering {}, the table's choice for Kubernetes {version}; if kubeadm refuses it, `kubeadm config migrate` names the change",
                table.as_str()
            )));
            table
        }
    })
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
    let mut notes = Vec::new();
    let inputs = Inputs {
        profile: ctx.profile,
        kubernetes,
        kubeadm,
        address: ctx.address,
        secrets: &secrets,
        api: api_version(ctx, kubernetes, &mut notes)?,
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
        notes,
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
