//! The `akahu` source against a server on loopback shaped after Akahu's API reference: the user
//! token goes as a Bearer header and the app token as `X-Akahu-ID` on every request, settled
//! transactions are paged through `cursor.next` (bounded), pending ones come from their own
//! endpoint, the documented failures become the right errors, and a theft after a baseline is
//! found end to end by `payguard once`.

use crate::support;

use chrono::{DateTime, Utc};
use payguard::config::Secret;
use payguard::source::akahu::AkahuConfig;
use payguard::source::{Poll, Source, SourceError, SourceKind};
use rust_decimal::Decimal;
use serde_json::Value;
use support::{Fixture, Reply, limits, source_config};

const USER_TOKEN: &str = "user_token_s3cretUserT0ken";
const APP_TOKEN: &str = "app_token_s3cretAppT0ken";
const ACCOUNT: &str = "acc_cjgaaqbw8000001mk7h3yg1ar";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

fn settled_path(account: &str) -> String {
    format!("/v1/accounts/{account}/transactions")
}

fn pending_path(account: &str) -> String {
    format!("/v1/accounts/{account}/transactions/pending")
}

fn source(fixture: &Fixture) -> Source {
    let config = AkahuConfig {
        api_base: fixture.url("/v1"),
        user_token: Secret::new(USER_TOKEN),
        app_token: Secret::new(APP_TOKEN),
    };
    Source::new(&source_config("akahu", SourceKind::Akahu(Box::new(config)), limits())).expect("source")
}

async fn poll(fixture: &Fixture, accounts: &[&str]) -> Result<Poll, SourceError> {
    let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
    source(fixture).poll(&accounts, now() - chrono::TimeDelta::days(3), now()).await
}

/// An account as `GET /accounts` lists it; amounts are JSON numbers, written here as their text.
fn account(id: &str, status: &str, current: &str, available: &str) -> String {
    format!(
        r#"{{"_id": "{id}", "_authorisation": "auth_1", "_credentials": "auth_1",
            "connection": {{"_id": "conn_1", "name": "ANZ", "logo": "https://example.invalid/anz.png"}},
            "name": "Everyday", "status": "{status}", "formatted_account": "01-0000-0000000-00", "type": "CHECKING",
            "attributes": ["TRANSACTIONS"], "balance": {{"currency": "NZD", "current": {current}, "available": {available}, "overdrawn": false}},
            "refreshed": {{"balance": "2026-09-21T10:00:00Z"}}}}"#
    )
}

