//! payguard watches payment and bank accounts and alerts a person when something is wrong with their
//! money.
//!
//! The layout follows the data:
//!
//! - [`config`]: the TOML file, validated, with secrets resolved by the commands that use them.
//! - [`source`]: account APIs, one module per kind, polled into [`model::Observation`]s; and the
//!   status pages and feeds read into [`model::Notice`]s.
//! - [`store`]: the history in sled; the only module that knows sled.
//! - [`detect`]: pure detectors, history + observation + now → [`model::Finding`]s.
//! - [`alert`]: pure alert planning: fingerprints, dedup, resolution.
//! - [`notify`]: channels, one module per kind, and the words of an alert.
//! - [`daemon`]: wires it all together and runs the schedule.
//! - [`sim`]: a simulated platform for the demo and the tests.
//! - [`export`]: evidence bundles (CSV, JSON, an HTML report with an SVG chart, a manifest).
//! - [`tls_roots`]: the CA certificates https needs, and the error when a system has none.
//! - [`cli`]: the commands.
//! - [`retry`]: when to try again (the one backoff schedule).
//! - [`text`]: text from outside as it may be shown (escaped, clipped) and kept (bounded).

pub mod alert;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod detect;
pub mod export;
pub mod model;
pub mod notify;
pub(crate) mod redact;
pub mod retry;
pub mod sim;
pub mod source;
pub mod store;
pub mod text;
pub mod tls_roots;
