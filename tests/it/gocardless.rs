//! The gocardless source against a real HTTP server on loopback shaped after GoCardless Bank
//! Account Data's documented API: tokens minted from the user secrets and refreshed, the
//! requisition's accounts, balances and booked and pending transactions, the account quota headers,
//! an expired agreement, a token refused mid-poll, 429 with its hint, and a theft found end to end
//! by the real binary.

use crate::support;

use chrono::{DateTime, Utc};
use payguard::config::Secret;
use payguard::model::Quota;
use payguard::source::gocardless::GoCardlessConfig;
use payguard::source::{Source, SourceError, SourceKind};
use serde_json::Value;
use support::{Fixture, Reply, limits, source_config};

const SECRET_ID: &str = "sid-8a1c";
const SECRET_KEY: &str = "skey-hunter2-5d0e";
const REQUISITION: &str = "8126e9fb-93c9-4228-937c-68f0383c2df7";
const ACCOUNT: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).expect("a valid time")
}

fn config(fixture: &Fixture) -> GoCardlessConfig {
    GoCardlessConfig {
        api_base: fixture.url(""),
        secret_id: Secret::new(SECRET_ID),
        secret_key: Secret::new(SECRET_KEY),
        requisition_id: REQUISITION.into(),
    }
}

fn source(fixture: &Fixture) -> Source {
    Source::new(&source_config("eu-bank", SourceKind::GoCardless(Box::new(config(fixture))), limits())).expect("source")
}

fn balances_path() -> String {
    format!("/api/v2/accounts/{ACCOUNT}/balances/")
}

fn transactions_path() -> String {
    format!("/api/v2/accounts/{ACCOUNT}/transactions/")
}

const BALANCES: &str = r#"{"balances": [
    {"balanceAmount": {"amount": "10520.75", "currency": "EUR"}, "balanceType": "closingBooked", "referenceDate": "2026-11-30"},
    {"balanceAmount": {"amount": "1500.00", "currency": "EUR"}, "balanceType": "interimAvailable"}
]}"#;

/// The account's transactions, dated today (the binary judges them on the real clock: an older
/// pending hold would be stuck).
fn transactions(extra: &str) -> String {
    let today = Utc::now().format("%Y-%m-%d");
    format!(
        r#"{{"transactions": {{
            "booked": [
                {{"transactionId": "b-1", "bookingDate": "{today}", "valueDate": "{today}",
                  "transactionAmount": {{"amount": "3200.00", "currency": "EUR"}}, "debtorName": "ACME Payroll",
                  "remittanceInformationUnstructured": "Salary November"}},
                {{"transactionId": "b-2", "bookingDate": "{today}",
                  "transactionAmount": {{"amount": "-4.20", "currency": "EUR"}}, "creditorName": "Corner Cafe"}}
                {extra}
            ],
            "pending": [
                {{"transactionAmount": {{"amount": "-12.00", "currency": "EUR"}}, "valueDate": "{today}",
                  "remittanceInformationUnstructured": "Card hold Metro"}}
            ]
        }}}}"#
    )
}

