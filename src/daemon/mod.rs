//! The daemon: wires config, sources, store, detectors, alerts and channels, and runs the schedule.
//!
//! This is where I/O and time come together: [`Engine`] does one poll of one source end to end
//! (fetch, load history, detect, plan alerts and deliveries, one atomic store write, flush), the
//! [`Deliverer`] works the outbox, [`run`] drives both on their schedules, and [`supervise`]
//! runs one such generation per config: swapped whole on reload, stopped within a grace period.

mod clock;
mod delivery;
mod engine;
pub mod metrics;
mod parts;
pub mod polling;
mod scheduler;
pub mod service;
mod status;
mod supervisor;
mod watchdog;

pub use clock::Clock;
pub use delivery::{Deliverer, RoundReport};
pub use engine::{AccountFailure, Engine, NoticeRun, SetupError, SourceRun};
pub use scheduler::run;
pub use status::status_line;
pub use supervisor::{Loader, Reloaded, Request, Stopped, supervise, supervise_loading};
