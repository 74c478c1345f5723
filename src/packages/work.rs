//! Work of the `packages` step shared by its methods: the downloader (the profile's proxy,
//! else the environment's) and [`Completion`], kubectl's bash completion written once
//! kubectl is installed.

use crate::engine::{Context, StepError, Work};
use crate::host::{Command, Mode};

use super::COMPLETION;
use super::download::{self, Downloader};
use super::error::PackagesError;

/// A downloader honouring the profile's proxy, or the environment's when the profile has none.
pub fn downloader(ctx: &Context) -> Result<Downloader, PackagesError> {
    let packages = &ctx.profile.packages;
    Ok(Downloader::new(download::Options {
        proxy: packages
            .proxy
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| ctx.env.https_proxy.clone()),
        no_proxy: packages
            .no_proxy
            .as_ref()
            .map(|list| list.join(","))
            .or_else(|| ctx.env.no_proxy.clone()),
        progress: ctx.env.progress,
        waits: Some(ctx.host.progress_handle()),
        ..download::Options::default()
    })?)
}

/// `kubectl completion bash`, run with the kubectl at this node path.
pub fn completion_command(ctx: &Context, kubectl: &str) -> Command {
    Command::new(ctx.host.path(kubectl).display().to_string()).args(["completion", "bash"])
}

/// Writes what `kubectl completion bash` prints into [`COMPLETION`], for a kubectl the
/// changes before it install.
#[derive(Debug)]
pub struct Completion {
    /// kubectl's node path.
    pub kubectl: String,
}

impl Work for Completion {
    fn run(&self, ctx: &Context, step: &str) -> Result<(), StepError> {
        let command = completion_command(ctx, &self.kubectl);
        let output = ctx.host.run(&command)?;
        if !output.success() {
            return Err(PackagesError::Completion {
                command: command.display(),
                tail: output.tail(3),
            }
            .into());
        }
        ctx.host.write_file(
            step,
            COMPLETION,
            output.stdout.as_bytes(),
            Mode::KeepOr(0o644),
        )?;
        Ok(())
    }
}
