//! kubeadm's certificates: which expire soon ([`expiry`], pure, over what [`collect`] reads
//! through the host; the `certificates` step reports them in `plan` and `check`), and their
//! renewal with kubeadm followed by a restart of the control-plane static pods ([`renew`]).

pub mod args;
pub mod collect;
pub mod expiry;
pub mod renew;
