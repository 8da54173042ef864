//! `payguard history ACCOUNT`: the balances and transactions payguard has kept.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use chrono::{TimeDelta, Utc};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Out;
use crate::config::Config;
use crate::control::HistoryQuery;
use crate::control::exit;
use crate::control::time::parse_time;
use crate::model::AccountRef;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Finds the configured account a person means: by id, and by source when two sources share it,
/// given with `--source` or as `source/id` (the form payguard itself prints).
pub fn account_named(config: &Config, id: &str, source: Option<&str>) -> anyhow::Result<AccountRef> {
    let is_id = |id: &str| config.accounts.iter().any(|a| a.account.account == id);
    let (id, source) = match (source, id.split_once('/')) {
        (None, Some((source, account))) if !is_id(id) => (account, Some(source)),
        _ => (id, source),
    };
    let matches: Vec<&AccountRef> = config
        .accounts
        .iter()
        .map(|a| &a.account)
        .filter(|a| a.account == id && source.is_none_or(|s| a.source == s))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let known: Vec<String> = config.accounts.iter().map(|a| a.account.to_string()).collect();
            bail!(
                "no [[account]] has the id {id:?}{}: configured are {}",
                source.map(|s| format!(" in source {s:?}")).unwrap_or_default(),
                known.join(", ")
            )
        }
        _ => bail!("{id:?} is an account of several sources: say which with --source"),
    }
}

pub fn history(config: &Config, store: &Store, out: &mut Out, query: &HistoryQuery) -> anyhow::Result<u8> {
    let (id, source, since, until, format) =
        (query.account.as_str(), query.source.as_deref(), query.since.as_deref(), query.until.as_deref(), query.format);
    let account = account_named(config, id, source)?;
    let now = Utc::now();
    let since = since.map(|t| parse_time(t, now)).transpose().context("--since")?.unwrap_or(now - TimeDelta::days(30));
    let until = until.map(|t| parse_time(t, now)).transpose().context("--until")?;
    let snapshots = store.snapshots_between(&account, since, until)?;
    let transactions = store.transactions_between(&account, since, until)?;
    let zone = config.daemon.timezone;
    let text = &mut out.stdout;
    match format {
        Format::Table => {
            writeln!(
                text,
                "{account}: {} balance(s), {} transaction(s) since {}",
                snapshots.len(),
                transactions.len(),
                crate::text::time(since, zone)
            )?;
            writeln!(text, "\nbalances:")?;
            for s in &snapshots {
                writeln!(
                    text,
                    "  {}  {:>14} {}",
                    crate::text::time(s.observed_at, zone),
                    s.balance,
                    shown(&s.currency)
                )?;
            }
            writeln!(text, "\ntransactions:")?;
            for t in &transactions {
                let pending = if t.pending { " (pending)" } else { "" };
                writeln!(
                    text,
                    "  {}  {:>14}  {}{pending}  [{}]",
                    crate::text::time(t.posted, zone),
                    t.amount,
                    shown(&t.payee),
                    shown(&t.id)
                )?;
            }
        }
        Format::Csv => {
            writeln!(text, "type,time,amount,balance,currency,payee,description,id,pending")?;
            let currency = snapshots.last().map(|s| s.currency.clone()).unwrap_or_default();
            for s in &snapshots {
                writeln!(
                    text,
                    "balance,{},,{},{},,,,",
                    s.observed_at.to_rfc3339(),
                    s.balance,
                    crate::text::csv(&s.currency)
                )?;
            }
            for t in &transactions {
                writeln!(
                    text,
                    "transaction,{},{},,{},{},{},{},{}",
                    t.posted.to_rfc3339(),
                    t.amount,
                    crate::text::csv(&currency),
                    crate::text::csv(&t.payee),
                    crate::text::csv(&t.description),
                    crate::text::csv(&t.id),
                    t.pending
                )?;
            }
        }
        Format::Json => {
            for s in &snapshots {
                let line =
                    json!({ "type": "balance", "account": account.account, "source": account.source, "snapshot": s });
                writeln!(text, "{}", crate::text::json(&line))?;
            }
            for t in &transactions {
                let line = json!({ "type": "transaction", "account": account.account, "source": account.source, "transaction": t });
                writeln!(text, "{}", crate::text::json(&line))?;
            }
        }
    }
    Ok(exit::OK)
}

/// A bank's text in the table: escaped and clipped (see `crate::text`).
fn shown(field: &str) -> std::borrow::Cow<'_, str> {
    crate::text::clipped(field, crate::text::LINE)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::account_named;
    use crate::config::Config;

    #[test]
    fn an_account_is_named_by_id_or_as_payguard_prints_it() {
        let text = "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://u:p@bank.example/simplefin\"\n\
                    schedule = \"7 * * * *\"\n\n[[account]]\nsource = \"bank\"\nid = \"ACT-1\"\n\n\
                    [[account]]\nsource = \"bank\"\nid = \"odd/id\"\n";
        let config = Config::parse(text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        let named = |id: &str, source: Option<&str>| account_named(&config, id, source).map(|a| a.to_string());
        assert_eq!(named("ACT-1", None).ok(), Some("bank/ACT-1".into()));
        assert_eq!(named("bank/ACT-1", None).ok(), Some("bank/ACT-1".into()));
        assert_eq!(named("ACT-1", Some("bank")).ok(), Some("bank/ACT-1".into()));
        // An id with a slash in it is still found as itself.
        assert_eq!(named("odd/id", None).ok(), Some("bank/odd/id".into()));
        let unknown = named("other/ACT-1", None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(unknown.contains("in source \"other\"") && unknown.contains("bank/ACT-1"), "{unknown}");
    }
}
