//! How one download shows its progress: a live bar on a terminal, or lines (and JSON
//! events) through the host's wait reporter at least every 10 s.

use std::sync::Mutex;

use indicatif::ProgressBar;

use crate::host::progress::Waiting;

/// Shows a file's progress.
pub(super) enum Meter<'a> {
    /// Nothing shown.
    None,
    /// A live bar on a terminal.
    Bar(ProgressBar),
    /// Lines through the host's wait reporter: (file, the wait, bytes so far and announced).
    Lines(String, Mutex<(Waiting<'a>, u64, Option<u64>)>),
}

impl Meter<'_> {
    /// A (re)started transfer of `length` bytes, when announced.
    pub(super) fn start(&self, length: Option<u64>) {
        match self {
            Meter::Bar(bar) => {
                bar.reset();
                if let Some(n) = length {
                    bar.set_length(n);
                }
            }
            Meter::Lines(_, state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                (state.1, state.2) = (0, length);
            }
            Meter::None => {}
        }
    }

    /// `n` more bytes arrived.
    pub(super) fn advance(&self, n: u64) {
        match self {
            Meter::Bar(bar) => bar.inc(n),
            Meter::Lines(file, state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                state.1 += n;
                let got = indicatif::HumanBytes(state.1);
                let subject = match state.2 {
                    Some(total) => {
                        format!("download {file}: {got} of {}", indicatif::HumanBytes(total))
                    }
                    None => format!("download {file}: {got}"),
                };
                state.0.tick(&subject);
            }
            Meter::None => {}
        }
    }
}
