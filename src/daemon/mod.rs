//! The daemon: wires config, sources, store, detectors, alerts and channels, and runs the schedule.
//!
//! This is where I/O and time come together: [`Engine`] does one poll of one source end to end
//! (fetch, load history, detect, plan alerts, one atomic store write, flush, deliver), and
//! [`run`] calls it on each source's cron schedule until told to stop.

mod engine;
mod scheduler;

pub use engine::{AccountFailure, Engine, SourceRun};
pub use scheduler::run;
