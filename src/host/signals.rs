//! Ctrl-C, SIGTERM and SIGHUP while a helper program runs. Helpers run in their own process
//! group (so a terminal's Ctrl-C reaches only the agent); when one of these signals arrives
//! while a helper runs, the agent forwards it to the helper's group, waits for the helper to
//! exit, journals the interruption, and only then dies of the same signal. With no helper
//! running the signal acts as it always does (the process dies at once).

use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Helpers running now.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// The signal received while a helper ran, or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static INSTALLED: Once = Once::new();

/// The signals forwarded to a running helper.
const FORWARDED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

extern "C" fn on_signal(signal: nix::libc::c_int) {
    if RUNNING.load(Ordering::SeqCst) == 0 {
        // Nothing to forward: the default action (both calls are async-signal-safe).
        unsafe {
            nix::libc::signal(signal, nix::libc::SIG_DFL);
            nix::libc::raise(signal);
        }
        return;
    }
    RECEIVED.store(signal, Ordering::SeqCst);
}

fn install() {
    INSTALLED.call_once(|| {
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for signal in FORWARDED {
            // SAFETY: the handler only touches atomics and calls signal(2)/raise(3).
            if let Err(e) = unsafe { sigaction(signal, &action) } {
                tracing::warn!("cannot handle {signal}: {e}");
            }
        }
    });
}

/// Marks a helper as running for as long as it lives; create it before the helper starts.
pub struct Running(());

impl Running {
    /// A helper is about to start.
    pub fn start() -> Running {
        install();
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The signal that arrived while a helper ran, if any.
pub fn received() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// Ends the agent by `signal` the way the default action would (exit status "killed by
/// signal"), after the helper was stopped and the interruption journaled.
pub fn die_of(signal: i32) -> ! {
    // SAFETY: resetting a disposition and raising a signal in our own process.
    unsafe {
        nix::libc::signal(signal, nix::libc::SIG_DFL);
        nix::libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
