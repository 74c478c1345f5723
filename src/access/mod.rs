//! Access from the profile: the RBAC objects of `[access]` as Kubernetes manifests, the
//! `kubectl auth can-i` checks that prove them, and client certificates for users signed
//! by the cluster CA (`bootstrap kubeconfig user`). Pure: nothing here runs a program.

pub mod checks;
pub mod manifests;
pub mod user;
