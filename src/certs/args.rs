//! The command line of `bootstrap certs` (clap definitions only; `commands::certs` runs
//! them), kept below `cli` so that `cli` can name them without depending on `commands`.

use std::time::Duration;

use clap::{Args, Subcommand};

/// `bootstrap certs …`.
#[derive(Debug, Subcommand)]
pub enum CertsCmd {
    /// Renew kubeadm's certificates (`kubeadm certs renew all`) and restart the
    /// control-plane static pods so they use them. Without --yes, only the plan (exit 2).
    Renew(RenewArgs),
}

/// Arguments of `certs renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Carry out the plan (without it, the plan is printed and nothing changes).
    #[arg(long)]
    pub yes: bool,
    /// How long the pods stay stopped [default: the kubelet's fileCheckFrequency, 20s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub restart_wait: Option<Duration>,
}
