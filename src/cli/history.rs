//! `payguard history ACCOUNT`: the balances and transactions payguard has kept.

use std::path::Path;

use super::load_config;
use crate::config::Secrets;
use crate::control::{HistoryQuery, Request, ask_or_answer};

pub use crate::control::answer::Format;

pub fn run(
    path: &Path,
    account: &str,
    source: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
    format: Format,
) -> anyhow::Result<u8> {
    let config = load_config(path, Secrets::Skip)?;
    let request = Request::History(HistoryQuery {
        account: account.to_owned(),
        source: source.map(str::to_owned),
        since: since.map(str::to_owned),
        until: until.map(str::to_owned),
        format,
    });
    Ok(ask_or_answer(&config, request)?.print())
}
