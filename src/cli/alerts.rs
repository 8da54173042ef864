//! `payguard alerts [--all]`: what is firing (or everything payguard has said).

use std::path::Path;

use super::load_config;
use crate::config::Secrets;
use crate::control::{Request, ask_or_answer};

pub fn run(path: &Path, all: bool) -> anyhow::Result<u8> {
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, Request::Alerts { all })?.print())
}
