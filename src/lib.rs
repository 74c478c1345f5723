//! `bootstrap`: turns a fresh Linux machine into a Kubernetes node from one declarative
//! profile. Every step observes the node, plans the difference, applies exactly that, and
//! verifies it; all effects go through the [`host::Host`] seam.
//!
//! Layers, each using only those below it (docs/architecture.md; `tests/architecture.rs`
//! fails on a cycle): `values` → `host`, `formats` → `profile` → `engine`, `node` → `kube` →
//! `etcd`, `certs`, `access` → `packages` → `preflight` → `steps` → `upgrade`, `reset` → `cli`,
//! `commands`, `app`.

#![warn(missing_docs)]

pub mod access;
pub mod app;
pub mod certs;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod etcd;
pub mod formats;
pub mod host;
pub mod kube;
pub mod node;
pub mod packages;
pub mod preflight;
pub mod profile;
pub mod reset;
pub mod steps;
pub mod upgrade;
pub mod values;
