//! The `up` source against a server on loopback shaped after Up's OpenAPI document: the token
//! goes as a Bearer header and nowhere else, lists are followed through `links.next` (bounded,
//! and only to the API's own origin), held transactions are pending and taken out of the
//! balance, the documented failures become the right errors, and a theft after a baseline is
//! found end to end by `payguard once`.

use crate::support;

use chrono::{DateTime, Utc};
use payguard::config::{HttpLimits, Secret};
use payguard::source::up::UpConfig;
use payguard::source::{Poll, Source, SourceError, SourceKind};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::{Fixture, Reply, limits, source_config};

const TOKEN: &str = "up:yeah:s3cretT0ken";
const ACCOUNT: &str = "689a08de-fa65-4f2d-8b58-e49b17117dc7";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

fn transactions_path(account: &str) -> String {
    format!("/api/v1/accounts/{account}/transactions")
}

fn source(fixture: &Fixture, limits: HttpLimits) -> Source {
    let config = UpConfig { api_base: fixture.url("/api/v1"), token: Secret::new(TOKEN) };
    Source::new(&source_config("up", SourceKind::Up(Box::new(config)), limits)).expect("source")
}

async fn poll(fixture: &Fixture, accounts: &[&str]) -> Result<Poll, SourceError> {
    let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
    source(fixture, limits()).poll(&accounts, now() - chrono::TimeDelta::days(3), now()).await
}

fn money(value: &str) -> Value {
    let cents: i64 = value.replace('.', "").parse().expect("cents");
    json!({"currencyCode": "AUD", "value": value, "valueInBaseUnits": cents})
}

fn account(id: &str, name: &str, available: &str) -> Value {
    json!({"type": "accounts", "id": id, "attributes": {
        "displayName": name, "accountType": "TRANSACTIONAL", "ownershipType": "INDIVIDUAL",
        "balance": money(available), "createdAt": "2024-01-01T00:00:00+11:00"},
        "relationships": {"transactions": {"links": {"related": "…"}}}})
}

/// A transaction resource; `settled_at` is null for a held one.
fn tx(id: &str, status: &str, value: &str, description: &str, created_at: &str, settled_at: Option<&str>) -> Value {
    json!({"type": "transactions", "id": id, "attributes": {
        "status": status, "rawText": format!("{} AU", description.to_uppercase()), "description": description,
        "message": null, "isCategorizable": true, "holdInfo": null, "roundUp": null, "cashback": null,
        "amount": money(value), "foreignAmount": null, "cardPurchaseMethod": null,
        "settledAt": settled_at, "createdAt": created_at, "transactionType": null, "note": null,
        "performingCustomer": null}})
}

/// A list page: `{data, links: {prev, next}}`.
fn page(data: Vec<Value>, next: Option<String>) -> Reply {
    Reply::json(&json!({"data": data, "links": {"prev": null, "next": next}}).to_string())
}

/// The query of a request as decoded pairs.
fn query(seen: &support::Seen) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://x/?{}", seen.query)).expect("a query");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn has(seen: &support::Seen, key: &str, value: &str) -> bool {
    query(seen).iter().any(|(k, v)| k == key && v == value)
}

