//! Facts about this node that several steps need, resolved once per run.

pub mod address;
pub mod facts;
pub mod name;
pub mod procnet;
