//! `[kubeadm.secrets]`: one source of join secrets, and the secrets each mode and role needs.

use super::kubeadm::at;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::kubeadm::{JoinCommand, Kubeadm, Mode, Secrets};
use crate::profile::node::Role;

/// Every check on `kubeadm.secrets`.
pub(super) fn validate_secrets(k: &Kubeadm, role: Role, mode: Mode, out: &mut Vec<Diagnostic>) {
    let s = &k.secrets;
    check_sources(s, out);
    if let Some(command) = &s.join_command {
        check_join_command(s, command, role, mode, out);
    }
    check_needed(k, role, mode, out);
}

/// One source of secrets: a bundle (an absolute path), values, or a join command.
fn check_sources(s: &Secrets, out: &mut Vec<Diagnostic>) {
    if s.bundle.is_some() && (s.has_values() || s.join_command.is_some()) {
        out.push(
            Diagnostic::at(
                at(&["secrets", "bundle"]),
                "secrets come from a bundle and from values at once",
            )
            .expected(
                "either secrets.bundle, or token / ca_cert_hash / certificate_key, or join_command",
            )
            .help("keep one source so every node agrees"),
        );
    }
    if let Some(bundle) = &s.bundle
        && !bundle.starts_with('/')
    {
        out.push(
            Diagnostic::at(
                at(&["secrets", "bundle"]),
                format!("bundle path `{bundle}` is relative"),
            )
            .expected("an absolute path on the node, such as /etc/bootstrap/cluster"),
        );
    }
}

/// A join command alone, on a joining node, for this node's role.
fn check_join_command(
    s: &Secrets,
    command: &JoinCommand,
    role: Role,
    mode: Mode,
    out: &mut Vec<Diagnostic>,
) {
    let path = || at(&["secrets", "join_command"]);
    if s.has_values() {
        out.push(
            Diagnostic::at(
                path(),
                "join_command and token / ca_cert_hash / certificate_key given together",
            )
            .expected("either a join command or separate values"),
        );
    }
    if mode == Mode::Init {
        out.push(
            Diagnostic::at(path(), "join_command on a node that runs kubeadm init")
                .expected("join_command only on joining nodes"),
        );
    }
    if command.control_plane != (role == Role::ControlPlane) && mode == Mode::Join {
        out.push(
            Diagnostic::at(
                path(),
                if command.control_plane {
                    "the join command joins a control plane, but node.role is worker"
                } else {
                    "the join command joins a worker, but node.role is control-plane"
                },
            )
            .expected(
                "--control-plane in the join command exactly when node.role is control-plane",
            ),
        );
    }
    if role == Role::ControlPlane && command.certificate_key.is_none() {
        out.push(
            Diagnostic::at(
                path(),
                "the control-plane join command has no --certificate-key",
            )
            .expected("`--control-plane --certificate-key KEY` in the join command"),
        );
    }
}

/// What init and join need: no CA hash on the node that makes the CA, a token and hash to
/// join, a certificate key where control-plane certificates travel.
fn check_needed(k: &Kubeadm, role: Role, mode: Mode, out: &mut Vec<Diagnostic>) {
    let s = &k.secrets;
    if mode == Mode::Init && s.ca_cert_hash.is_some() {
        out.push(
            Diagnostic::at(at(&["secrets", "ca_cert_hash"]), "ca_cert_hash on the node that creates the CA")
                .expected("ca_cert_hash only on joining nodes; the first control plane needs the CA itself")
                .help("use secrets.bundle (from `bootstrap secrets generate`), which places the CA before init"),
        );
    }
    if mode == Mode::Join && s.bundle.is_none() && s.join_command.is_none() {
        if s.token.is_none() || s.ca_cert_hash.is_none() {
            out.push(
                Diagnostic::at(at(&["secrets"]), "a joining node needs a bootstrap token and the CA hash")
                    .expected("secrets.bundle, or secrets.token with secrets.ca_cert_hash, or secrets.join_command")
                    .help("run `bootstrap secrets generate --out DIR` once and point every profile at it"),
            );
        }
        if role == Role::ControlPlane && s.certificate_key.is_none() {
            out.push(
                Diagnostic::at(at(&["secrets"]), "a joining control plane needs the certificate key")
                    .expected("secrets.certificate_key (the key the first control plane uploaded its certificates with)"),
            );
        }
    }
    if mode == Mode::Init
        && k.control_planes > 1
        && s.bundle.is_none()
        && s.certificate_key.is_none()
    {
        out.push(
            Diagnostic::at(at(&["secrets"]), format!("the first of {} control planes has no certificate key to upload the control-plane certificates with", k.control_planes))
                .expected("secrets.bundle (from `bootstrap secrets generate`), or secrets.certificate_key")
                .help("without it kubeadm makes a random key the other control planes never learn, so they can never join"),
        );
    }
}