#[tokio::test]
async fn reads_pages_of_accounts_and_transactions_with_the_token_as_bearer() {
    let fixture = Fixture::start().await;
    let accounts_next = fixture.url("/api/v1/accounts?page%5Bafter%5D=WyIyIl0%3D&page%5Bsize%5D=100");
    fixture.reply_sequence(
        "/api/v1/accounts",
        vec![
            page(vec![account("SAVER-1", "Savings", "10.00")], Some(accounts_next)),
            page(vec![account(ACCOUNT, "Spending", "1188.50")], None),
        ],
    );
    let settled_next = fixture.url(&format!("{}?page%5Bafter%5D=abc", transactions_path(ACCOUNT)));
    fixture.reply_sequence(
        &transactions_path(ACCOUNT),
        vec![
            page(
                vec![tx(
                    "t-1",
                    "SETTLED",
                    "-4.50",
                    "Coffee Co",
                    "2026-09-20T08:00:00+10:00",
                    Some("2026-09-21T02:00:00+10:00"),
                )],
                Some(settled_next),
            ),
            page(
                vec![tx(
                    "t-2",
                    "SETTLED",
                    "2000.00",
                    "Salary",
                    "2026-09-19T09:00:00+10:00",
                    Some("2026-09-19T09:00:00+10:00"),
                )],
                None,
            ),
            // Held: pending, and still taken off the available balance Up reports.
            page(vec![tx("t-3", "HELD", "-11.50", "Grocer", "2026-09-21T12:00:00+10:00", None)], None),
        ],
    );
    let poll = poll(&fixture, &[ACCOUNT]).await.expect("poll");
    assert_eq!(poll.unconfigured, ["SAVER-1"]);
    let o = poll.accounts[0].1.clone().expect("the account is read");
    assert_eq!(o.name.as_deref(), Some("Spending"));
    assert_eq!(
        (o.snapshot.balance, o.snapshot.available, o.snapshot.currency.as_str()),
        (dec("1200.00"), Some(dec("1188.50")), "AUD")
    );
    let txs: Vec<(&str, Decimal, &str, bool)> =
        o.transactions.iter().map(|t| (t.id.as_str(), t.amount, t.payee.as_str(), t.pending)).collect();
    assert_eq!(
        txs,
        [
            ("t-1", dec("-4.50"), "Coffee Co", false),
            ("t-2", dec("2000.00"), "Salary", false),
            ("t-3", dec("-11.50"), "Grocer", true)
        ]
    );
    assert_eq!(o.transactions[0].description, "COFFEE CO AU", "the bank's raw text is kept as the description");

    let seen = fixture.seen();
    assert_eq!(seen.len(), 5, "two pages of accounts, two of settled transactions, one of held");
    for request in &seen {
        assert_eq!(request.headers.get("authorization").map(String::as_str), Some(&*format!("Bearer {TOKEN}")));
        assert!(!request.query.contains(TOKEN) && !request.path.contains(TOKEN), "the token only in its header");
    }
    assert!(has(&seen[0], "page[size]", "100"));
    assert!(has(&seen[1], "page[after]", "WyIyIl0="), "the next link is followed as given: {:?}", seen[1].query);
    let since = (now() - chrono::TimeDelta::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        has(&seen[2], "filter[status]", "SETTLED") && has(&seen[2], "filter[since]", &since),
        "{:?}",
        query(&seen[2])
    );
    assert!(has(&seen[3], "page[after]", "abc"));
    assert!(
        has(&seen[4], "filter[status]", "HELD") && !query(&seen[4]).iter().any(|(k, _)| k == "filter[since]"),
        "every hold, however old"
    );
}

#[tokio::test]
async fn refused_rate_limited_and_malformed_answers() {
    let fixture = Fixture::start().await;
    let host = fixture.url("").trim_start_matches("http://").to_owned();
    let refused = r#"{"errors": [{"status": "401", "title": "Not Authorized", "detail": "The request was not authenticated because no valid credential was found in the Authorization header, or the Authorization header was not present."}]}"#;
    fixture.reply("/api/v1/accounts", Reply::status(401, refused));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("refused");
    assert!(matches!(error, SourceError::Auth { status: 401, .. }) && !error.is_retryable(), "{error}");

    let limited = r#"{"errors": [{"status": "429", "title": "Too Many Requests", "detail": "slow down"}]}"#;
    fixture.reply("/api/v1/accounts", Reply::status(429, limited).with_header("retry-after", "120"));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("rate-limited");
    assert!(matches!(error, SourceError::RateLimited { retry_after: Some(120), .. }), "{error}");
    assert!(error.to_string().contains("wait 120s"), "{error}");

    fixture.reply("/api/v1/accounts", Reply::json("<html>maintenance</html>"));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("not JSON");
    assert!(matches!(&error, SourceError::Malformed { host: h, .. } if *h == host), "{error}");
    assert!(
        error.to_string().starts_with(&format!("{host} answered")) && error.to_string().contains("not JSON"),
        "{error}"
    );

    // An answer that echoes the request: what payguard shows of it leaves the token out.
    fixture.reply("/api/v1/accounts", Reply::json(&format!("{{\"seen\": {TOKEN}}}")));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("not JSON");
    assert!(error.to_string().contains("not JSON") && !error.to_string().contains("s3cret"), "{error}");

    // The accounts answer, then a refused transactions request: the whole source is refused.
    fixture.reply("/api/v1/accounts", page(vec![account(ACCOUNT, "Spending", "1.00")], None));
    fixture.reply(&transactions_path(ACCOUNT), Reply::status(403, "forbidden"));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("refused mid-poll");
    assert!(matches!(error, SourceError::Auth { status: 403, .. }), "{error}");

    // A wrong account id is that account's failure, not the poll's.
    let poll = poll(&fixture, &["no-such-account"]).await.expect("the poll itself works");
    assert!(matches!(&poll.accounts[0].1, Err(SourceError::MissingAccount(id)) if id == "no-such-account"));

    for request in fixture.seen() {
        assert_eq!(request.headers.get("authorization").map(String::as_str), Some(&*format!("Bearer {TOKEN}")));
    }
}

