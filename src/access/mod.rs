//! Access from the profile: the RBAC objects of `[access]` as Kubernetes manifests, the
//! `kubectl auth can-i` checks that prove them, and client certificates for users signed
//! by the cluster CA (`bootstrap kubeconfig user`). Pure: nothing here runs a program.

pub mod checks;
pub mod manifests;
pub mod user;

/// The `[access]` section of a worker profile with `extra` appended (unit tests).
#[cfg(test)]
pub(crate) fn parse_access(extra: &str) -> crate::profile::access::Access {
    let src = format!("[node]\nname = \"n\"\nrole = \"worker\"\n{extra}");
    crate::profile::Profile::parse(&src, "p.toml")
        .unwrap()
        .access
        .unwrap()
}
