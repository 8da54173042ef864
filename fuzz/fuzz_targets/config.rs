//! Fuzz target `config`: a config file's text through `Config::parse`.
//! The invariants live in `../checks.rs`, shared with `tests/it/fuzz_seeds.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config(data));