#[tokio::test]
async fn a_held_amount_that_contradicts_itself_fails_the_account() {
    let fixture = Fixture::start().await;
    fixture.reply("/api/v1/accounts", page(vec![account(ACCOUNT, "Spending", "1.00")], None));
    let mut bad =
        tx("t-1", "SETTLED", "-4.50", "Coffee", "2026-09-20T08:00:00+10:00", Some("2026-09-20T08:00:00+10:00"));
    bad["attributes"]["amount"]["valueInBaseUnits"] = json!(450);
    fixture.reply_sequence(&transactions_path(ACCOUNT), vec![page(vec![bad], None), page(vec![], None)]);
    let poll = poll(&fixture, &[ACCOUNT]).await.expect("the poll itself works");
    let error = poll.accounts[0].1.clone().expect_err("a contradictory amount");
    assert!(
        error
            .to_string()
            .contains("settled transactions[0]: amount: `value` -4.50 and `valueInBaseUnits` 450 disagree"),
        "{error}"
    );
}

/// A next link that loops, runs on, or leads to another host: the list stops with an error naming
/// the API's host, and the token is never sent elsewhere.
#[tokio::test]
async fn next_links_are_bounded_and_stay_at_the_api() {
    let fixture = Fixture::start().await;
    let host = fixture.url("").trim_start_matches("http://").to_owned();
    // Loops: the next page is the first again.
    let first = fixture.url("/api/v1/accounts?page%5Bsize%5D=100");
    fixture.reply("/api/v1/accounts", page(vec![account(ACCOUNT, "Spending", "1.00")], Some(first)));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("a loop");
    assert!(
        error.to_string().starts_with(&format!("{host} answered"))
            && error.to_string().contains("link back to a page already read"),
        "{error}"
    );
    assert_eq!(fixture.seen().len(), 1);

    // Runs on: every page links to a new one.
    let fixture = Fixture::start().await;
    let pages: Vec<Reply> =
        (0..60).map(|i| page(vec![], Some(fixture.url(&format!("/api/v1/accounts?page%5Bafter%5D={i}"))))).collect();
    fixture.reply_sequence("/api/v1/accounts", pages);
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("endless pages");
    assert!(error.to_string().contains("the accounts run past 50 pages"), "{error}");
    assert_eq!(fixture.seen().len(), 50, "no request beyond the bound");

    // Leads elsewhere: not followed.
    let fixture = Fixture::start().await;
    fixture
        .reply("/api/v1/accounts", page(vec![], Some("https://collector.example.net/api/v1/accounts?page=2".into())));
    let error = poll(&fixture, &[ACCOUNT]).await.expect_err("another host");
    assert!(error.to_string().contains("leads to collector.example.net"), "{error}");
    assert!(!error.to_string().contains(TOKEN));
}

/// A config watching `ACCOUNT` at `fixture` with `large_debit = 1000.00`, the token in a file;
/// returns the directory that holds it all and the config's path.
fn write_config(fixture: &Fixture) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("up-token");
    std::fs::write(&token_file, TOKEN).expect("write the token");
    let config = dir.path().join("payguard.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
state_dir = "{state}"

[[source]]
name = "up"
kind = "up"
api_base = "{api}"
token = "${{file:{token}}}"
schedule = "*/30 * * * *"

[[account]]
source = "up"
id = "{ACCOUNT}"
large_debit = "1000.00"
learning_period = "0s"

[[channel]]
name = "terminal"
kind = "console"
"#,
            state = dir.path().join("state").display(),
            api = fixture.url("/api/v1"),
            token = token_file.display(),
        ),
    )
    .expect("write the config");
    (dir, config)
}

