//! The enablebanking source against a real HTTP server on loopback shaped after Enable Banking's
//! API reference: the session, balances, transactions a page at a time by `continuation_key`,
//! unsigned amounts with `credit_debit_indicator`, pending ones, an ended session, 429 with its
//! hint; every request's JWT checked against the application's public key; a theft found end to
//! end by the real binary; and `payguard enablebanking-link` fed the bank's redirect on stdin.

use crate::support;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use payguard::config::Secret;
use payguard::source::enablebanking::EnableBankingConfig;
use payguard::source::{Source, SourceError, SourceKind};
use serde_json::{Value, json};
use support::{Fixture, Reply, Seen, limits, source_config};

const APPLICATION: &str = "cf589be3-3755-465b-a8df-a90a16a31403";
const SESSION: &str = "4b6e7c2a-9d1f-4e0b-8a3c-5f2d1e0c9b8a";
const ACCOUNT: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";

/// The application's key pair, made once for the whole run: its PEM (what the config names) and
/// its public key (what the fixture checks signatures with).
fn key() -> &'static (String, Vec<u8>) {
    static KEY: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
        let der = STANDARD.encode(key.as_der().expect("PKCS#8").as_ref());
        let lines: Vec<String> = der.as_bytes().chunks(64).map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
        (pem, key.public_key().as_ref().to_vec())
    })
}

