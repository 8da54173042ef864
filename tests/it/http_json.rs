//! The http-json source against a real HTTP server on loopback: a platform's own JSON shape is read
//! through the configured pointers, with its auth, and bad answers fail only the account they concern.

use crate::support;

use chrono::{DateTime, Utc};
use payguard::config::{HttpAuth, Secret};
use payguard::source::SourceKind;
use payguard::source::http_json::{HttpJsonConfig, Mapping};
use payguard::source::{Source, SourceError};
use rust_decimal::Decimal;
use support::{Fixture, Reply, limits, source_config};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

fn mapping() -> Mapping {
    Mapping {
        balance: "/data/balance/amount".into(),
        available: Some("/data/balance/available".into()),
        currency: Some("/data/balance/currency".into()),
        status: Some("/data/state".into()),
        transactions: "/items".into(),
        id: Some("/ref".into()),
        posted: "/booked".into(),
        amount: "/money/value".into(),
        payee: Some("/counterparty/name".into()),
        description: Some("/memo".into()),
        pending: Some("/status".into()),
        pending_values: vec!["PENDING".into(), "authorised".into()],
    }
}

fn source(fixture: &Fixture, auth: HttpAuth, same_url: bool) -> Source {
    let transactions = if same_url { "/v1/accounts/{account}/balance" } else { "/v1/accounts/{account}/transactions" };
    let config = HttpJsonConfig {
        balance_url: fixture.url("/v1/accounts/{account}/balance"),
        transactions_url: fixture.url(transactions),
        auth,
        currency: None,
        mapping: mapping(),
    };
    Source::new(&source_config("platform", SourceKind::HttpJson(Box::new(config)), limits())).expect("source")
}

const BALANCE: &str =
    r#"{"data": {"balance": {"amount": 1520.75, "available": "1500.00", "currency": "EUR"}, "state": "FROZEN"}}"#;
const TRANSACTIONS: &str = r#"{"items": [
    {"ref": "r-1", "booked": "2026-09-21T10:00:00+02:00", "money": {"value": -0.1}, "counterparty": {"name": "Bakery"}, "memo": "bread", "status": "BOOKED"},
    {"ref": 77, "booked": 1789990000, "money": {"value": "-250.00"}, "counterparty": {"name": null}, "memo": "ATM withdrawal", "status": "pending"},
    {"booked": "2026-09-20", "money": {"value": 12}, "memo": "refund", "extra": [1, 2]}
]}"#;

#[tokio::test]
async fn maps_a_platforms_json_by_pointers() {
    let fixture = Fixture::start().await;
    fixture.reply("/v1/accounts/A%201/balance", Reply::json(BALANCE));
    fixture.reply("/v1/accounts/A%201/transactions", Reply::json(TRANSACTIONS));
    let source = source(&fixture, HttpAuth::Bearer(Secret::new("tok-123")), false);
    let poll = source.poll(&["A 1".to_owned()], now(), now()).await.expect("poll");
    let obs = poll.accounts[0].1.clone().expect("account read");
    assert_eq!(obs.snapshot.balance, dec("1520.75"));
    assert_eq!(obs.snapshot.available, Some(dec("1500.00")));
    assert_eq!(obs.snapshot.currency, "EUR");
    assert_eq!(obs.snapshot.status, payguard::model::AccountStatus::Frozen);
    let txs = &obs.transactions;
    assert_eq!(txs.len(), 3);
    // A JSON number is read from its text: -0.1 is exactly one tenth.
    assert_eq!(
        (txs[0].id.as_str(), txs[0].amount, txs[0].payee.as_str(), txs[0].pending),
        ("r-1", dec("-0.1"), "Bakery", false)
    );
    assert_eq!(txs[0].posted.timestamp(), 1_789_977_600);
    assert_eq!((txs[1].id.as_str(), txs[1].payee.as_str(), txs[1].pending), ("77", "ATM withdrawal", true));
    // No id from the platform: a stable one is derived.
    assert!(txs[2].id.starts_with("derived:"), "{}", txs[2].id);
    for seen in fixture.seen() {
        assert_eq!(seen.headers.get("authorization").map(String::as_str), Some("Bearer tok-123"));
    }
}

