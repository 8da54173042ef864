//! `payguard once`: one poll of everything, the findings printed and sent.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use super::{exit, load_config, open_store};
use crate::alert::Alert;
use crate::daemon::{Engine, SourceRun};
use crate::notify::Stream;

pub async fn run(path: &Path, json: bool) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    let console = if json { Stream::Stderr } else { Stream::Stdout };
    let engine = Engine::new(config, store, console).context("cannot set up the sources")?;
    let runs = engine.poll_all().await;
    let mut stdout = std::io::stdout().lock();
    for alert in runs.iter().flat_map(|r| &r.fired) {
        if json {
            writeln!(stdout, "{}", json_line(alert)).context("cannot write to stdout")?;
        }
    }
    drop(stdout);
    let fired: Vec<Alert> = runs.iter().flat_map(|r| r.fired.clone()).collect();
    let deliveries = engine.deliver(&fired).await;
    for (channel, alert, result) in &deliveries {
        if let Err(error) = result {
            eprintln!("payguard: alert {alert} was not delivered to channel {channel}: {error}");
        }
    }
    report(&runs, fired.len());
    Ok(if runs.iter().all(SourceRun::succeeded) { exit::OK } else { exit::TEMPFAIL })
}

/// One finding as a JSON object: `kind`, `severity`, `account` and `title` always; the facts after.
pub fn json_line(alert: &Alert) -> serde_json::Value {
    let f = &alert.finding;
    json!({
        "kind": f.kind,
        "severity": f.severity,
        "account": f.account.account,
        "source": f.account.source,
        "title": f.title,
        "detail": f.detail,
        "alert_id": alert.id,
        "currency": f.currency,
        "amount": f.amount,
        "balance": f.balance,
        "payees": f.payees,
        "transaction_ids": f.transaction_ids,
        "threshold": f.threshold,
        "observed_at": f.observed_at,
    })
}

/// A closing summary on stderr: what was checked, what failed and why.
fn report(runs: &[SourceRun], fired: usize) {
    for run in runs {
        if let Some(error) = &run.error {
            eprintln!("payguard: source {}: {error}", run.source);
        }
        for failure in &run.failures {
            eprintln!("payguard: source {} account {}: {}", run.source, failure.account, failure.error);
        }
    }
    let accounts: usize = runs.iter().map(|r| r.accounts_ok).sum();
    eprintln!("payguard: checked {accounts} account(s) in {} source(s); {fired} new alert(s)", runs.len());
}
