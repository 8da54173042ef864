//! The daemon: wires config, sources, store, detectors, alerts and channels, and runs the schedule.
//!
//! This is where I/O and time come together: [`Engine`] does one poll of one source end to end
//! (fetch, load history, detect, plan alerts and deliveries, one atomic store write, flush), the
//! [`Deliverer`] works the outbox, and [`run`] drives both until told to stop.

mod clock;
mod delivery;
mod engine;
pub mod polling;
mod scheduler;
pub mod service;

pub use clock::Clock;
pub use delivery::{Deliverer, RoundReport};
pub use engine::{AccountFailure, Engine, NoticeRun, SetupError, SourceRun};
pub use scheduler::run;