/// The token endpoints, the requisition and one account, as GoCardless answers them.
fn serve(fixture: &Fixture) {
    fixture.reply(
        "/api/v2/token/new/",
        Reply::json(r#"{"access": "acc-1", "access_expires": 86400, "refresh": "ref-1", "refresh_expires": 2592000}"#),
    );
    fixture.reply("/api/v2/token/refresh/", Reply::json(r#"{"access": "acc-2", "access_expires": 86400}"#));
    let requisition = format!(
        r#"{{"id": "{REQUISITION}", "status": "LN", "agreement": "a-1", "accounts": ["{ACCOUNT}", "other-account"]}}"#
    );
    fixture.reply(&format!("/api/v2/requisitions/{REQUISITION}/"), Reply::json(&requisition));
    fixture.reply(&balances_path(), quota(Reply::json(BALANCES), 3));
    fixture.reply(&transactions_path(), quota(Reply::json(&transactions("")), 2));
    agreement(fixture, Utc::now() - chrono::TimeDelta::days(10));
}

/// The end-user agreement of the requisition, accepted at `accepted` for 90 days.
fn agreement(fixture: &Fixture, accepted: DateTime<Utc>) {
    let body = format!(
        r#"{{"id": "a-1", "created": "2026-01-01T00:00:00Z", "max_historical_days": 90, "access_valid_for_days": 90, "access_scope": ["balances", "details", "transactions"], "accepted": "{}", "institution_id": "SANDBOXFINANCE_SFIN0000"}}"#,
        accepted.to_rfc3339()
    );
    fixture.reply("/api/v2/agreements/enduser/a-1/", Reply::json(&body));
}

/// An account answer with the quota headers GoCardless sends.
fn quota(reply: Reply, remaining: u32) -> Reply {
    reply
        .with_header("http_x_ratelimit_account_success_limit", "4")
        .with_header("http_x_ratelimit_account_success_remaining", &remaining.to_string())
        .with_header("http_x_ratelimit_account_success_reset", "3600")
}

fn on(fixture: &Fixture, path: &str) -> Vec<support::Seen> {
    fixture.seen().into_iter().filter(|s| s.path == path).collect()
}

#[tokio::test]
async fn a_linked_account_is_read_with_a_token_minted_once() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let source = source(&fixture);
    let poll = source.poll(&[ACCOUNT.to_owned()], now(), now()).await.expect("poll");
    let seen = poll.accounts[0].1.clone().expect("the account");
    assert_eq!(seen.snapshot.balance.to_string(), "10520.75");
    assert_eq!(seen.snapshot.available.map(|a| a.to_string()), Some("1500.00".into()));
    assert_eq!(seen.snapshot.currency, "EUR");
    let read: Vec<(&str, String, &str, bool)> =
        seen.transactions.iter().map(|t| (t.id.as_str(), t.amount.to_string(), t.payee.as_str(), t.pending)).collect();
    assert_eq!(read[0], ("b-1", "3200.00".into(), "ACME Payroll", false));
    assert_eq!(read[1], ("b-2", "-4.20".into(), "Corner Cafe", false));
    assert_eq!((read[2].1.as_str(), read[2].2, read[2].3), ("-12.00", "Card hold Metro", true));
    assert_eq!(poll.unconfigured, ["other-account"]);
    let until = poll.consent_until.expect("the agreement says when access ends");
    let in_80_days = Utc::now() + chrono::TimeDelta::days(80);
    assert!((until - in_80_days).num_seconds().abs() < 60, "{until}");
    let reset = now() + chrono::TimeDelta::hours(1);
    assert_eq!(poll.quotas, [(ACCOUNT.to_owned(), Quota { limit: Some(4), remaining: 2, resets_at: reset })]);

    // The secrets went in the token request's body, and nowhere else.
    let minted = on(&fixture, "/api/v2/token/new/");
    assert_eq!(minted.len(), 1);
    let body: Value = serde_json::from_str(&minted[0].body).expect("a JSON body");
    assert_eq!((body["secret_id"].as_str(), body["secret_key"].as_str()), (Some(SECRET_ID), Some(SECRET_KEY)));
    let asked = on(&fixture, &transactions_path());
    assert_eq!(asked[0].headers.get("authorization").map(String::as_str), Some("Bearer acc-1"));
    assert_eq!(asked[0].query, format!("date_from={}", now().format("%Y-%m-%d")));

    // A second poll within the day uses the same token.
    source.poll(&[ACCOUNT.to_owned()], now(), now()).await.expect("second poll");
    assert_eq!(on(&fixture, "/api/v2/token/new/").len(), 1, "no second token");
}

#[tokio::test]
async fn a_token_refused_mid_poll_is_refreshed_and_the_request_asked_again() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let expired = r#"{"summary": "Invalid token", "detail": "Token is invalid or expired", "status_code": 401}"#;
    fixture.reply_sequence(&balances_path(), vec![Reply::status(401, expired)]);
    let poll = source(&fixture).poll(&[ACCOUNT.to_owned()], now(), now()).await.expect("poll");
    assert!(poll.accounts[0].1.is_ok(), "{:?}", poll.accounts[0].1);
    assert_eq!(on(&fixture, "/api/v2/token/refresh/").len(), 1);
    let second = on(&fixture, &balances_path()).pop().expect("asked again");
    assert_eq!(second.headers.get("authorization").map(String::as_str), Some("Bearer acc-2"));
}

#[tokio::test]
async fn an_expired_agreement_says_to_link_the_bank_again() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let expired = r#"{"summary": "End User Agreement (EUA) a-1 has expired", "detail": "EUA was valid for 90 days and expired at 2026-11-30. The end user must reconnect their account with a new EUA and Requisition.", "status_code": 401}"#;
    fixture.reply(&balances_path(), Reply::status(401, expired));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now(), now()).await.expect_err("consent ended");
    assert!(matches!(error, SourceError::ConsentExpired { .. }), "{error:?}");
    let said = error.to_string();
    assert!(said.contains("has expired") && said.contains("requisition_id"), "{said}");

    // The requisition itself may say so first.
    let requisition = format!(r#"{{"id": "{REQUISITION}", "status": "EX", "accounts": ["{ACCOUNT}"]}}"#);
    fixture.reply(&format!("/api/v2/requisitions/{REQUISITION}/"), Reply::json(&requisition));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now(), now()).await.expect_err("expired link");
    assert!(matches!(error, SourceError::ConsentExpired { .. }), "{error:?}");
}