/// Writes the private key where only its owner may read it, as the config rules want.
fn key_file(dir: &Path) -> PathBuf {
    let path = dir.join("enablebanking.pem");
    std::fs::write(&path, &key().0).expect("write the key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// Checks the JWT of every request the fixture saw as Enable Banking would: the header (typ, alg,
/// kid), the claims (iss, aud, iat, exp at most a day later and not past), and the RS256
/// signature against the application's public key. Returns the tokens, in order.
fn verified(seen: &[Seen]) -> Vec<String> {
    assert!(!seen.is_empty(), "no request reached the fixture");
    seen.iter()
        .map(|s| {
            let auth = s
                .headers
                .get("authorization")
                .unwrap_or_else(|| panic!("{} {} without Authorization", s.method, s.path));
            let token = auth.strip_prefix("Bearer ").unwrap_or_else(|| panic!("not a bearer token: {auth}"));
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
            let json = |part: &str| -> Value {
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
            };
            assert_eq!(json(parts[0]), json!({"typ": "JWT", "alg": "RS256", "kid": APPLICATION}));
            let claims = json(parts[1]);
            assert_eq!(
                (claims["iss"].as_str(), claims["aud"].as_str()),
                (Some("enablebanking.com"), Some("api.enablebanking.com"))
            );
            let (iat, exp) = (claims["iat"].as_i64().expect("iat"), claims["exp"].as_i64().expect("exp"));
            assert!(iat < exp && exp - iat <= 86_400, "the API takes tokens of at most a day: {claims}");
            assert!(exp > Utc::now().timestamp(), "an expired token: {claims}");
            let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url signature");
            let signed = format!("{}.{}", parts[0], parts[1]);
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key().1)
                .verify(signed.as_bytes(), &signature)
                .unwrap_or_else(|_| panic!("{} {}: the signature does not verify", s.method, s.path));
            token.to_owned()
        })
        .collect()
}

fn config(fixture: &Fixture) -> EnableBankingConfig {
    EnableBankingConfig {
        api_base: fixture.url(""),
        application_id: APPLICATION.into(),
        private_key: "enablebanking.pem".into(),
        key: Some(Secret::new(key().0.clone())),
        session_id: Secret::new(SESSION),
    }
}

fn source(fixture: &Fixture) -> Source {
    Source::new(&source_config("eu-bank", SourceKind::EnableBanking(Box::new(config(fixture))), limits()))
        .expect("source")
}

fn session_path() -> String {
    format!("/sessions/{SESSION}")
}

fn balances_path() -> String {
    format!("/accounts/{ACCOUNT}/balances")
}

fn transactions_path() -> String {
    format!("/accounts/{ACCOUNT}/transactions")
}

/// `GetSessionResponse`, with access until `until`.
fn session(status: &str, until: DateTime<Utc>) -> String {
    json!({
        "status": status,
        "accounts": [ACCOUNT, "5d3c1a2b-0000-4000-8000-000000000002"],
        "accounts_data": [{"uid": ACCOUNT, "identification_hash": "h1"}],
        "aspsp": {"name": "Nordea", "country": "FI"},
        "psu_type": "personal",
        "psu_id_hash": "p1",
        "access": {"valid_until": until.to_rfc3339()},
        "created": "2026-11-01T12:00:00.000000+00:00",
        "authorized": "2026-11-01T12:01:00.000000+00:00",
    })
    .to_string()
}

fn balances(booked: &str) -> String {
    json!({"balances": [
        {"name": "Booked balance", "balance_amount": {"currency": "EUR", "amount": booked}, "balance_type": "CLBD", "reference_date": "2026-11-30"},
        {"name": "Available", "balance_amount": {"currency": "EUR", "amount": "1500.00"}, "balance_type": "ITAV"},
    ]})
    .to_string()
}

/// One `Transaction`, dated today (the binary judges on the real clock).
fn transaction(reference: &str, amount: &str, indicator: &str, status: &str, party: &str) -> Value {
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let side = if indicator == "DBIT" { "creditor" } else { "debtor" };
    json!({
        "entry_reference": reference,
        "transaction_amount": {"currency": "EUR", "amount": amount},
        "credit_debit_indicator": indicator,
        "status": status,
        "booking_date": today,
        "value_date": today,
        side: {"name": party},
        "remittance_information": [format!("{party} ref")],
    })
}

/// A `HalTransactions` page.
fn page(items: &[Value], next: Option<&str>) -> Reply {
    Reply::json(&json!({"transactions": items, "continuation_key": next}).to_string())
}

/// The session and one account, its transactions in two pages.
fn serve(fixture: &Fixture) {
    fixture.reply(&session_path(), Reply::json(&session("AUTHORIZED", Utc::now() + TimeDelta::days(150))));
    fixture.reply(&balances_path(), Reply::json(&balances("10520.75")));
    serve_transactions(fixture, &[]);
}

/// The account's transactions: salary and a coffee on the first page, a pending card hold and
/// `extra` on the second.
fn serve_transactions(fixture: &Fixture, extra: &[Value]) {
    let first = [
        transaction("e-1", "3200.00", "CRDT", "BOOK", "ACME Payroll"),
        transaction("e-2", "4.20", "DBIT", "BOOK", "Corner Cafe"),
    ];
    let mut second = vec![json!({
        "transaction_amount": {"currency": "EUR", "amount": "12.00"},
        "credit_debit_indicator": "DBIT",
        "status": "PDNG",
        "remittance_information": ["Card hold Metro"],
    })];
    second.extend_from_slice(extra);
    let last = page(&second, None);
    fixture.reply_sequence(&transactions_path(), vec![page(&first, Some("ck-2")), last.clone()]);
    fixture.reply(&transactions_path(), last);
}

fn on(fixture: &Fixture, path: &str) -> Vec<Seen> {
    fixture.seen().into_iter().filter(|s| s.path == path).collect()
}

fn host(fixture: &Fixture) -> String {
    fixture.url("").trim_start_matches("http://").trim_end_matches('/').to_owned()
}

#[tokio::test]
async fn a_session_is_read_page_by_page_with_a_signed_token() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let source = source(&fixture);
    let now = Utc::now();
    let since = now - TimeDelta::days(3);
    let poll = source.poll(&[ACCOUNT.to_owned()], since, now).await.expect("poll");
    let seen = poll.accounts[0].1.clone().expect("the account");
    assert_eq!(seen.snapshot.balance.to_string(), "10520.75");
    assert_eq!(seen.snapshot.available.map(|a| a.to_string()), Some("1500.00".into()));
    assert_eq!(seen.snapshot.currency, "EUR");
    let read: Vec<(&str, String, &str, bool)> =
        seen.transactions.iter().map(|t| (t.id.as_str(), t.amount.to_string(), t.payee.as_str(), t.pending)).collect();
    assert_eq!(read[0], ("e-1", "3200.00".into(), "ACME Payroll", false));
    assert_eq!(read[1], ("e-2", "-4.20".into(), "Corner Cafe", false));
    assert_eq!((read[2].1.as_str(), read[2].2, read[2].3), ("-12.00", "Card hold Metro", true));
    assert_eq!(read.len(), 3);
    assert_eq!(poll.unconfigured, ["5d3c1a2b-0000-4000-8000-000000000002"]);
    let until = poll.consent_until.expect("the session says when access ends");
    assert!((until - (now + TimeDelta::days(150))).num_seconds().abs() < 60, "{until}");

    // Both pages, the second asked for by the first's continuation_key.
    let date_from = format!("date_from={}", since.format("%Y-%m-%d"));
    let queries: Vec<String> = on(&fixture, &transactions_path()).into_iter().map(|s| s.query).collect();
    assert_eq!(queries, [date_from.clone(), format!("{date_from}&continuation_key=ck-2")]);
    // Every request signed, with one token for the whole poll and the next within the hour.
    fixture.reply_sequence(&transactions_path(), vec![page(&[], None)]);
    source.poll(&[ACCOUNT.to_owned()], since, now + TimeDelta::minutes(30)).await.expect("second poll");
    let tokens = verified(&fixture.seen());
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one token, kept");
    // An hour later it is signed again.
    source.poll(&[ACCOUNT.to_owned()], since, now + TimeDelta::minutes(58)).await.expect("third poll");
    let tokens = verified(&fixture.seen());
    assert_ne!(tokens.last(), tokens.first(), "signed again before it ends");
}

