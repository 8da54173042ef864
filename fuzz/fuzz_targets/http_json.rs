//! Fuzz target `http_json`: balance and transactions answers through the http-json mapper
//! (`source::map_account`). The invariants live in `../checks.rs`, shared with `tests/it/fuzz_seeds.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::http_json(data));