#[tokio::test]
async fn basic_and_named_header_auth() {
    let fixture = Fixture::start().await;
    // No `available` and no `state`: optional fields may be absent.
    let body = r#"{"data": {"balance": {"amount": "1", "currency": "EUR"}}, "items": []}"#;
    fixture.reply("/v1/accounts/A/balance", Reply::json(body));
    let basic = HttpAuth::Basic { username: "me".into(), password: Secret::new("pw") };
    source(&fixture, basic, true).poll(&["A".to_owned()], now(), now()).await.expect("poll").accounts[0]
        .1
        .as_ref()
        .expect("account read");
    let header = HttpAuth::Header { name: "X-Api-Key".into(), value: Secret::new("key-9") };
    source(&fixture, header, true).poll(&["A".to_owned()], now(), now()).await.expect("poll");
    let seen = fixture.seen();
    // One URL for both balance and transactions: one request per poll.
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers.get("authorization").map(String::as_str), Some("Basic bWU6cHc="));
    assert_eq!(seen[1].headers.get("x-api-key").map(String::as_str), Some("key-9"));
}

#[tokio::test]
async fn a_bad_account_fails_alone() {
    let fixture = Fixture::start().await;
    fixture.reply("/v1/accounts/good/balance", Reply::json(BALANCE));
    fixture.reply("/v1/accounts/good/transactions", Reply::json(TRANSACTIONS));
    fixture.reply(
        "/v1/accounts/bad/balance",
        Reply::json(r#"{"data": {"balance": {"amount": "lots", "currency": "EUR"}}}"#),
    );
    fixture.reply("/v1/accounts/bad/transactions", Reply::json(TRANSACTIONS));
    fixture.reply("/v1/accounts/gone/balance", Reply::status(404, "no such account"));
    let source = source(&fixture, HttpAuth::None, false);
    let poll = source.poll(&["good".into(), "bad".into(), "gone".into()], now(), now()).await.expect("poll");
    assert!(poll.accounts[0].1.is_ok());
    let bad = poll.accounts[1].1.clone().expect_err("bad account");
    assert!(matches!(bad, SourceError::Malformed { .. }) && bad.to_string().contains("account bad: balance"), "{bad}");
    let gone = poll.accounts[2].1.clone().expect_err("missing account");
    assert!(gone.to_string().contains("HTTP 404"), "{gone}");
}

#[tokio::test]
async fn a_platform_that_refuses_or_answers_for_no_account_is_down() {
    let fixture = Fixture::start().await;
    fixture.reply("/v1/accounts/a/balance", Reply::status(503, "maintenance"));
    fixture.reply("/v1/accounts/b/balance", Reply::status(503, "maintenance"));
    let source = source(&fixture, HttpAuth::None, false);
    // No account could be fetched: the platform is down, which is what source_down counts.
    let down = source.poll(&["a".into(), "b".into()], now(), now()).await.expect_err("a failed poll");
    assert!(matches!(down, SourceError::Status { status: 503, .. }), "{down}");
    // Refused credentials on any account are the whole source's, and fire at once.
    fixture.reply("/v1/accounts/a/balance", Reply::json(BALANCE));
    fixture.reply("/v1/accounts/a/transactions", Reply::json(TRANSACTIONS));
    fixture.reply("/v1/accounts/b/balance", Reply::status(401, "token revoked"));
    let refused = source.poll(&["a".into(), "b".into()], now(), now()).await.expect_err("a refused poll");
    assert!(matches!(refused, SourceError::Auth { status: 401, .. }), "{refused}");
    // One account down and one read is a good poll with one failure.
    fixture.reply("/v1/accounts/b/balance", Reply::status(500, "oops"));
    let partial = source.poll(&["a".into(), "b".into()], now(), now()).await.expect("a poll");
    assert!(partial.accounts[0].1.is_ok() && partial.accounts[1].1.is_err());
}

#[tokio::test]
async fn answers_that_do_not_fit_the_mapping() {
    let cases = [
        (r#"{"data": {}}"#, TRANSACTIONS, "nothing at \"/data/balance/amount\""),
        (BALANCE, r#"{"items": {"ref": 1}}"#, "should be an array"),
        (
            BALANCE,
            r#"{"items": [{"ref": "x", "booked": 1, "money": {"value": [1]}}]}"#,
            "transaction 0: amount should be a decimal amount",
        ),
        (BALANCE, r#"{"items": [{"ref": "x", "money": {"value": 1}}]}"#, "nothing at \"/booked\""),
        (BALANCE, "<html>oops</html>", "not JSON"),
        (BALANCE, r#"{"items": [{"ref": "x", "booked": 1, "money": {"value": 1e999}}]}"#, "too large"),
    ];
    let fixture = Fixture::start().await;
    let source = source(&fixture, HttpAuth::None, false);
    for (balance, transactions, needle) in cases {
        fixture.reply("/v1/accounts/A/balance", Reply::json(balance));
        fixture.reply("/v1/accounts/A/transactions", Reply::json(transactions));
        let poll = source.poll(&["A".to_owned()], now(), now()).await.expect("poll");
        let error = poll.accounts[0].1.clone().expect_err("does not fit");
        assert!(error.to_string().contains(needle), "{needle}: {error}");
    }
}
