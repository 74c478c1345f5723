//! The engine: the step contract, plans and changes, running steps in order, and reporting.

pub mod change;
pub mod context;
pub mod environment;
pub mod event;
pub mod report;
pub mod run;
pub mod step;
#[cfg(test)]
mod tests;

pub use change::{AT_FIRST_BOOT, Action, Change, Note, Plan, Work};
pub use environment::{Environment, Progress};
pub use event::{Event, Mode, Status, Summary};
pub use step::{Context, Step, StepError};
