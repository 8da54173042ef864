//! `payguard status`: how each source and account is doing, what is firing, what is owed.

use std::path::Path;

use super::load_config;
use crate::config::Secrets;
use crate::control::{Request, ask_or_answer};

pub fn run(path: &Path, json: bool) -> anyhow::Result<u8> {
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, Request::Status { json })?.print())
}
