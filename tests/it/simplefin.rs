//! The SimpleFIN source against a real HTTP server on loopback: protocol-shaped answers are read
//! exactly, and every kind of bad answer becomes a clear error, never a panic or a half-read account.

use crate::support;

use chrono::{DateTime, Utc};
use payguard::model::{AccountRef, Observation};
use payguard::source::{Poll, Source, SourceError};
use rust_decimal::Decimal;
use support::{Fixture, Reply, limits, simplefin};

const PATH: &str = "/simplefin/accounts";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

async fn poll(fixture: &Fixture, accounts: &[&str]) -> Result<Poll, SourceError> {
    poll_with(fixture, accounts, limits()).await
}

async fn poll_with(
    fixture: &Fixture,
    accounts: &[&str],
    limits: payguard::config::HttpLimits,
) -> Result<Poll, SourceError> {
    let config = simplefin(&fixture.url_with_credentials("user", "s3cret-pw", "/simplefin"), limits);
    let source = Source::new(&config).expect("source");
    let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
    source.poll(&accounts, now() - chrono::TimeDelta::days(3), now()).await
}

fn observation(poll: &Poll, account: &str) -> Observation {
    let (_, result) = poll.accounts.iter().find(|(a, _)| a == account).expect("the account is in the poll");
    result.clone().expect("the account was read")
}

const GOOD: &str = r#"{
  "errors": [],
  "x-api-message": ["a field nobody documented"],
  "accounts": [
    {
      "org": {"domain": "bank.example", "sfin-url": "https://bridge.example/simplefin", "name": "Bank"},
      "id": "ACT-1",
      "name": "Checking",
      "currency": "USD",
      "balance": "1234.56",
      "available-balance": "1200.00",
      "balance-date": 1789990000,
      "holdings": [],
      "extra": {"nickname": "main"},
      "transactions": [
        {"id": "t1", "posted": 1789900000, "amount": "-33.29", "description": "COFFEE SHOP #12", "payee": "Coffee Shop", "transacted_at": 1789899000},
        {"id": "t2", "posted": 0, "amount": "-0.10", "description": "Card check", "pending": true, "transacted_at": 1789950000},
        {"id": 42, "posted": 1789800000, "amount": "2500.00", "description": "PAYROLL ACME"}
      ]
    },
    {"id": "ACT-9", "name": "Not configured", "currency": "USD", "balance": "1.00", "balance-date": 1789990000}
  ]
}"#;

#[tokio::test]
async fn reads_amounts_as_strings_pending_and_unknown_fields() {
    let fixture = Fixture::start().await;
    fixture.reply(PATH, Reply::json(GOOD));
    let poll = poll(&fixture, &["ACT-1"]).await.expect("poll");
    let obs = observation(&poll, "ACT-1");
    assert_eq!(obs.account, AccountRef::new("bank", "ACT-1"));
    assert_eq!(obs.name.as_deref(), Some("Checking"));
    assert_eq!(obs.snapshot.balance, dec("1234.56"));
    assert_eq!(obs.snapshot.available, Some(dec("1200.00")));
    assert_eq!(obs.snapshot.currency, "USD");
    assert_eq!(obs.snapshot.observed_at, now());
    assert_eq!(obs.snapshot.as_of.map(|t| t.timestamp()), Some(1_789_990_000));
    let txs = &obs.transactions;
    assert_eq!(txs.len(), 3);
    assert_eq!(
        (txs[0].id.as_str(), txs[0].amount, txs[0].payee.as_str(), txs[0].pending),
        ("t1", dec("-33.29"), "Coffee Shop", false)
    );
    // A pending transaction with posted = 0 is dated by when it happened.
    assert_eq!((txs[1].pending, txs[1].posted.timestamp(), txs[1].amount), (true, 1_789_950_000, dec("-0.10")));
    // A numeric id is read as text; a missing payee falls back to the description.
    assert_eq!((txs[2].id.as_str(), txs[2].payee.as_str()), ("42", "PAYROLL ACME"));
    assert_eq!(poll.unconfigured, ["ACT-9"]);
}

#[tokio::test]
async fn asks_for_the_window_with_pending_and_basic_credentials() {
    let fixture = Fixture::start().await;
    fixture.reply(PATH, Reply::json(GOOD));
    poll(&fixture, &["ACT-1"]).await.expect("poll");
    let seen = fixture.seen();
    assert_eq!(seen.len(), 1);
    let query = &seen[0].query;
    let start = (now() - chrono::TimeDelta::days(3)).timestamp();
    assert!(query.contains(&format!("start-date={start}")), "{query}");
    assert!(query.contains("pending=1"), "{query}");
    // base64("user:s3cret-pw")
    assert_eq!(seen[0].headers.get("authorization").map(String::as_str), Some("Basic dXNlcjpzM2NyZXQtcHc="));
}