#[tokio::test]
async fn an_ended_session_says_to_link_again() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let now = Utc::now();
    let ended = |error: &SourceError| {
        let said = error.to_string();
        assert!(matches!(error, SourceError::ConsentExpired { .. }), "{error:?}");
        assert!(said.contains("payguard enablebanking-link") && !said.contains(SESSION), "{said}");
        said
    };
    // The session itself says so.
    fixture.reply(&session_path(), Reply::json(&session("EXPIRED", now + TimeDelta::days(1))));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect_err("expired");
    assert!(ended(&error).contains("the session is EXPIRED"));
    fixture.reply(&session_path(), Reply::json(&session("REVOKED", now + TimeDelta::days(1))));
    source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.map(drop).map_err(|e| ended(&e)).expect_err("revoked");
    // Its access ran out, though the status has not caught up.
    fixture.reply(&session_path(), Reply::json(&session("AUTHORIZED", now - TimeDelta::hours(1))));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect_err("past valid_until");
    assert!(ended(&error).contains("access ended"));
    // Or an account answer says so, in the API's error shape, naming the session.
    fixture.reply(&session_path(), Reply::json(&session("AUTHORIZED", now + TimeDelta::days(1))));
    let body = json!({"message": format!("Session {SESSION} is expired"), "code": 401, "error": "EXPIRED_SESSION"});
    fixture.reply(&balances_path(), Reply::status(401, &body.to_string()));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect_err("expired at the bank");
    assert!(ended(&error).contains("is expired"));
    verified(&fixture.seen());
}

