//! `payguard verify`: walks the store's hash-chained audit log and says whether it is intact.
//!
//! A broken chain exits 1 (`exit::FAILURE`), lost entries 65 (`exit::ROLLED_BACK`), not 74 or 75:
//! the store was read fine, and what it holds was altered, damaged or rolled back, which trying
//! again will not change.

use std::path::Path;

use super::load_config;
use crate::config::Secrets;
use crate::control::{Request, ask_or_answer};

pub fn run(path: &Path) -> anyhow::Result<u8> {
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, Request::Verify)?.print())
}
