//! The command line of `bootstrap etcd` (clap definitions only; `commands::etcd` runs
//! them). Kept here, below `cli`, so that `cli` can name them without depending on
//! `commands`.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::snapshot::DEFAULT_DIR;

/// `bootstrap etcd …`.
#[derive(Debug, Subcommand)]
pub enum EtcdCmd {
    /// Snapshots of the local etcd member (run on a control plane with stacked etcd).
    #[command(subcommand)]
    Snapshot(SnapshotCmd),
}

/// `bootstrap etcd snapshot …`.
#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// Save a snapshot with etcdctl, using the endpoint and certificates kubeadm set up;
    /// it gets its final name (mode 0600) only once verified.
    Save(SaveArgs),
    /// Verify a snapshot (its SHA-256 trailer and `etcdutl snapshot status`) and print its
    /// hash, revision, key count and size. Exit 1 when it cannot be trusted.
    Status {
        /// The snapshot file (a node path, under --root).
        file: String,
    },
    /// Restore a snapshot into a new data directory and point etcd's static pod at it.
    /// Without --yes, only the plan is printed (exit 2).
    Restore(RestoreArgs),
}

/// Arguments of `snapshot save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The snapshot file [default: DIR/etcd-snapshot-<UTC time>.db].
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// The directory for timestamped snapshots (created 0700).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR, conflicts_with = "out")]
    pub dir: String,
    /// Keep the newest N etcd-snapshot-*.db in the directory (the new one included) and
    /// remove the older ones, once the new one is verified.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Print what would be done; change nothing (exit 2).
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `snapshot restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot file (a node path, under --root).
    pub file: String,
    /// The new data directory; it must not exist
    /// [default: /var/lib/etcd-from-backup-<UTC time>].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Carry out the plan (without it, the plan is printed and nothing changes).
    #[arg(long)]
    pub yes: bool,
    /// How long to wait for etcd to stop, and then to answer healthy.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}