/// The theft scenario through the real binary: a baseline poll, then a large payment to a payee
/// never seen before is `large_debit` and `new_payee`. A purchase still held at the same time
/// moves Up's balance without posting; taking it back out keeps `unexplained_change` quiet.
#[tokio::test(flavor = "multi_thread")]
async fn payguard_once_finds_a_theft_after_a_baseline() {
    let fixture = Fixture::start().await;
    let (_dir, config) = write_config(&fixture);
    let once = |fixture: &Fixture, available: &str, settled: Vec<Value>, held: Vec<Value>| {
        fixture.reply("/api/v1/accounts", page(vec![account(ACCOUNT, "Spending", available)], None));
        fixture.reply_sequence(&transactions_path(ACCOUNT), vec![page(settled, None), page(held, None)]);
        support::run(&config, &["once", "--json"])
    };
    // `once` runs on the real clock: the story happens in the last two days.
    let ago = |hours: i64| (Utc::now() - chrono::TimeDelta::hours(hours)).to_rfc3339();
    let coffee = tx("t-1", "SETTLED", "-4.50", "Coffee Co", &ago(40), Some(&ago(39)));
    let salary = tx("t-2", "SETTLED", "2000.00", "Acme Payroll", &ago(30), Some(&ago(30)));
    let baseline = once(&fixture, "2495.50", vec![coffee.clone(), salary.clone()], vec![]).await;
    assert_eq!(support::stdout_of(&baseline), "", "a baseline raises nothing");

    let theft = tx("t-3", "SETTLED", "-1800.00", "QuickCash Transfer", &ago(2), Some(&ago(1)));
    let held = tx("t-4", "HELD", "-20.00", "Grocer", &ago(1), None);
    let output = once(&fixture, "675.50", vec![coffee, salary, theft], vec![held]).await;
    let findings: Vec<Value> =
        support::stdout_of(&output).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"large_debit") && kinds.contains(&"new_payee"), "{kinds:?}");
    assert!(!kinds.contains(&"unexplained_change"), "the held purchase explains the rest: {kinds:?}");
    let debit = findings.iter().find(|f| f["kind"] == "large_debit").expect("large_debit");
    assert_eq!((debit["source"].as_str(), debit["account"].as_str()), (Some("up"), Some(ACCOUNT)));
    assert!(debit["title"].as_str().is_some_and(|t| t.contains("1800.00 AUD to QuickCash Transfer")), "{debit}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(TOKEN));

    // `check` says where the source connects, never the token.
    let check = support::stdout_of(&support::run(&config, &["check"]).await);
    let host = fixture.url("");
    assert!(check.contains(&format!("up (up, {}) schedule", host.trim_end_matches('/'))), "{check}");
    assert!(!check.contains(TOKEN), "{check}");

    // `run` polls it on its schedule and stops cleanly; `status` shows what it read.
    fixture.reply(&transactions_path(ACCOUNT), page(vec![], None));
    let every_second = std::fs::read_to_string(&config).expect("config").replace("*/30 * * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    let accounts_asked = |seen: &[support::Seen]| seen.iter().filter(|s| s.path == "/api/v1/accounts").count();
    let before = accounts_asked(&fixture.seen());
    let mut daemon = support::daemon(&config).spawn().expect("start payguard run");
    fixture.wait_for("two scheduled polls", |seen| accounts_asked(seen) >= before + 2).await;
    support::signal(&daemon, "TERM");
    let stopped = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    assert_eq!(stopped.code(), Some(0));
    let status = support::stdout_of(&support::run(&config, &["status"]).await);
    assert!(status.contains("up (up): ok") && status.contains("AUD"), "{status}");
}

/// Refused credentials fail `payguard once` with exit 75 and `source_down` at once, naming the
/// host and never the token.
#[tokio::test(flavor = "multi_thread")]
async fn payguard_once_says_at_once_when_the_token_is_refused() {
    let fixture = Fixture::start().await;
    let (_dir, config) = write_config(&fixture);
    fixture.reply(
        "/api/v1/accounts",
        Reply::status(401, r#"{"errors": [{"status": "401", "title": "Not Authorized", "detail": "…"}]}"#),
    );
    let output = support::run(&config, &["once", "--json"]).await;
    assert_eq!(output.status.code(), Some(75), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""kind":"source_down""#), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("127.0.0.1") && stderr.contains("refused the credentials"), "{stderr}");
    assert!(!stderr.contains(TOKEN) && !stdout.contains(TOKEN));
}
