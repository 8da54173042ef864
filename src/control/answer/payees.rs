//! `payguard payees ACCOUNT` and `payguard trust ACCOUNT PAYEE`: who an account deals with.

use chrono::Utc;

use super::Out;
use super::history::account_named;
use crate::config::Config;
use crate::control::exit;
use crate::store::Store;
use crate::text;

pub fn payees(config: &Config, store: &Store, out: &mut Out, id: &str, source: Option<&str>) -> anyhow::Result<u8> {
    let account = account_named(config, id, source)?;
    let trusted_in_config = config.account(&account).map(|a| a.rules.trusted_payees.clone()).unwrap_or_default();
    let mut payees = store.payees(&account)?;
    payees.sort_by_key(|p| std::cmp::Reverse(p.last_seen));
    say!(out, "{account}: {} payee(s)", payees.len());
    say!(out, "  {:<32} {:<16} {:<16} {:>6}  trusted", "payee", "first seen", "last seen", "count");
    for p in payees {
        let trusted = if p.trusted {
            "yes"
        } else if trusted_in_config.contains(&p.key) {
            "yes (config)"
        } else {
            ""
        };
        say!(
            out,
            "  {:<32} {:<16} {:<16} {:>6}  {trusted}",
            text::clipped(&p.name, text::LINE),
            p.first_seen.format("%Y-%m-%d %H:%M"),
            p.last_seen.format("%Y-%m-%d %H:%M"),
            p.count
        );
    }
    Ok(exit::OK)
}

pub fn trust(
    config: &Config,
    store: &Store,
    out: &mut Out,
    id: &str,
    payee: &str,
    source: Option<&str>,
) -> anyhow::Result<u8> {
    let account = account_named(config, id, source)?;
    let record = store.trust_payee(&account, payee, Utc::now())?;
    store.flush_blocking()?;
    say!(out, "{account}: payments to \"{}\" will not raise new_payee", text::clipped(&record.name, text::LINE));
    Ok(exit::OK)
}
