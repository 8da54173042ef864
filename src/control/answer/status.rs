//! `payguard status`: how each source and account is doing, what is firing, what is owed.

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::Out;
use crate::alert::AlertState;
use crate::config::Config;
use crate::control::exit;
use crate::store::Store;
use crate::text;

pub fn status(config: &Config, store: &Store, out: &mut Out, as_json: bool) -> anyhow::Result<u8> {
    for found in store.rollbacks()? {
        warn!(out, "payguard: {}; run `payguard verify`", found.rollback);
    }
    let now = Utc::now();
    let tz = config.daemon.timezone;
    let mut sources = Vec::new();
    // A source whose last poll failed, or with an account whose data is unusable, is not watched
    // as it should be: said in the exit code, so a script or a monitor can tell.
    let mut failing = false;
    for source in &config.sources {
        let health = store.source_health(&source.name)?;
        failing |= health.consecutive_failures > 0 || !health.unreadable.is_empty();
        let used = health.requests.iter().filter(|t| **t > now - TimeDelta::hours(24)).count();
        let left = source.polling.max_requests_per_day.map(|max| (max as usize).saturating_sub(used));
        let state = match (health.last_attempt, health.consecutive_failures, &health.budget_spent) {
            (_, _, Some(spent)) => format!(
                "request budget spent ({} of max_requests_per_day = {}), no polls until {}",
                spent.used,
                spent.max,
                text::time(spent.until, tz)
            ),
            (None, _, None) => "never polled".to_owned(),
            (Some(_), 0, None) => "ok".to_owned(),
            (Some(_), n, None) => format!("failing ({n} in a row): {}", health.last_error.clone().unwrap_or_default()),
        };
        sources.push(json!({
            "source": source.name,
            "kind": source.kind.name(),
            "last_poll": health.last_attempt,
            "last_success": health.last_success,
            "state": state,
            "next_poll": source.schedule.next_after(now, tz),
            "requests_left_today": left,
            "budget_spent_until": health.budget_spent.as_ref().map(|b| b.until),
            "consent_until": health.consent_until,
            "quotas": health.quotas,
        }));
    }
    let mut accounts = Vec::new();
    for account in &config.accounts {
        let latest = store.latest_snapshots(&account.account, 2)?;
        let change = match latest.as_slice() {
            [now, before, ..] if now.currency == before.currency => Some(now.balance - before.balance),
            _ => None,
        };
        accounts.push(json!({
            "account": account.account.account,
            "source": account.account.source,
            "name": account.name,
            "balance": latest.first().map(|s| s.balance),
            "currency": latest.first().map(|s| s.currency.clone()),
            "as_of": latest.first().map(|s| s.observed_at),
            "last_change": change,
        }));
    }
    let firing: Vec<_> = store.all_alerts()?.into_iter().filter(|a| a.state == AlertState::Firing).collect();
    let pending = store.pending_deliveries()?;
    // A store that cannot be written means nothing is watched: said first, and in the exit code.
    let failure = store.failure();
    let code = match (&failure, failing) {
        (Some(_), _) => exit::IO,
        (None, true) => exit::TEMPFAIL,
        (None, false) => exit::OK,
    };
    let store_json = match &failure {
        Some(f) => json!({ "state": "failing", "since": f.since, "error": f.error }),
        None => json!({ "state": "ok" }),
    };
    if as_json {
        let alerts: Vec<_> = firing.iter().map(crate::notify::render::alert_json).collect();
        let status = json!({
            "store": store_json,
            "sources": sources,
            "accounts": accounts,
            "firing": alerts,
            "pending_deliveries": pending.len()
        });
        say!(out, "{}", text::json(&status));
        return Ok(code);
    }
    if let Some(f) = &failure {
        say!(
            out,
            "store: FAILING since {}: {}\n  polls are not kept and nothing is watched until the store can be written again\n",
            text::time(f.since, tz),
            f.error
        );
    }
    // Every string below may hold a platform's or a bank's words (an error, a name, a currency).
    let shown =
        |value: &serde_json::Value, width: usize| text::clipped(value.as_str().unwrap_or_default(), width).into_owned();
    say!(out, "sources:");
    for s in &sources {
        let when = |key: &str| {
            s[key].as_str().map(|t| t.get(..16).unwrap_or(t).replace('T', " ")).unwrap_or_else(|| "-".to_owned())
        };
        let left = s["requests_left_today"].as_u64().map(|n| format!(", {n} requests left today")).unwrap_or_default();
        say!(
            out,
            "  {} ({}): {}; last poll {}, next {}{left}",
            shown(&s["source"], text::LINE),
            shown(&s["kind"], text::LINE),
            shown(&s["state"], text::BLOCK),
            when("last_poll"),
            when("next_poll")
        );
        if let Some(until) = s["consent_until"].as_str() {
            say!(out, "    access granted by the bank ends {}", local(until, tz));
        }
        for (account, quota) in s["quotas"].as_object().into_iter().flatten() {
            let of = quota["limit"].as_u64().map(|l| format!(" of {l}")).unwrap_or_default();
            say!(
                out,
                "    {}: {}{of} reads left, more from {}",
                text::clipped(account, text::LINE),
                quota["remaining"],
                local(quota["resets_at"].as_str().unwrap_or_default(), tz)
            );
        }
    }
    say!(out, "\naccounts:");
    for a in &accounts {
        let balance = match (a["balance"].as_str(), a["currency"].as_str()) {
            (Some(b), Some(c)) => format!("{b} {}", text::clipped(c, text::LINE)),
            _ => "not polled yet".to_owned(),
        };
        let change = a["last_change"].as_str().map(|c| format!(" (last change {c})")).unwrap_or_default();
        say!(
            out,
            "  {}/{} \"{}\": {balance}{change}",
            shown(&a["source"], text::LINE),
            shown(&a["account"], text::LINE),
            shown(&a["name"], text::LINE)
        );
    }
    say!(out, "\n{} alert(s) firing, {} message(s) owed", firing.len(), pending.len());
    for a in &firing {
        let (subject, title) =
            (text::clipped(a.finding.subject(), text::LINE), text::clipped(&a.finding.title, text::LINE));
        say!(out, "  {}  {}  {subject} · {title}", a.id, a.finding.severity);
    }
    Ok(code)
}

/// An RFC 3339 time from the answer, on the configured wall clock, to the minute.
fn local(time: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(time).map(|t| text::time(t.to_utc(), tz)).unwrap_or_else(|_| "-".to_owned())
}
