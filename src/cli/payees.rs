//! `payguard payees ACCOUNT` and `payguard trust ACCOUNT PAYEE`: who an account deals with.

use std::path::Path;

use super::load_config;
use crate::config::Secrets;
use crate::control::{Request, ask_or_answer};

pub fn list(path: &Path, account: &str, source: Option<&str>, recurring: bool) -> anyhow::Result<u8> {
    let request = Request::Payees { account: account.to_owned(), source: source.map(str::to_owned), recurring };
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, request)?.print())
}

pub fn trust(path: &Path, account: &str, payee: &str, source: Option<&str>) -> anyhow::Result<u8> {
    let request =
        Request::Trust { account: account.to_owned(), payee: payee.to_owned(), source: source.map(str::to_owned) };
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, request)?.print())
}
