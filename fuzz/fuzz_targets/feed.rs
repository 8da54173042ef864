//! Fuzz target `feed`: an RSS, Atom or JSON feed through `notices::feed::read_feed`.
//! The invariants live in `../checks.rs`, shared with `tests/it/fuzz_seeds.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::feed(data));
