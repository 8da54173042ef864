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
            text::time(p.first_seen, config.daemon.timezone),
            text::time(p.last_seen, config.daemon.timezone),
            p.count
        );
    }
    Ok(exit::OK)
}

/// How far back `--recurring` looks for monthly payments.
const RECURRING_LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::days(400);

/// The payments seen monthly, as `[[account.expected]]` rules a person can paste. Payee names are
/// the bank's text: shown escaped, then quoted as TOML strings, so none can end the string or hide.
pub fn recurring(config: &Config, store: &Store, out: &mut Out, id: &str, source: Option<&str>) -> anyhow::Result<u8> {
    let account = account_named(config, id, source)?;
    let seen = store.transactions_between(&account, Utc::now() - RECURRING_LOOKBACK, None)?;
    let found = crate::detect::suggest(&seen);
    say!(
        out,
        "{account}: {} payment(s) seen monthly in the last {} days; paste the ones you expect under its [[account]]:",
        found.len(),
        RECURRING_LOOKBACK.num_days()
    );
    for recurring in found {
        let rule = &recurring.rule;
        let quoted = |text: &str| toml_string(&text::clipped(text, text::LINE));
        let (from, to) = recurring.days;
        say!(out, "");
        say!(out, "[[account.expected]]");
        say!(out, "name = {}  # seen in {} months, on days {from} to {to}", quoted(&rule.name), recurring.months);
        if let Some((_, payee)) = &rule.payee {
            say!(out, "payee = {}", quoted(payee));
        }
        say!(out, "day = {}", rule.day);
        say!(out, "amount = \"{}\"", rule.amount);
        say!(out, "late = \"{}\"", crate::model::Duration(rule.late));
        if let Some(change) = rule.change {
            say!(out, "change = {change}");
        }
    }
    Ok(exit::OK)
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
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
