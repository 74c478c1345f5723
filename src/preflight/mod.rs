//! kubeadm's preflight, satisfied before kubeadm runs: the facts it checks are read once
//! ([`facts`]), judged by a table of pure rules written from kubeadm's own checks
//! ([`rules`]), and reported by the `preflight` step, which also fixes what bootstrap owns.
//! Listening sockets and their processes are read by [`sockets`].

pub mod facts;
pub mod rules;
pub mod sockets;
