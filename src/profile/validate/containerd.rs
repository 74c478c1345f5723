//! `[containerd]`: paths, the package name, the sandbox image and registry mirrors.

use crate::profile::Profile;
use crate::profile::diagnostic::Diagnostic;
use crate::profile::locate::{Seg, keys};

/// Every check on `[containerd]`.
pub(super) fn check_containerd(profile: &Profile, out: &mut Vec<Diagnostic>) {
    let c = &profile.containerd;
    let at = |key: &str| keys(&["containerd", key]);
    for (key, value) in [
        ("config_path", &c.config_path),
        ("socket", &c.socket),
        ("cni_bin_dir", &c.cni_bin_dir),
    ] {
        if !value.starts_with('/') || value.contains(char::is_whitespace) {
            out.push(
                Diagnostic::at(at(key), format!("`{value}` is not an absolute path"))
                    .expected("an absolute path such as /etc/containerd/config.toml"),
            );
        }
    }
    let valid_package = c.package.len() > 1
        && c.package
            .starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && c.package
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "+-.".contains(ch));
    if !valid_package {
        out.push(
            Diagnostic::at(
                at("package"),
                format!("invalid package name `{}`", c.package),
            )
            .expected("a Debian package name such as containerd or containerd.io"),
        );
    }
    if let Some(image) = &c.sandbox_image
        && (image.is_empty() || image.contains(char::is_whitespace) || !image.contains([':', '@']))
    {
        out.push(
            Diagnostic::at(
                at("sandbox_image"),
                format!("invalid image reference `{image}`"),
            )
            .expected("an image with a tag or digest, such as registry.k8s.io/pause:3.10"),
        );
    }
    for (registry, mirrors) in &c.mirrors {
        let path = || {
            vec![
                Seg::Key("containerd".into()),
                Seg::Key("mirrors".into()),
                Seg::Key(registry.clone()),
            ]
        };
        if let Some(problem) = crate::profile::containerd::registry_problem(registry) {
            out.push(
                Diagnostic::at(
                    path(),
                    format!("invalid registry name {registry:?}: {problem}"),
                )
                .expected("a registry host[:port] such as docker.io or registry.example:5000"),
            );
        }
        for (i, mirror) in mirrors.iter().enumerate() {
            if let Some(problem) = crate::profile::containerd::mirror_problem(mirror) {
                let mut p = path();
                p.push(Seg::Index(i));
                out.push(
                    Diagnostic::at(p, format!("invalid mirror URL {mirror:?}: {problem}"))
                        .expected("an http:// or https:// URL such as https://mirror.gcr.io"),
                );
            }
        }
    }
}
