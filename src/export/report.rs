//! `report.html`: the bundle for a human reader, one self-contained page with no scripts and no
//! external resources, so it opens the same offline, years later, on the investigator's machine.
//!
//! Every piece of text from the store goes through [`escape`]: payee names and descriptions are
//! written by whoever sent the money, so a thief can name themselves `<script>…` or hide a
//! right-to-left override in the name. A restrictive
//! Content-Security-Policy backs that up, should a future edit forget to escape.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::Bundle;
use super::chart::{Marker, balance_chart};
use crate::alert::{Alert, AlertState};
use crate::model::Transaction;

/// Text made safe for HTML element content and quoted attribute values, with controls and
/// invisible or reordering characters shown as `\u{…}` ([`crate::text::escaped`]): in evidence a
/// right-to-left override must be seen, not make `oC drolnaL` read `Landlord Co`.
pub fn escape(text: &str) -> String {
    crate::text::html(&crate::text::escaped(text))
}

fn when(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    format!(
        r#"<time datetime="{}">{}</time>"#,
        escape(&t.to_rfc3339()),
        escape(&crate::text::time_to_the_second(t, zone))
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:70em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
td.num{text-align:right;font-family:monospace}code{font-family:monospace}\
li.alert{color:#a02c1c;font-weight:bold}li{margin:.3em 0}.note{color:#666}";

/// The whole page.
pub fn render(bundle: &Bundle) -> String {
    let account = &bundle.account;
    let zone = bundle.zone;
    let range = format!("{} to {}", crate::text::time(bundle.since, zone), crate::text::time(bundle.until, zone));
    let title = format!("payguard evidence: account {} of {}, {range}", account.account, account.source);
    let currency = escape(&bundle.currency);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        html,
        "<p>Exported {} by payguard {}. Audit chain at export: <strong>{}</strong>. \
The files beside this page (transactions.csv, balances.csv, alerts.json) hold the same data; \
MANIFEST.txt gives each file's SHA-256.</p>",
        when(bundle.exported_at, zone),
        escape(&bundle.version),
        escape(&bundle.audit_status())
    );

    // Summary: what fired, most serious first as the alert planner ranks it.
    let _ = writeln!(html, "<h2>Summary</h2>");
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for alert in &bundle.alerts {
        *kinds.entry(alert.kind().to_string()).or_default() += 1;
    }
    let counted: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        html,
        "<p>{} alert(s) in this range{}; {} transaction(s); {} balance observation(s).</p>",
        bundle.alerts.len(),
        if counted.is_empty() { String::new() } else { format!(" ({})", escape(&counted.join(", "))) },
        bundle.transactions.len(),
        bundle.snapshots.len()
    );
    if !bundle.alerts.is_empty() {
        html.push_str(
            "<table class=\"alerts\"><tr><th>First fired</th><th>Kind</th><th>Severity</th><th>What</th>\
<th>Amount</th><th>State</th><th>Alert id</th></tr>\n",
        );
        for a in &bundle.alerts {
            let amount = a.finding.amount.map(|d| format!("{d} {}", a.finding.currency)).unwrap_or_default();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}<br><span class=\"note\">{}</span></td>\
<td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
                when(a.first_fired, bundle.zone),
                escape(a.kind().as_str()),
                escape(a.severity().as_str()),
                escape(&a.finding.title),
                escape(&a.finding.detail),
                escape(&amount),
                escape(&state(a, zone)),
                escape(&a.id)
            );
        }
        html.push_str("</table>\n");
    }

    html.push_str("<h2>Timeline</h2>\n");
    html.push_str(&timeline(bundle));

    html.push_str("<h2>Balance</h2>\n");
    let points: Vec<_> = bundle.snapshots.iter().map(|s| (s.observed_at, s.balance)).collect();
    let markers: Vec<Marker<'_>> =
        bundle.alerts.iter().map(|a| Marker { at: a.first_fired, label: a.finding.title.as_str() }).collect();
    html.push_str(&balance_chart(&points, &markers, &bundle.currency, zone));
    html.push_str("\n<p class=\"note\">The line is the balance at each poll; dashed red lines mark when each alert first fired.</p>\n");

    html.push_str("<h2>Transactions</h2>\n");
    if bundle.transactions.is_empty() {
        html.push_str("<p>No transactions in this range.</p>\n");
    } else {
        html.push_str(
            "<table class=\"transactions\"><tr><th>Posted</th><th>Amount</th><th>Payee</th><th>Description</th>\
<th>Id</th><th>Pending</th></tr>\n",
        );
        for t in &bundle.transactions {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td class=\"num\">{} {currency}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                when(t.posted, bundle.zone),
                t.amount,
                escape(&t.payee),
                escape(&t.description),
                escape(&t.id),
                if t.pending { "yes" } else { "no" }
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn state(alert: &Alert, zone: chrono_tz::Tz) -> String {
    let state = match alert.state {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    };
    match alert.acknowledged_at {
        Some(at) => format!("{state}, acknowledged {}", crate::text::time(at, zone)),
        None => state.to_owned(),
    }
}

/// The incident in time order: each alert when it first fired, and each transaction an alert
/// cites when it was posted, with the alerts that cite it.
fn timeline(bundle: &Bundle) -> String {
    enum Event<'a> {
        Alert(&'a Alert),
        Transaction(&'a Transaction, Vec<&'a str>),
        Missing(&'a str, Vec<&'a str>),
    }
    let mut cited: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in &bundle.alerts {
        for id in &a.finding.transaction_ids {
            cited.entry(id.as_str()).or_default().push(a.id.as_str());
        }
    }
    let mut events: Vec<(Option<DateTime<Utc>>, u8, Event<'_>)> =
        bundle.alerts.iter().map(|a| (Some(a.first_fired), 1, Event::Alert(a))).collect();
    for (id, by) in cited {
        match bundle.transactions.iter().find(|t| t.id == id) {
            // A transaction is posted before the poll that sees it: at one instant it goes first.
            Some(t) => events.push((Some(t.posted), 0, Event::Transaction(t, by))),
            None => events.push((None, 2, Event::Missing(id, by))),
        }
    }
    // Cited transactions outside the range have no time here: they go last, said as such.
    events.sort_by_key(|(t, order, _)| (t.is_none(), *t, *order));
    if events.is_empty() {
        return "<p>Nothing fired in this range.</p>\n".to_owned();
    }
    let mut html = String::from("<ol class=\"timeline\">\n");
    for (_, _, event) in events {
        let _ = match event {
            Event::Alert(a) => writeln!(
                html,
                "<li class=\"alert\">{} alert <code>{}</code> fired: {} ({}, {})</li>",
                when(a.first_fired, bundle.zone),
                escape(&a.id),
                escape(&a.finding.title),
                escape(a.kind().as_str()),
                escape(a.severity().as_str())
            ),
            Event::Transaction(t, by) => writeln!(
                html,
                "<li class=\"transaction\">{} {} {} to/from {} ({}) <code>{}</code>; cited by alert {}</li>",
                when(t.posted, bundle.zone),
                t.amount,
                escape(&bundle.currency),
                escape(&t.payee),
                escape(&t.description),
                escape(&t.id),
                escape(&by.join(", "))
            ),
            Event::Missing(id, by) => writeln!(
                html,
                "<li class=\"transaction\">transaction <code>{}</code>, posted outside this range; cited by alert {}</li>",
                escape(id),
                escape(&by.join(", "))
            ),
        };
    }
    html.push_str("</ol>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{dec, now};
    use crate::model::{AccountRef, Finding, FindingKind, Snapshot};
    use crate::store::{AuditHead, AuditReport};
    use chrono::TimeDelta;

    #[test]
    fn times_are_shown_on_the_configured_clock() {
        let shanghai = Bundle { zone: chrono_tz::Asia::Shanghai, ..bundle() };
        let html = render(&shanghai);
        let local = crate::text::time_to_the_second(shanghai.exported_at, chrono_tz::Asia::Shanghai);
        assert!(local.ends_with("+08:00") && html.contains(&local), "{local} in the report");
        assert!(html.contains(&shanghai.exported_at.to_rfc3339()), "the machine-readable time stays UTC");
    }

    fn bundle() -> Bundle {
        let account = AccountRef::new("bank<b>", "A\"1");
        let evil = "<script>alert('x')</script> & Co";
        let t = Transaction {
            id: "tx-<1>".into(),
            posted: now(),
            amount: dec("-720.00"),
            payee: evil.into(),
            payee_key: "evil".into(),
            description: "<img src=x onerror=alert(1)>".into(),
            pending: false,
        };
        let finding = Finding {
            currency: "USD".into(),
            amount: Some(dec("720.00")),
            payees: vec![evil.into()],
            transaction_ids: vec!["tx-<1>".into(), "older".into()],
            title: format!("New payee {evil}"),
            ..Finding::new(FindingKind::NewPayee, account.clone(), "", now())
        };
        let snapshot = |minutes, balance| Snapshot {
            observed_at: now() + TimeDelta::minutes(minutes),
            as_of: None,
            balance: dec(balance),
            available: None,
            currency: "USD".into(),
            status: Default::default(),
            card_expiry: None,
        };
        Bundle {
            account,
            since: now() - TimeDelta::days(1),
            until: now() + TimeDelta::days(1),
            exported_at: now() + TimeDelta::days(1),
            version: "0.1.0".into(),
            currency: "USD".into(),
            snapshots: vec![snapshot(-10, "1000.00"), snapshot(10, "280.00")],
            transactions: vec![t],
            alerts: vec![Alert::firing(finding, now() + TimeDelta::minutes(10))],
            evidence: Vec::new(),
            audit_head: AuditHead { seq: 7, hash: "abc".into() },
            audit: AuditReport { entries: 7, head: "abc".into(), broken: None },
            zone: chrono_tz::Tz::UTC,
        }
    }

    #[test]
    fn attacker_text_is_inert() {
        let html = render(&bundle());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("bank<b>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("tx-&lt;1&gt;"));
        // No resource is fetched from anywhere: the only URL is the SVG namespace, which is a name.
        assert_eq!(html.matches("://").count(), html.matches("http://www.w3.org/2000/svg").count());
    }

    #[test]
    fn controls_and_bidi_overrides_are_shown_not_obeyed() {
        let mut bundle = bundle();
        bundle.transactions[0].payee = "\u{1b}[2J\u{202e}oC drolnaL".into();
        bundle.alerts[0].finding.title = "New payee \u{202e}oC drolnaL\u{200b}".into();
        let html = render(&bundle);
        assert!(!html.chars().any(|c| c != '\n' && crate::text::is_hidden(c)), "{html}");
        assert!(html.contains("\\u{1b}[2J\\u{202e}oC drolnaL"), "{html}");
        assert!(html.contains("New payee \\u{202e}oC drolnaL\\u{200b}"), "{html}");
        // alerts.json keeps the exact text, with nothing a terminal would obey.
        let json = bundle.alerts_json();
        assert!(!json.chars().any(|c| c != '\n' && crate::text::is_hidden(c)), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(parsed[0]["title"].as_str(), Some("New payee \u{202e}oC drolnaL\u{200b}"));
    }

    #[test]
    fn the_timeline_puts_the_payment_before_its_alert() {
        let html = render(&bundle());
        let payment = html.find("<li class=\"transaction\">").unwrap_or(usize::MAX);
        let alert = html.find("<li class=\"alert\">").unwrap_or(0);
        assert!(payment < alert, "{html}");
        assert!(html.contains("<code>older</code>, posted outside this range"));
        assert!(html.contains("-720.00 USD"));
        assert_eq!(html.matches("class=\"alert-marker\"").count(), 1);
        assert!(html.contains("intact: 7 entries"));
    }
}