fn items(items: &[String], next: Option<&str>) -> Reply {
    let cursor = next.map_or_else(|| "null".to_owned(), |n| format!("\"{n}\""));
    Reply::json(&format!(r#"{{"success": true, "items": [{}], "cursor": {{"next": {cursor}}}}}"#, items.join(",")))
}

fn list(items: &[String]) -> Reply {
    Reply::json(&format!(r#"{{"success": true, "items": [{}]}}"#, items.join(",")))
}

fn settled(id: &str, date: &str, amount: &str, description: &str, merchant: Option<&str>) -> String {
    let merchant =
        merchant.map(|m| format!(r#", "merchant": {{"_id": "merchant_1", "name": "{m}"}}"#)).unwrap_or_default();
    format!(
        r#"{{"_id": "{id}", "_account": "{ACCOUNT}", "_connection": "conn_1", "created_at": "{date}", "updated_at": "{date}",
            "date": "{date}", "hash": "h-{id}", "description": "{description}", "amount": {amount}, "balance": 100, "type": "EFTPOS"{merchant}}}"#
    )
}

fn pending(date: &str, amount: &str, description: &str) -> String {
    format!(
        r#"{{"_account": "{ACCOUNT}", "_connection": "conn_1", "updated_at": "{date}", "date": "{date}",
            "description": "{description}", "amount": {amount}, "type": "EFTPOS"}}"#
    )
}

fn query(seen: &support::Seen) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://x/?{}", seen.query)).expect("a query");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn both_tokens(seen: &support::Seen) -> bool {
    seen.headers.get("authorization").map(String::as_str) == Some(&*format!("Bearer {USER_TOKEN}"))
        && seen.headers.get("x-akahu-id").map(String::as_str) == Some(APP_TOKEN)
}

#[tokio::test]
async fn reads_accounts_cursor_pages_and_pending_with_both_tokens() {
    let fixture = Fixture::start().await;
    fixture.reply(
        "/v1/accounts",
        list(&[account(ACCOUNT, "ACTIVE", "1234.56", "1200.00"), account("acc_other", "ACTIVE", "1", "1")]),
    );
    fixture.reply_sequence(
        &settled_path(ACCOUNT),
        vec![
            items(
                &[settled("trans_1", "2026-09-20T01:00:00.000Z", "-4.5", "POS 1234 COFFEE", Some("Coffee Co"))],
                Some("cur_2"),
            ),
            items(&[settled("trans_2", "2026-09-19T01:00:00.000Z", "2500", "ACME PAYROLL", None)], None),
        ],
    );
    fixture.reply(&pending_path(ACCOUNT), list(&[pending("2026-09-21T01:00:00.000Z", "-0.10", "CARD CHECK")]));
    let poll = poll(&fixture, &[ACCOUNT]).await.expect("poll");
    assert_eq!(poll.unconfigured, ["acc_other"]);
    let o = poll.accounts[0].1.clone().expect("the account is read");
    assert_eq!(
        (o.snapshot.balance, o.snapshot.available, o.snapshot.currency.as_str()),
        (dec("1234.56"), Some(dec("1200.00")), "NZD")
    );
    assert_eq!(o.name.as_deref(), Some("Everyday"));
    let txs: Vec<(Decimal, &str, bool)> =
        o.transactions.iter().map(|t| (t.amount, t.payee.as_str(), t.pending)).collect();
    assert_eq!(
        txs,
        [(dec("-4.5"), "Coffee Co", false), (dec("2500"), "ACME PAYROLL", false), (dec("-0.10"), "CARD CHECK", true)]
    );
    assert_eq!((o.transactions[0].id.as_str(), o.transactions[1].id.as_str()), ("trans_1", "trans_2"));
    assert!(o.transactions[2].id.starts_with("derived:"), "pending transactions have no id of Akahu's");

    let seen = fixture.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/v1/accounts", &*settled_path(ACCOUNT), &*settled_path(ACCOUNT), &*pending_path(ACCOUNT)]);
    assert!(seen.iter().all(both_tokens), "both tokens on every request");
    let start = ("start".to_owned(), "2026-09-18T14:13:20.000Z".to_owned());
    assert_eq!(query(&seen[1]), std::slice::from_ref(&start));
    assert_eq!(query(&seen[2]), [start, ("cursor".to_owned(), "cur_2".to_owned())]);
}

#[tokio::test]
async fn refused_rate_limited_malformed_and_inactive() {
    let fixture = Fixture::start().await;
    let host = fixture.url("").trim_start_matches("http://").to_owned();
    fixture.reply("/v1/accounts", Reply::status(401, r#"{"success": false, "message": "Unauthorized"}"#));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("refused");
    assert!(matches!(error, SourceError::Auth { status: 401, .. }), "{error}");

    fixture.reply(
        "/v1/accounts",
        Reply::status(429, r#"{"success": false, "message": "Too many requests"}"#).with_header("retry-after", "60"),
    );
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("rate-limited");
    assert!(
        matches!(error, SourceError::RateLimited { retry_after: Some(60), .. })
            && error.to_string().contains("wait 60s"),
        "{error}"
    );

    fixture.reply(
        "/v1/accounts",
        Reply::json(r#"{"success": true, "items": [{"_id": "acc_1", "balance": {"current": NaN}}]}"#),
    );
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("not JSON");
    assert!(
        error.to_string().starts_with(&format!("{host} answered")) && error.to_string().contains("not JSON"),
        "{error}"
    );

    // An answer that echoes the request: what payguard shows of it leaves both tokens out.
    fixture.reply("/v1/accounts", Reply::json(&format!("{{\"id\": {APP_TOKEN}, \"user\": {USER_TOKEN}}}")));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("not JSON").to_string();
    assert!(error.contains("not JSON") && !error.contains("s3cret"), "{error}");

    fixture.reply("/v1/accounts", Reply::json(r#"{"success": false, "message": "App token not recognised"}"#));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("a refusal in the body");
    assert!(matches!(&error, SourceError::Platform(text) if text.contains("App token not recognised")), "{error}");

    // Akahu lost its access to the bank: that account fails, saying how to fix it.
    fixture.reply("/v1/accounts", list(&[account(ACCOUNT, "INACTIVE", "1", "1")]));
    let poll = poll(&fixture, &[ACCOUNT]).await.expect("the poll itself works");
    let error = poll.accounts[0].1.clone().expect_err("an inactive account");
    assert!(error.to_string().contains("reconnect the bank at my.akahu.nz"), "{error}");

    assert!(fixture.seen().iter().all(both_tokens));
    assert!(!error.to_string().contains(USER_TOKEN) && !error.to_string().contains(APP_TOKEN));
}

#[tokio::test]
async fn a_cursor_that_repeats_or_runs_on_is_stopped() {
    let fixture = Fixture::start().await;
    fixture.reply("/v1/accounts", list(&[account(ACCOUNT, "ACTIVE", "1", "1")]));
    fixture.reply(&settled_path(ACCOUNT), items(&[], Some("same")));
    let looped = poll(&fixture, &[ACCOUNT]).await.expect("the poll itself works");
    let error = looped.accounts[0].1.clone().expect_err("a loop");
    assert!(error.to_string().contains("link back to a page already read"), "{error}");

    let fixture = Fixture::start().await;
    fixture.reply("/v1/accounts", list(&[account(ACCOUNT, "ACTIVE", "1", "1")]));
    let pages: Vec<Reply> = (0..60).map(|i| items(&[], Some(&format!("c{i}")))).collect();
    fixture.reply_sequence(&settled_path(ACCOUNT), pages);
    let endless = poll(&fixture, &[ACCOUNT]).await.expect("the poll itself works");
    let error = endless.accounts[0].1.clone().expect_err("endless pages");
    assert!(error.to_string().contains("run past 50 pages"), "{error}");
    assert_eq!(fixture.seen().len(), 1 + 50, "the accounts, then no request beyond the bound");
}

/// The theft scenario through the real binary: a baseline poll, then a large payment to a payee
/// never seen before is `large_debit` and `new_payee`.
#[tokio::test(flavor = "multi_thread")]
async fn payguard_once_finds_a_theft_after_a_baseline() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("payguard.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
state_dir = "{state}"

[[source]]
name = "akahu"
kind = "akahu"
api_base = "{api}"
user_token = "${{env:PAYGUARD_TEST_AKAHU_USER}}"
app_token = "${{env:PAYGUARD_TEST_AKAHU_APP}}"
schedule = "*/30 * * * *"

[[account]]
source = "akahu"
id = "{ACCOUNT}"
large_debit = "1000.00"
learning_period = "0s"

[[channel]]
name = "terminal"
kind = "console"
"#,
            state = dir.path().join("state").display(),
            api = fixture.url("/v1"),
        ),
    )
    .expect("write the config");
    // The tokens come from the environment, as a service's credentials would.
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_payguard"))
                .arg("--config")
                .arg(&config)
                .args(args)
                .env("PAYGUARD_TEST_AKAHU_USER", USER_TOKEN)
                .env("PAYGUARD_TEST_AKAHU_APP", APP_TOKEN)
                .output()
                .expect("run payguard")
        })
    };
    // `once` runs on the real clock: the story happens in the last two days.
    let ago = |hours: i64| (Utc::now() - chrono::TimeDelta::hours(hours)).to_rfc3339();
    let coffee = settled("trans_1", &ago(40), "-4.5", "POS COFFEE", Some("Coffee Co"));
    let salary = settled("trans_2", &ago(30), "2000", "ACME PAYROLL", None);
    fixture.reply("/v1/accounts", list(&[account(ACCOUNT, "ACTIVE", "2495.5", "2495.5")]));
    fixture.reply(&settled_path(ACCOUNT), items(&[coffee.clone(), salary.clone()], None));
    fixture.reply(&pending_path(ACCOUNT), list(&[]));
    let baseline = run(&["once", "--json"]).await.expect("join");
    assert_eq!(support::stdout_of(&baseline), "", "a baseline raises nothing");

    let theft = settled("trans_3", &ago(1), "-1800.00", "TRANSFER TO 12-3456-7890123-00", Some("QuickCash Transfer"));
    fixture.reply("/v1/accounts", list(&[account(ACCOUNT, "ACTIVE", "695.5", "675.5")]));
    fixture.reply(&settled_path(ACCOUNT), items(&[coffee, salary, theft], None));
    fixture.reply(&pending_path(ACCOUNT), list(&[pending(&ago(1), "-20", "GROCER")]));
    let output = run(&["once", "--json"]).await.expect("join");
    let findings: Vec<Value> =
        support::stdout_of(&output).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"large_debit") && kinds.contains(&"new_payee"), "{kinds:?}");
    assert!(!kinds.contains(&"unexplained_change"), "{kinds:?}");
    let debit = findings.iter().find(|f| f["kind"] == "large_debit").expect("large_debit");
    assert_eq!((debit["source"].as_str(), debit["account"].as_str()), (Some("akahu"), Some(ACCOUNT)));
    assert!(debit["title"].as_str().is_some_and(|t| t.contains("1800.00 NZD to QuickCash Transfer")), "{debit}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(USER_TOKEN) && !stderr.contains(APP_TOKEN), "{stderr}");
    assert!(fixture.seen().iter().all(both_tokens));

    // `check` says where the source connects, never a token.
    let check = support::stdout_of(&run(&["check"]).await.expect("join"));
    assert!(check.contains(&format!("akahu (akahu, {}) schedule", fixture.url(""))), "{check}");
    assert!(!check.contains(USER_TOKEN) && !check.contains(APP_TOKEN), "{check}");

    // `run` polls it on its schedule and stops cleanly; `status` shows what it read.
    let every_second = std::fs::read_to_string(&config).expect("config").replace("*/30 * * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    let accounts_asked = |seen: &[support::Seen]| seen.iter().filter(|s| s.path == "/v1/accounts").count();
    let before = accounts_asked(&fixture.seen());
    let mut daemon = support::daemon(&config)
        .env("PAYGUARD_TEST_AKAHU_USER", USER_TOKEN)
        .env("PAYGUARD_TEST_AKAHU_APP", APP_TOKEN)
        .spawn()
        .expect("start payguard run");
    fixture.wait_for("two scheduled polls", |seen| accounts_asked(seen) >= before + 2).await;
    support::signal(&daemon, "TERM");
    let stopped = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    assert_eq!(stopped.code(), Some(0));
    let status = support::stdout_of(&run(&["status"]).await.expect("join"));
    assert!(status.contains("akahu (akahu): ok") && status.contains("NZD"), "{status}");
}