#[tokio::test]
async fn refusals_and_rate_limits_are_told_apart() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let now = Utc::now();
    fixture.reply(
        &transactions_path(),
        Reply::status(429, r#"{"message": "Too many requests", "code": 429}"#).with_header("retry-after", "120"),
    );
    fixture.reply_sequence(&transactions_path(), vec![]);
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect_err("limited");
    assert_eq!(error, SourceError::RateLimited { host: host(&fixture), retry_after: Some(120) });
    // The bank's own allowance, in the API's words.
    let body = r#"{"message": "ASPSP Rate limit exceeded", "code": 429, "error": "ASPSP_RATE_LIMIT_EXCEEDED"}"#;
    fixture.reply(&transactions_path(), Reply::status(429, body).with_header("retry-after", "3600"));
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect_err("bank limit");
    assert_eq!(error, SourceError::RateLimited { host: host(&fixture), retry_after: Some(3600) });
    // A token the API does not take (an unknown application, a key it does not know).
    fixture.reply(
        &session_path(),
        Reply::status(401, r#"{"message": "Unauthorized access", "code": 401, "error": "UNAUTHORIZED_ACCESS"}"#),
    );
    let error = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect_err("refused");
    assert_eq!(error, SourceError::Auth { host: host(&fixture), status: 401 });
}

#[tokio::test]
async fn transaction_pages_that_loop_are_stopped() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    fixture.reply_sequence(&transactions_path(), vec![]);
    fixture.reply(&transactions_path(), page(&[transaction("e-9", "1.00", "DBIT", "BOOK", "Loop")], Some("same")));
    let now = Utc::now();
    let poll = source(&fixture).poll(&[ACCOUNT.to_owned()], now, now).await.expect("the session was read");
    let error = poll.accounts[0].1.clone().expect_err("the account's pages loop");
    assert!(matches!(error, SourceError::Malformed { .. }) && error.to_string().contains("already read"), "{error}");
    assert_eq!(on(&fixture, &transactions_path()).len(), 2, "the repeated key is not asked for again");
}

