//! `payguard ack ALERT_ID`: a person has seen the alert; it is not repeated.

use std::path::Path;

use super::load_config;
use crate::config::Secrets;
use crate::control::{Request, ask_or_answer};

pub fn run(path: &Path, alert_id: &str) -> anyhow::Result<u8> {
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, Request::Ack { alert_id: alert_id.trim().to_owned() })?
        .print())
}