#[tokio::test]
async fn a_spent_quota_is_not_asked_again_before_it_resets() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    fixture.reply(&transactions_path(), quota(Reply::json(&transactions("")), 0));
    let source = source(&fixture);
    source.poll(&[ACCOUNT.to_owned()], now(), now()).await.expect("the last read the bank allows");
    let asked = on(&fixture, &balances_path()).len();
    let later = now() + chrono::TimeDelta::minutes(10);
    let error = source.poll(&[ACCOUNT.to_owned()], now(), later).await.expect_err("quota spent");
    assert_eq!(error, SourceError::RateLimited { host: host(&fixture), retry_after: Some(3000) });
    assert_eq!(on(&fixture, &balances_path()).len(), asked, "nothing was asked of the bank");
    // Once it resets, the account is read again.
    let reset = now() + chrono::TimeDelta::hours(1);
    source.poll(&[ACCOUNT.to_owned()], now(), reset).await.expect("read after the reset");
}

#[tokio::test]
async fn a_rate_limit_keeps_its_hint_and_a_secret_echoed_back_is_cut() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let limited =
        r#"{"summary": "Rate limit exceeded", "detail": "Please try again in 120 seconds", "status_code": 429}"#;
    fixture.reply(&transactions_path(), Reply::status(429, limited));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now(), now()).await.expect_err("limited");
    assert_eq!(error, SourceError::RateLimited { host: host(&fixture), retry_after: Some(120) });

    let fixture = Fixture::start().await;
    serve(&fixture);
    let echoed = format!(r#"{{"summary": "Authentication failed", "detail": "secret_key {SECRET_KEY} is not valid"}}"#);
    fixture.reply("/api/v2/token/new/", Reply::status(400, &echoed));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now(), now()).await.expect_err("refused");
    let said = error.to_string();
    assert!(said.contains("HTTP 400") && !said.contains(SECRET_KEY), "{said}");
}

fn host(fixture: &Fixture) -> String {
    fixture.url("").trim_start_matches("http://").trim_end_matches('/').to_owned()
}

/// A config for the real binary: the fixture as the provider, one account with a large-debit limit.
fn binary_config(fixture: &Fixture, dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("payguard.toml");
    let text = format!(
        r#"[daemon]
state_dir = "{state}"

[[source]]
name = "eu-bank"
kind = "gocardless"
api_base = "{api}"
secret_id = "{SECRET_ID}"
secret_key = "{SECRET_KEY}"
requisition_id = "{REQUISITION}"
schedule = "0 */6 * * *"

[[account]]
source = "eu-bank"
id = "{ACCOUNT}"
large_debit = "1000.00"
learning_period = "0s"
"#,
        state = dir.join("state").display(),
        api = fixture.url(""),
    );
    std::fs::write(&config, text).expect("write the config");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    config
}