/// A config for the real binary: the fixture as the API, one account with a large-debit limit.
fn binary_config(fixture: &Fixture, dir: &Path) -> PathBuf {
    let session_file = dir.join("session");
    std::fs::write(&session_file, SESSION).expect("write the session");
    std::fs::set_permissions(&session_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let config = dir.join("payguard.toml");
    let text = format!(
        r#"[daemon]
state_dir = "{state}"

[[source]]
name = "eu-bank"
kind = "enablebanking"
api_base = "{api}"
application_id = "{APPLICATION}"
private_key = "{key}"
session_id = "${{file:{session}}}"
schedule = "5 1,7,13,19 * * *"

[[account]]
source = "eu-bank"
id = "{ACCOUNT}"
large_debit = "1000.00"
learning_period = "0s"
"#,
        state = dir.join("state").display(),
        api = fixture.url(""),
        key = key_file(dir).display(),
        session = session_file.display(),
    );
    std::fs::write(&config, text).expect("write the config");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn a_theft_through_enablebanking_is_found_by_the_binary() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = binary_config(&fixture, dir.path());
    let once = || support::run(&config, &["once", "--json"]);
    let baseline = support::stdout_of(&once().await);
    assert_eq!(baseline.trim(), "", "the first poll is the baseline");

    serve_transactions(&fixture, &[transaction("e-3", "1600.00", "DBIT", "BOOK", "Thief Ltd")]);
    // The balance moved by the debit (less than the 30 % a drop alert waits for).
    fixture.reply(&balances_path(), Reply::json(&balances("8920.75")));
    let found: Vec<Value> = support::stdout_of(&once().await)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let mut kinds: Vec<&str> = found.iter().filter_map(|f| f["kind"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["large_debit", "new_payee"], "{found:?}");
    verified(&fixture.seen());

    let check = support::stdout_of(&support::run(&config, &["check"]).await);
    assert!(
        check.contains(&format!(
            "eu-bank (enablebanking, {}, application {APPLICATION})",
            fixture.url("").trim_end_matches('/')
        )),
        "{check}"
    );
    assert!(!check.contains(SESSION) && !check.contains("PRIVATE KEY"), "{check}");
    // Four reads a day fit what banks allow; hourly does not.
    assert!(!check.contains("may allow as few as"), "{check}");
    let hourly = std::fs::read_to_string(&config).expect("config").replace("5 1,7,13,19 * * *", "7 * * * *");
    std::fs::write(&config, hourly).expect("write the config");
    let check = support::stdout_of(&support::run(&config, &["check"]).await);
    assert!(
        check.contains("polls 24 times a day, but the banks behind enablebanking may allow as few as 4"),
        "{check}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_is_not_an_rsa_key_is_a_config_error_at_its_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = Fixture::start().await;
    let config = binary_config(&fixture, dir.path());
    std::fs::write(
        dir.path().join("enablebanking.pem"),
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let check = support::run(&config, &["check"]).await;
    assert_eq!(check.status.code(), Some(78));
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(
        said.contains("private_key") && said.contains("not a usable RSA key") && !said.contains("c2VjcmV0"),
        "{said}"
    );
}

/// The API's side of linking: the banks of FI, the authorisation and the session it makes.
fn serve_link(fixture: &Fixture) {
    let banks = json!({"aspsps": [
        {"name": "Nordea", "country": "FI", "logo": "", "psu_types": ["personal"], "auth_methods": [], "maximum_consent_validity": 90 * 86_400, "beta": false},
        {"name": "S-Pankki", "country": "FI", "logo": "", "psu_types": ["personal"], "auth_methods": [], "maximum_consent_validity": 180 * 86_400, "beta": false},
    ]});
    fixture.reply("/aspsps", Reply::json(&banks.to_string()));
    fixture.reply(
        "/auth",
        Reply::json(r#"{"url": "https://tilisy.enablebanking.com/welcome?sessionid=73100c65", "authorization_id": "73100c65", "psu_id_hash": "h"}"#),
    );
    let session = json!({
        "session_id": SESSION,
        "accounts": [{"uid": ACCOUNT, "account_id": {"iban": "FI1737631867613465"}, "name": "Main \u{1b}[2Jaccount", "currency": "EUR", "identification_hash": "h1", "identification_hashes": ["h1"]}],
        "aspsp": {"name": "Nordea", "country": "FI"},
        "psu_type": "personal",
        "access": {"valid_until": "2027-03-06T12:00:00+00:00"},
    });
    fixture.reply("/sessions", Reply::json(&session.to_string()));
}

/// `payguard enablebanking-link ARGS`, answering its question with what `paste` makes of the
/// `state` it sent in `POST /auth` (when it gets that far).
async fn link(fixture: &Fixture, key: &Path, args: &[&str], paste: impl Fn(&str) -> String) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("enablebanking-link")
        .args(["--api-base", &fixture.url(""), "--application-id", APPLICATION, "--private-key"])
        .arg(key)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run payguard");
    let mut stdin = child.stdin.take().expect("stdin");
    if args.contains(&"--bank") {
        fixture.wait_for("POST /auth", |seen| seen.iter().any(|s| s.path == "/auth")).await;
        let auth: Value = serde_json::from_str(&on(fixture, "/auth")[0].body).expect("a JSON /auth body");
        stdin.write_all(paste(auth["state"].as_str().expect("a state")).as_bytes()).expect("paste");
    }
    drop(stdin);
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait")).await.expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_a_bank_writes_the_session_and_prints_the_accounts_and_config_lines() {
    let fixture = Fixture::start().await;
    serve_link(&fixture);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = key_file(dir.path());
    let out = dir.path().join("session");

    let listed = link(&fixture, &key, &["--country", "fi"], |_| String::new()).await;
    let said = support::stdout_of(&listed);
    assert!(said.contains("Nordea") && said.contains("S-Pankki") && said.contains("up to 90 days"), "{said}");
    assert_eq!(on(&fixture, "/aspsps")[0].query, "country=FI");

    let args = ["--country", "FI", "--bank", "Nordea", "--redirect-url", "https://localhost/cb", "--out"];
    let mut args: Vec<&str> = args.to_vec();
    let out_text = out.display().to_string();
    args.push(&out_text);
    let linked =
        link(&fixture, &key, &args, |state| format!("https://localhost/cb?state={state}&code=code-5f1e\n")).await;
    let said = support::stdout_of(&linked);
    assert!(said.contains("https://tilisy.enablebanking.com/welcome?sessionid=73100c65"), "{said}");
    assert!(said.contains("at most 90 days"), "the 180 days asked for are cut to the bank's 90: {said}");
    assert!(said.contains(ACCOUNT) && said.contains("FI17…3465") && said.contains("Main \\u{1b}[2Jaccount"), "{said}");
    assert!(
        said.contains("kind = \"enablebanking\"") && said.contains(&format!("session_id = \"${{file:{out_text}}}\"")),
        "{said}"
    );
    assert!(said.contains(&format!("id = \"{ACCOUNT}\"")), "{said}");
    let everything = format!("{said}{}", String::from_utf8_lossy(&linked.stderr));
    assert!(
        !everything.contains(SESSION) && !everything.contains("code-5f1e") && !everything.contains("eyJ"),
        "{everything}"
    );
    assert_eq!(std::fs::read_to_string(&out).expect("the session file"), SESSION);
    assert_eq!(std::fs::metadata(&out).expect("metadata").permissions().mode() & 0o777, 0o600);

    let auth: Value = serde_json::from_str(&on(&fixture, "/auth")[0].body).expect("JSON");
    assert_eq!(auth["aspsp"], json!({"name": "Nordea", "country": "FI"}));
    assert_eq!(
        (auth["redirect_url"].as_str(), auth["psu_type"].as_str()),
        (Some("https://localhost/cb"), Some("personal"))
    );
    let until =
        DateTime::parse_from_rfc3339(auth["access"]["valid_until"].as_str().expect("valid_until")).expect("RFC 3339");
    assert!(((until.with_timezone(&Utc) - Utc::now()) - TimeDelta::days(90)).num_seconds().abs() < 60, "{until}");
    let created: Value = serde_json::from_str(&on(&fixture, "/sessions")[0].body).expect("JSON");
    assert_eq!(created, json!({"code": "code-5f1e"}));
    verified(&fixture.seen());

    // Run again: the session file is not overwritten, and the bank is not asked.
    let asked = fixture.seen().len();
    let again = link(&fixture, &key, &args, |_| String::new()).await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(fixture.seen().len(), asked);
    assert_eq!(std::fs::read_to_string(&out).expect("the session file"), SESSION);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_near_its_end_is_warned_of_and_shown_by_status() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    fixture.reply(
        &session_path(),
        Reply::json(&session("AUTHORIZED", Utc::now() + TimeDelta::days(4) + TimeDelta::hours(1))),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = binary_config(&fixture, dir.path());
    let found: Vec<Value> = support::stdout_of(&support::run(&config, &["once", "--json"]).await)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let warned: Vec<(&str, &str)> =
        found.iter().map(|f| (f["kind"].as_str().unwrap_or(""), f["severity"].as_str().unwrap_or(""))).collect();
    assert_eq!(warned, [("consent_expiry", "warning")], "{found:?}");
    assert!(found[0]["title"].as_str().unwrap_or("").contains("ends in 4 days"), "{found:?}");
    let status = support::stdout_of(&support::run(&config, &["status"]).await);
    assert!(status.contains("access granted by the bank ends"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_polls_enablebanking_on_its_schedule_and_status_tells() {
    let fixture = Fixture::start().await;
    serve(&fixture);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = binary_config(&fixture, dir.path());
    let every_second = std::fs::read_to_string(&config).expect("config").replace("5 1,7,13,19 * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    let mut daemon = support::daemon(&config).spawn().expect("start payguard run");
    let balances = balances_path();
    fixture.wait_for("two scheduled polls", |seen| seen.iter().filter(|s| s.path == balances).count() >= 2).await;
    support::signal(&daemon, "TERM");
    let stopped = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    assert_eq!(stopped.code(), Some(0));
    verified(&fixture.seen()); // every request carried a valid token (it panics otherwise)

    let status = support::stdout_of(&support::run(&config, &["status"]).await);
    assert!(status.contains("eu-bank (enablebanking): ok"), "{status}");
    assert!(status.contains("10520.75 EUR"), "{status}");
    assert!(status.contains("access granted by the bank ends"), "{status}");
}
