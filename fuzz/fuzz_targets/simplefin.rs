//! Fuzz target `simplefin`: a SimpleFIN `/accounts` answer through `SimpleFin::parse`.
//! The invariants live in `../checks.rs`, shared with `tests/it/fuzz_seeds.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::simplefin(data));
