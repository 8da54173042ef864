//! Fuzz target `statuspage`: an Atlassian Statuspage answer through
//! `notices::statuspage::read_list`, read as each of the three lists. The invariants live in
//! `../checks.rs`, shared with `tests/it/fuzz_seeds.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::statuspage(data));
