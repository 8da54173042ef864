//! Bank text is hostile input. A bank (a fixture SimpleFIN server on loopback) reports a payment
//! to a payee named with a terminal escape sequence that clears the screen and prints "ALL CLEAR",
//! and a right-to-left override that makes `oC drolnaL` read `Landlord Co`.
//! A second payment goes to that name followed by a megabyte of padding, with a megabyte of
//! description. The real binary polls it; the payees must reach every surface escaped and clipped: the console,
//! the desktop (a recording notification server on a private D-Bus), SMS (Twilio's API on the
//! recording fixture), webhooks (ntfy, Slack, payguard's JSON) and the commands a person types
//! (`status`, `history`, `payees`, `alerts`). The store keeps the text as the bank sent it, cut to
//! the bound. E-mail is checked against the real SMTP server in `tests/it/email.rs`.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use payguard::model::AccountRef;
use payguard::store::Store;
use payguard::text::{STORED, is_hidden};
use serde_json::{Value, json};
use support::dbus::{Bus, serve_notifications};
use support::{Fixture, Reply};

/// Only guards against a hang; a passing run takes a fraction of it.
const BOUND: Duration = Duration::from_secs(60);
const HOSTILE: &str = "\u{1b}[2J\u{1b}[H\u{1b}[32mALL CLEAR \u{202e}oC drolnaL\u{200b}";
const SHOWN: &str = "\\u{1b}[2J\\u{1b}[H\\u{1b}[32mALL CLEAR \\u{202e}oC drolnaL\\u{200b}";
const SID: &str = "AC00000000000000000000000000000000";

fn long_payee() -> String {
    format!("{HOSTILE}{}", "Z".repeat(1 << 20))
}

/// A SimpleFIN answer for account ACT-1, its balance dated now, as a bridge that is up to date.
fn answer(balance: &str, transactions: Value) -> Reply {
    Reply::json(
        &json!({ "errors": [], "accounts": [{
            "id": "ACT-1", "name": "Checking", "currency": "USD", "balance": balance,
            "balance-date": chrono::Utc::now().timestamp(),
            "transactions": transactions,
        }]})
        .to_string(),
    )
}

fn config(dir: &Path, bank: &Fixture, receiver: &Fixture) -> std::path::PathBuf {
    let channels = format!(
        r#"
[[channel]]
name = "terminal"
kind = "console"

[[channel]]
name = "desktop"
kind = "desktop"

[[channel]]
name = "phone"
kind = "sms"
provider = "twilio"
account_sid = "{SID}"
auth_token = "twilio-token-1"
from = "+15005550006"
to = ["+491701234567"]
api_base = "{twilio}"

[[channel]]
name = "ntfy"
kind = "webhook"
preset = "ntfy"
url = "{ntfy}"

[[channel]]
name = "slack"
kind = "webhook"
preset = "slack"
url = "{slack}"

[[channel]]
name = "hook"
kind = "webhook"
url = "{hook}"
"#,
        twilio = receiver.url(""),
        ntfy = receiver.url("/ntfy"),
        slack = receiver.url("/slack"),
        hook = receiver.url("/hook"),
    );
    let access = bank.url_with_credentials("user", "pw", "/simplefin");
    support::sim_config(dir, &access, "*/5 * * * *", &channels)
}

