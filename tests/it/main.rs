//! The integration tests, one binary: each module is what was once a test binary of its own, and
//! `support` is what they share. One binary links once, so a change to the library relinks one
//! test executable instead of thirty. Tests that need a process of their own stay beside this
//! directory (`tests/crash.rs`, `tests/budget.rs`, `tests/sled_hang.rs`, `tests/system.rs`; each
//! says why in its header). Run one module with `cargo test --test it MODULE::`.

// Helpers here are test code: a failed unwrap is a failed test, and clippy's
// allow-unwrap-in-tests does not reach functions outside `#[test]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod agent;
mod akahu;
mod audit;
mod channel_faults;
mod channels;
mod claim;
mod commands;
mod config_errors;
mod control;
mod daemon;
mod desktop;
mod detection;
mod email;
mod enablebanking;
mod export;
mod faults;
mod flood;
mod full_disk;
mod fuzz_seeds;
mod gocardless;
mod hostile_text;
mod http_json;
mod imap;
mod incidents;
mod metrics;
mod notices;
mod once;
mod outbox;
mod packaging;
mod polling;
mod properties;
mod records;
mod reload;
mod security;
mod service;
mod simplefin;
mod statements;
mod store;
mod teller;
mod up;