#[tokio::test]
async fn platform_errors_are_surfaced() {
    let fixture = Fixture::start().await;
    let body = GOOD.replace(r#""errors": []"#, r#""errors": ["Connection to Other Bank may need attention"]"#);
    fixture.reply(PATH, Reply::json(&body));
    let poll = poll(&fixture, &["ACT-1", "ACT-2"]).await.expect("poll");
    assert_eq!(poll.warnings, ["Connection to Other Bank may need attention"]);
    assert!(poll.accounts[0].1.is_ok());
    // The account the platform could not give is failed, with the platform's own words.
    match &poll.accounts[1].1 {
        Err(SourceError::Platform(text)) => assert!(text.contains("may need attention"), "{text}"),
        other => panic!("expected a platform error, got {other:?}"),
    }

    fixture.reply(PATH, Reply::json(r#"{"errlist": [{"code": "gen.auth", "msg": "Authentication failed"}]}"#));
    match poll_result(&fixture).await {
        Err(SourceError::Platform(text)) => assert_eq!(text, "gen.auth: Authentication failed"),
        other => panic!("expected a platform error, got {other:?}"),
    }
}

async fn poll_result(fixture: &Fixture) -> Result<Poll, SourceError> {
    poll(fixture, &["ACT-1"]).await
}

/// Bodies that must fail the whole poll, with words that say what was wrong.
#[tokio::test]
async fn malformed_bodies_fail_clearly() {
    let cases = [
        ("not json at all", "not JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        (r#"{"accounts": {"id": "ACT-1"}}"#, "`accounts` should be an array"),
        (r#"{"accounts": [{"name": "no id"}]}"#, "has no id"),
        (r#"{"errors": []}"#, "no `accounts`"),
        (r#"{"accounts": [{"id": "ACT-1"#, "not JSON"),
    ];
    let fixture = Fixture::start().await;
    for (body, needle) in cases {
        fixture.reply(PATH, Reply::json(body));
        match poll_result(&fixture).await {
            Err(e @ SourceError::Malformed { .. }) => assert!(e.to_string().contains(needle), "{body}: {e}"),
            other => panic!("{body}: expected a malformed-answer error, got {other:?}"),
        }
    }
}

/// Accounts whose data is unusable in any part fail as a whole: never a half-read account.
#[tokio::test]
async fn an_unusable_account_fails_whole() {
    let account = |fields: &str| format!(r#"{{"accounts": [{{"id": "ACT-1", "currency": "USD", {fields}}}]}}"#);
    let cases = [
        (account(r#""balance": "abc""#), "balance"),
        (account(r#""balance": 1e400"#), "too large"),
        (account(r#""balance": "NaN""#), "not a decimal"),
        (account(r#""balance": "1234567890123456789012345678901234567890""#), "too large"),
        (account(r#""available-balance": "1""#), "no `balance`"),
        (account(r#""balance": true"#), "found a boolean"),
        (account(r#""balance": "1", "transactions": [{"id": "a", "posted": 1, "amount": "x"}]"#), "transactions[0]"),
        (account(r#""balance": "1", "transactions": [{"id": "a", "posted": "soon", "amount": "1"}]"#), "posted"),
        (
            account(r#""balance": "1", "transactions": [{"id": "a", "posted": 1, "amount": "1", "pending": "yes"}]"#),
            "pending",
        ),
        (account(r#""balance": "1", "transactions": {"id": "a"}"#), "should be an array"),
    ];
    let fixture = Fixture::start().await;
    for (body, needle) in cases {
        fixture.reply(PATH, Reply::json(&body));
        let poll = poll_result(&fixture).await.expect("the answer as a whole is readable");
        match &poll.accounts[0].1 {
            Err(e) => assert!(e.to_string().contains(needle), "{body}: {e}"),
            Ok(obs) => panic!("{body}: expected the account to fail, got {obs:?}"),
        }
    }
}

#[tokio::test]
async fn http_failures_map_to_retryable_or_not() {
    let fixture = Fixture::start().await;
    let cases = [
        (Reply::status(500, "boom"), "HTTP 500", true),
        (Reply::status(502, "bad gateway"), "HTTP 502", true),
        (Reply::status(429, "slow down").with_header("retry-after", "120"), "wait 120s", true),
        (Reply::status(403, "forbidden"), "refused the credentials", false),
        (Reply::status(402, "payment required"), "HTTP 402", false),
    ];
    for (reply, needle, retryable) in cases {
        fixture.reply(PATH, reply);
        let error = poll_result(&fixture).await.expect_err("an HTTP failure fails the poll");
        assert!(error.to_string().contains(needle), "{error}");
        assert_eq!(error.is_retryable(), retryable, "{error}");
        assert!(!error.to_string().contains("s3cret-pw"), "{error}");
    }
}

#[tokio::test]
async fn huge_bodies_are_cut_off() {
    let fixture = Fixture::start().await;
    let small = payguard::config::HttpLimits { max_body: 100 * 1024, ..limits() };
    // With a Content-Length that says so up front…
    fixture.reply(PATH, Reply::json(&" ".repeat(200 * 1024)));
    let error = poll_with(&fixture, &["ACT-1"], small).await.expect_err("too large");
    assert!(matches!(error, SourceError::TooLarge { limit: 102_400, .. }), "{error}");
    // …and without one, counted as it streams.
    fixture.reply(PATH, Reply::Stream { chunks: 64 });
    let error = poll_with(&fixture, &["ACT-1"], small).await.expect_err("too large");
    assert!(matches!(error, SourceError::TooLarge { .. }), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out() {
    let fixture = Fixture::start().await;
    fixture.reply(PATH, Reply::Hang);
    let error = poll_result(&fixture).await.expect_err("timeout");
    assert!(matches!(error, SourceError::Timeout { .. }), "{error}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_unreachable_server_says_so_without_the_credentials() {
    let fixture = Fixture::start().await;
    let url = fixture.url_with_credentials("user", "s3cret-pw", "/simplefin");
    drop(fixture);
    // Nothing listens on the port any more.
    let config = simplefin(&url, limits());
    let source = Source::new(&config).expect("source");
    let error = source.poll(&["ACT-1".to_owned()], now(), now()).await.expect_err("unreachable");
    let text = error.to_string();
    assert!(matches!(error, SourceError::Unreachable { .. } | SourceError::Timeout { .. }), "{text}");
    assert!(!text.contains("s3cret-pw") && !text.contains("user:"), "{text}");
}

#[tokio::test]
async fn account_errors_in_errlist_set_the_accounts_status() {
    let fixture = Fixture::start().await;
    let body = r#"{"errlist": [
        {"code": "act.locked", "msg": "Account locked by the bank", "account_id": "ACT-1"},
        {"code": "act.closed", "msg": "Account closed", "account_id": "ACT-2"}
    ], "accounts": [
        {"id": "ACT-1", "currency": "USD", "balance": "10.00"},
        {"id": "ACT-2", "currency": "USD", "balance": "0.00"},
        {"id": "ACT-3", "currency": "USD", "balance": "5.00"}
    ]}"#;
    fixture.reply(PATH, Reply::json(body));
    let poll = poll(&fixture, &["ACT-1", "ACT-2", "ACT-3"]).await.expect("poll");
    let status = |id: &str| observation(&poll, id).snapshot.status;
    use payguard::model::AccountStatus::*;
    assert_eq!((status("ACT-1"), status("ACT-2"), status("ACT-3")), (Frozen, Closed, Active));
    assert_eq!(poll.warnings.len(), 2, "still surfaced as warnings");
}

/// A megabyte of payee, description, name or id is cut to what payguard keeps, in one place after
/// ids are derived: two id-less transactions that differ only beyond the bound stay two, with the
/// ids they had before there was a bound, and a long id of the source's own stays as distinct.
#[tokio::test]
async fn text_longer_than_payguard_keeps_is_cut_without_merging_transactions() {
    use payguard::model::{Transaction, derive_ids, payee_key, short_hash};
    use payguard::text::STORED;

    let fixture = Fixture::start().await;
    let mib = 1 << 20;
    let padding = "x".repeat(mib);
    let (payee_a, payee_b) = (format!("{padding}A"), format!("{padding}B"));
    let long_id = "i".repeat(mib);
    let description = "é".repeat(mib / 2);
    let answer = serde_json::json!({ "accounts": [{
        "id": "ACT-1", "name": padding, "currency": "USD", "balance": "10.00",
        "transactions": [
            {"posted": 1789900000, "amount": "-1.00", "payee": payee_a},
            {"posted": 1789900000, "amount": "-1.00", "payee": payee_b},
            {"id": long_id, "posted": 1789900000, "amount": "-2.00", "payee": "Shop", "description": description},
        ]
    }]});
    fixture.reply(PATH, Reply::json(&answer.to_string()));
    let (logs, _guard) = support::logs::Logs::capture();
    let poll = poll_with(&fixture, &["ACT-1"], payguard::config::HttpLimits { max_body: 8 * mib as u64, ..limits() })
        .await
        .expect("the poll succeeds");
    let o = observation(&poll, "ACT-1");

    assert_eq!(o.name.as_deref().map(str::len), Some(STORED));
    let [a, b, long] = o.transactions.as_slice() else { panic!("three transactions: {:?}", o.transactions.len()) };
    for tx in [a, b, long] {
        assert!(tx.id.len() <= STORED && tx.payee.len() <= STORED && tx.description.len() <= STORED);
        assert!(tx.payee_key.len() <= STORED);
        assert_eq!(tx.payee_key, payee_key(&tx.payee), "the key is the stored payee's");
    }
    // The ids derived from the whole text, as before the bound existed.
    let whole = |payee: &str| Transaction {
        id: String::new(),
        posted: DateTime::from_timestamp(1789900000, 0).expect("a time"),
        amount: dec("-1.00"),
        payee: payee.to_owned(),
        payee_key: String::new(),
        description: String::new(),
        pending: false,
    };
    let mut expected = vec![whole(&payee_a), whole(&payee_b)];
    derive_ids(&mut expected);
    assert_eq!((&a.id, &b.id), (&expected[0].id, &expected[1].id));
    assert_ne!(a.id, b.id);
    assert_eq!(a.payee, b.payee, "both payees are cut to the same text");
    assert_eq!(long.id, format!("long:{}", short_hash(&long_id)));
    assert_eq!(long.description, "é".repeat(STORED / 2), "cut at a character boundary");

    let warned = logs.lines_with(&["WARN", "bank/ACT-1", "cut"]);
    assert_eq!(warned.len(), 1, "one warning for the account: {}", logs.text());
    for field in ["name ×1", "payee ×2", "id ×1", "description ×1"] {
        assert!(warned[0].contains(field), "{field}: {}", warned[0]);
    }
    assert!(!logs.text().contains("xxxxxxxx") && !logs.text().contains("éééé"), "no content in the log");
}

/// A bridge that still answers while its bank connection stopped updating: the account's
/// `balance-date` stands still. Through the engine, its store and a webhook on loopback, with the
/// default `stale_after` (3d): `stale_data` fires once when the date is more than three days old,
/// is not said again by the next poll, and is resolved by the first poll whose date moved.
#[tokio::test(flavor = "multi_thread")]
async fn a_balance_date_that_stands_still_fires_stale_data_once_and_resolves_when_it_moves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bank = support::Fixture::start().await;
    let receiver = support::Fixture::start().await;
    receiver.reply("/hook", Reply::json("{}"));
    let hook = format!("[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n", receiver.url("/hook"));
    let access = bank.url_with_credentials("u", "p", "/simplefin");
    let text = support::sim_config_text(dir.path(), &access, "0 * * * *", &hook);
    // Whole seconds, as SimpleFIN dates are: "exactly three days" must be exact.
    let start = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("a valid time");
    let clock = payguard::daemon::Clock::manual(start);
    let engine = support::engine(&text, clock.clone());
    let answer = |dated: DateTime<Utc>| {
        let account = serde_json::json!({
            "id": "ACT-1", "name": "Checking", "currency": "USD", "balance": "100.00",
            "balance-date": dated.timestamp(), "transactions": [],
        });
        bank.reply(PATH, Reply::json(&serde_json::json!({ "errors": [], "accounts": [account] }).to_string()));
    };
    let hours = |h: i64| start + chrono::TimeDelta::hours(h);
    // Polls a bridge whose balance is dated `dated`, at `at`; what the poll made owed, by kind.
    let poll = |dated: DateTime<Utc>, at: DateTime<Utc>| {
        answer(dated);
        let (engine, clock) = (engine.clone(), clock.clone());
        async move {
            clock.set(at);
            let run = engine.poll_source(0, at).await;
            assert!(run.succeeded(), "{run:?}");
            engine.deliverer().round(engine.store(), at, false).await.expect("a delivery round");
            run.notices.iter().map(|(alert, event)| format!("{} {event:?}", alert.kind())).collect::<Vec<_>>()
        }
    };
    let said = || {
        let bodies = receiver.seen().into_iter().filter(|r| r.path == "/hook");
        let bodies = bodies.filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok());
        bodies.filter(|b| b["kind"] == "stale_data").map(|b| b["event"].as_str().unwrap_or_default().to_owned())
    };

    let last_update = hours(23);
    assert!(poll(hours(-1), hours(0)).await.is_empty(), "the baseline, fresh");
    assert!(poll(last_update, hours(24)).await.is_empty(), "fresh");
    assert!(poll(last_update, hours(48)).await.is_empty());
    assert!(poll(last_update, hours(23 + 72)).await.is_empty(), "exactly stale_after old is not stale yet");
    assert_eq!(poll(last_update, hours(24 + 72)).await, ["stale_data Firing"]);
    assert!(poll(last_update, hours(25 + 72)).await.is_empty(), "one alert, not one per poll");
    assert_eq!(poll(hours(26 + 72), hours(26 + 72)).await, ["stale_data Resolved"], "the date moved");
    assert!(poll(hours(27 + 72), hours(27 + 72)).await.is_empty());
    assert_eq!(said().collect::<Vec<_>>(), ["firing", "resolved"]);
}