/// Runs the real binary with the private bus as its session bus.
async fn payguard(config: &Path, bus: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.arg("--config").arg(config).args(args).env("DBUS_SESSION_BUS_ADDRESS", bus).stdin(Stdio::null());
    let output = tokio::time::timeout(BOUND, tokio::task::spawn_blocking(move || command.output()))
        .await
        .expect("payguard did not finish in time")
        .expect("the thread running payguard panicked")
        .expect("cannot run payguard");
    assert!(
        output.status.success(),
        "payguard {args:?} failed with {}; stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `shown` is what a person sees on `surface`: it must hold the payee escaped, and nothing hidden
/// but its own line breaks.
fn assert_escaped(surface: &str, shown: &str) {
    let hidden: Vec<char> = shown.chars().filter(|c| *c != '\n' && is_hidden(*c)).collect();
    let excerpt: String = shown.chars().take(3000).collect();
    assert!(hidden.is_empty(), "{surface} shows {hidden:?} as they are:\n{excerpt}");
    assert!(shown.contains(SHOWN), "{surface} does not show the payee escaped:\n{excerpt}");
    assert!(!shown.contains(&"Z".repeat(1000)), "{surface} shows the payee unclipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_payee_reaches_every_surface_escaped_and_clipped() {
    let bus = Bus::start();
    let (_server, mut desktop) = serve_notifications(&bus.address).await;
    let bank = Fixture::start().await;
    let receiver = Fixture::start().await;
    for path in ["/ntfy", "/slack", "/hook"] {
        receiver.reply(path, Reply::json("{}"));
    }
    receiver.reply(&format!("/2010-04-01/Accounts/{SID}/Messages.json"), Reply::json(r#"{"sid": "SM1"}"#));
    let grocer = json!({"id": "t1", "posted": 1_789_900_000, "amount": "-20.00", "payee": "Grocer"});
    let theft = json!({"id": "t2", "posted": 1_789_980_000, "amount": "-1600.00", "payee": HOSTILE});
    let long = long_payee();
    let padded = json!({"id": "t3", "posted": 1_789_980_001, "amount": "-5.00", "payee": long, "description": long});
    bank.reply_sequence("/simplefin/accounts", vec![answer("5000.00", json!([grocer]))]);
    bank.reply("/simplefin/accounts", answer("3395.00", json!([grocer, theft, padded])));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &bank, &receiver);

    let baseline = payguard(&config, &bus.address, &["once"]).await;
    assert!(baseline.stdout.is_empty(), "the baseline says nothing: {}", String::from_utf8_lossy(&baseline.stdout));
    let caught = payguard(&config, &bus.address, &["once"]).await;
    let console = String::from_utf8_lossy(&caught.stdout).into_owned();
    assert_escaped("the console", &console);

    // The desktop: one notification per message, each escaped.
    let shown = tokio::time::timeout(BOUND, desktop.wait_for(|all| !all.is_empty()))
        .await
        .expect("no notification arrived in time")
        .expect("the notification server stopped")
        .clone();
    let desktop: String = shown.iter().map(|n| format!("{}\n{}\n", n.summary, n.body)).collect();
    assert_escaped("the desktop", &desktop);

    let seen = receiver.seen();
    let body_of = |path: &str| -> String {
        seen.iter().filter(|s| s.path.ends_with(path)).map(|s| s.body.clone()).collect::<Vec<_>>().join("\n")
    };
    assert_escaped("ntfy", &body_of("/ntfy"));
    let slack: String = body_of("/slack")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("Slack JSON")["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_escaped("Slack", &slack);
    let sms: String = seen
        .iter()
        .filter(|s| s.path.ends_with("Messages.json"))
        .map(|s| {
            let url = reqwest::Url::parse(&format!("http://x/?{}", s.body)).expect("a form body");
            url.query_pairs().find(|(k, _)| k == "Body").map(|(_, v)| v.into_owned()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n");
    // One SMS for the incident: its most severe finding (the balance drop) and a count; the payee
    // is in the facts the other channels carry. What it shows is still clean.
    assert!(!sms.chars().any(|c| is_hidden(c) && c != '\n'), "the SMS shows hidden characters: {sms}");
    assert!(sms.contains("+2 more #i-"), "one SMS for the incident: {sms}");
    // payguard's own JSON keeps the stored text exactly, written so no terminal obeys it.
    let hook = body_of("/hook");
    assert!(!hook.chars().any(|c| c != '\n' && is_hidden(c)), "the webhook JSON carries hidden characters");
    let payees: Vec<String> = hook
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("payguard's JSON"))
        .flat_map(|v| v["alerts"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["payees"][0].as_str().map(str::to_owned))
        .collect();
    assert!(payees.iter().any(|p| p.starts_with(HOSTILE) && p.len() == STORED), "{:?}", payees.len());

    // The commands a person types.
    for args in [&["status"][..], &["history", "ACT-1", "--since", "2026-09-01"], &["payees", "ACT-1"], &["alerts"]] {
        let output = payguard(&config, &bus.address, args).await;
        assert_escaped(&format!("`payguard {}`", args.join(" ")), &String::from_utf8_lossy(&output.stdout));
    }

    // History as JSON lines keeps the exact text, written so no terminal obeys it.
    let lines =
        payguard(&config, &bus.address, &["history", "ACT-1", "--since", "2026-09-01", "--format", "json"]).await;
    let lines = String::from_utf8_lossy(&lines.stdout).into_owned();
    assert!(!lines.chars().any(|c| c != '\n' && is_hidden(c)), "history JSON carries hidden characters");
    let exact = lines
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .any(|v| v["transaction"]["payee"].as_str() == Some(HOSTILE));
    assert!(exact, "the payee is in the JSON exactly");

    // The store keeps what the bank sent, up to the bound.
    let store = Store::open(&dir.path().join("state")).expect("store");
    let kept = store.payees(&AccountRef::new("sim-bank", "ACT-1")).expect("payees");
    assert!(kept.iter().any(|p| p.name.starts_with(HOSTILE) && p.name.len() == STORED), "{} payees", kept.len());
}

/// The platform's own words in an error are shown escaped too: on `once`'s stderr and in `status`.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_platform_error_is_shown_escaped() {
    let bank = Fixture::start().await;
    let receiver = Fixture::start().await;
    bank.reply("/simplefin/accounts", Reply::json(&json!({ "errors": [HOSTILE], "accounts": [] }).to_string()));
    let dir = tempfile::tempdir().expect("temp dir");
    let access = bank.url_with_credentials("user", "pw", "/simplefin");
    let config = support::sim_config(dir.path(), &access, "*/5 * * * *", "");
    drop(receiver);

    let once = support::run(&config, &["once"]).await;
    assert_eq!(once.status.code(), Some(75), "a failed poll is a temporary failure");
    assert_escaped("`payguard once`'s stderr", &String::from_utf8_lossy(&once.stderr));
    let status = support::run(&config, &["status"]).await;
    assert_eq!(status.status.code(), Some(75), "the source is failing");
    assert_escaped("`payguard status`", &String::from_utf8_lossy(&status.stdout));
}
