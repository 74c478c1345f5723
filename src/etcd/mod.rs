//! etcd on a kubeadm control plane (stacked etcd, a static pod): snapshots saved with
//! etcd's own `etcdctl` and checked before they are reported saved, their status, and a
//! restore into a new data directory that the static pod is then pointed at.
//!
//! The facts come from the node: kubeadm's etcd manifest ([`manifest`]) names the member,
//! its URLs, its CA and its data directory; kubeadm's certificate layout gives the client
//! certificate ([`tools::ClientCerts`]). docs/etcd.md describes the procedure and its
//! sources.

pub mod args;
pub mod error;
pub mod manifest;
pub mod restore;
pub mod snapshot;
pub mod tools;
mod yaml_spans;

pub use error::EtcdError;