/// What `payguard once --json` found, as JSON objects.
async fn once(config: &std::path::Path) -> Vec<Value> {
    support::stdout_of(&support::run(config, &["once", "--json"]).await)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_theft_through_gocardless_is_found_by_the_binary() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = binary_config(&fixture, dir.path());
    let once = || support::run(&config, &["once", "--json"]);
    let baseline = support::stdout_of(&once().await);
    assert_eq!(baseline.trim(), "", "the first poll is the baseline");

    let today = Utc::now().format("%Y-%m-%d");
    let theft = format!(
        r#", {{"transactionId": "b-3", "bookingDate": "{today}", "transactionAmount": {{"amount": "-1600.00", "currency": "EUR"}}, "creditorName": "Thief Ltd", "remittanceInformationUnstructured": "Transfer"}}"#
    );
    fixture.reply(&transactions_path(), quota(Reply::json(&transactions(&theft)), 1));
    // The balance moved by the debit (less than the 30 % a drop alert waits for).
    fixture.reply(&balances_path(), quota(Reply::json(&BALANCES.replace("10520.75", "8920.75")), 1));
    let found: Vec<Value> = support::stdout_of(&once().await)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let mut kinds: Vec<&str> = found.iter().filter_map(|f| f["kind"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["large_debit", "new_payee"], "{found:?}");
    // The second run refreshed nothing and minted nothing: the first run's token was kept.
    assert_eq!(on(&fixture, "/api/v2/token/new/").len(), 1, "the secrets went out once");
    let second = on(&fixture, &transactions_path()).pop().expect("asked");
    assert_eq!(second.headers.get("authorization").map(String::as_str), Some("Bearer acc-1"));

    let check = support::stdout_of(&support::run(&config, &["check"]).await);
    assert!(check.contains("eu-bank (gocardless, http://127.0.0.1:"), "{check}");
    // Four polls a day fit the banks' allowance; the schedule here asks for exactly that.
    assert!(!check.contains("reads a day per account"), "{check}");
    let hourly = std::fs::read_to_string(&config).expect("config").replace("0 */6 * * *", "7 * * * *");
    std::fs::write(&config, hourly).expect("write the config");
    let check = support::stdout_of(&support::run(&config, &["check"]).await);
    assert!(check.contains("polls 24 times a day, but the banks behind gocardless may allow as few as 4"), "{check}");
    assert!(!check.contains(SECRET_KEY) && !check.contains(SECRET_ID), "{check}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ending_consent_is_warned_once_then_critical_on_its_last_day() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = binary_config(&fixture, dir.path());
    agreement(&fixture, Utc::now() - chrono::TimeDelta::days(85));
    let found = once(&config).await;
    let warned: Vec<(&str, &str)> =
        found.iter().map(|f| (f["kind"].as_str().unwrap_or(""), f["severity"].as_str().unwrap_or(""))).collect();
    assert_eq!(warned, [("consent_expiry", "warning")], "{found:?}");
    assert!(found[0]["title"].as_str().unwrap_or("").contains("ends in 4 days"), "{found:?}");
    assert!(found[0]["detail"].as_str().unwrap_or("").contains("run `payguard gocardless-link"), "{found:?}");
    assert_eq!(once(&config).await, Vec::<Value>::new(), "said once, not every poll");

    agreement(&fixture, Utc::now() - chrono::TimeDelta::days(90) + chrono::TimeDelta::hours(5));
    let found = once(&config).await;
    let last_day: Vec<(&str, &str)> =
        found.iter().map(|f| (f["kind"].as_str().unwrap_or(""), f["severity"].as_str().unwrap_or(""))).collect();
    assert!(last_day.contains(&("consent_expiry", "critical")), "{found:?}");

    // `status` says when the access ends and what is left of the account's quota.
    let status = support::stdout_of(&support::run(&config, &["status"]).await);
    assert!(status.contains("access granted by the bank ends"), "{status}");
    assert!(status.contains(&format!("{ACCOUNT}: 2 of 4 reads left")), "{status}");
}

/// `payguard gocardless-link` with the user secrets in its environment (or not), off the runtime.
async fn link(fixture: &Fixture, args: &[&str], secrets: bool) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.arg("gocardless-link").args(["--api-base", &fixture.url("")]).args(args);
    command.env_remove("PAYGUARD_GOCARDLESS_SECRET_ID").env_remove("PAYGUARD_GOCARDLESS_SECRET_KEY");
    if secrets {
        command.env("PAYGUARD_GOCARDLESS_SECRET_ID", SECRET_ID).env("PAYGUARD_GOCARDLESS_SECRET_KEY", SECRET_KEY);
    }
    tokio::task::spawn_blocking(move || command.output().expect("run payguard")).await.expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_a_bank_prints_the_consent_link_its_accounts_and_the_config_lines() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    fixture.reply(
        "/api/v2/institutions/",
        Reply::json(r#"[{"id": "SANDBOXFINANCE_SFIN0000", "name": "Sandbox Finance", "countries": ["XX"]}]"#),
    );
    fixture.reply("/api/v2/agreements/enduser/", Reply::json(r#"{"id": "a-9", "accepted": null}"#));
    fixture.reply(
        "/api/v2/requisitions/",
        Reply::json(
            r#"{"id": "r-9", "status": "CR", "link": "https://ob.gocardless.com/psd2/start/r-9/SANDBOXFINANCE"}"#,
        ),
    );
    fixture.reply(
        "/api/v2/requisitions/r-9/",
        Reply::json(&format!(r#"{{"id": "r-9", "status": "LN", "accounts": ["{ACCOUNT}"]}}"#)),
    );
    fixture.reply(
        &format!("/api/v2/accounts/{ACCOUNT}/details/"),
        Reply::json(
            r#"{"account": {"currency": "EUR", "iban": "DE89370400440532013000", "name": "Main \u001b[2Jaccount"}}"#,
        ),
    );

    let listed = link(&fixture, &["--country", "xx"], true).await;
    let said = support::stdout_of(&listed);
    assert!(said.contains("SANDBOXFINANCE_SFIN0000") && said.contains("Sandbox Finance"), "{said}");
    assert!(on(&fixture, "/api/v2/institutions/").iter().any(|s| s.query == "country=xx"));

    let linked = link(&fixture, &["--institution", "SANDBOXFINANCE_SFIN0000", "--days", "60"], true).await;
    let said = support::stdout_of(&linked);
    assert!(said.contains("https://ob.gocardless.com/psd2/start/r-9/SANDBOXFINANCE"), "{said}");
    assert!(said.contains(ACCOUNT) && said.contains("DE89…3000") && said.contains("Main \\u{1b}[2Jaccount"), "{said}");
    assert!(said.contains("requisition_id = \"r-9\"") && said.contains(&format!("id = \"{ACCOUNT}\"")), "{said}");
    let everything = format!("{said}{}", String::from_utf8_lossy(&linked.stderr));
    assert!(!everything.contains(SECRET_KEY) && !everything.contains(SECRET_ID), "{everything}");
    let agreement: Value =
        serde_json::from_str(&on(&fixture, "/api/v2/agreements/enduser/")[0].body).expect("a JSON agreement");
    assert_eq!(
        (agreement["institution_id"].as_str(), agreement["access_valid_for_days"].as_u64()),
        (Some("SANDBOXFINANCE_SFIN0000"), Some(60))
    );
    let requisition: Value = serde_json::from_str(&on(&fixture, "/api/v2/requisitions/")[0].body).expect("JSON");
    assert_eq!(requisition["agreement"].as_str(), Some("a-9"));

    // Without the secrets in the environment it says how to give them, and asks nothing.
    let asked = fixture.seen().len();
    let refused = link(&fixture, &["--country", "xx"], false).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("PAYGUARD_GOCARDLESS_SECRET_ID") && said.contains("not taken on the command line"), "{said}");
    assert_eq!(fixture.seen().len(), asked);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_polls_gocardless_on_its_schedule_with_one_token_and_status_tells() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = binary_config(&fixture, dir.path());
    let every_second = std::fs::read_to_string(&config).expect("config").replace("0 */6 * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    let mut daemon = support::daemon(&config).spawn().expect("start payguard run");
    let transactions = transactions_path();
    fixture.wait_for("two scheduled polls", |seen| seen.iter().filter(|s| s.path == transactions).count() >= 2).await;
    support::signal(&daemon, "TERM");
    let stopped = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    assert_eq!(stopped.code(), Some(0));
    assert_eq!(on(&fixture, "/api/v2/token/new/").len(), 1, "one token serves every poll of a run");

    let status = support::stdout_of(&support::run(&config, &["status"]).await);
    assert!(status.contains("eu-bank (gocardless): ok"), "{status}");
    assert!(status.contains("10520.75 EUR"), "{status}");
    assert!(status.contains(&format!("{ACCOUNT}: 2 of 4 reads left")), "{status}");
}
