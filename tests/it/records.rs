//! The commands that read the record back: status, history, alerts, payees and trust, against a
//! store filled by real polls of the simulated bank.

use crate::support;

use support::{run, stdout_of as stdout};

use std::path::Path;

use payguard::sim::{Advance, Simulator, demo_script};

/// Polls the simulated bank through the theft (four `once` runs).
async fn through_the_theft(sim: &Simulator, config: &Path) {
    for _ in 0..4 {
        sim.advance();
        assert_eq!(run(config, &["once"]).await.status.code(), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn history_holds_exactly_the_stored_transactions_in_every_format() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 * * * *", "");
    through_the_theft(&sim, &config).await;

    let csv = stdout(&run(&config, &["history", "ACT-1", "--format", "csv", "--since", "2d"]).await);
    let rows: Vec<&str> = csv.lines().filter(|l| l.starts_with("transaction,")).collect();
    // Baseline 5, groceries 1, theft 4: each once, amounts exact.
    assert_eq!(rows.len(), 10, "{csv}");
    assert!(rows.iter().any(|r| r.contains(",-720.00,") && r.contains("Crypto Swap Ltd")), "{csv}");
    assert!(rows.iter().any(|r| r.contains(",-45.20,") && r.contains("Grocer's Market")), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("balance,")).count(), 4, "one balance per poll");

    let json = stdout(&run(&config, &["history", "ACT-1", "--format", "json"]).await);
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.iter().filter(|l| l["type"] == "transaction").count(), 10);
    assert!(lines.iter().any(|l| l["transaction"]["amount"] == "-650.00"));

    let table = stdout(&run(&config, &["history", "ACT-1"]).await);
    assert!(table.contains("sim-bank/ACT-1: 4 balance(s), 10 transaction(s)"), "{table}");
    let unknown = run(&config, &["history", "ACT-9"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no [[account]] has the id \"ACT-9\""));
    let bad_time = run(&config, &["history", "ACT-1", "--since", "last tuesday"]).await;
    assert!(String::from_utf8_lossy(&bad_time.stderr).contains("is not a time"));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_alerts_report_what_happened() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 * * * *", "");
    through_the_theft(&sim, &config).await;

    let status: serde_json::Value =
        serde_json::from_str(&stdout(&run(&config, &["status", "--json"]).await)).expect("json");
    assert_eq!(status["sources"][0]["state"], "ok");
    assert_eq!(status["sources"][0]["requests_left_today"], 20, "4 of SimpleFIN's 24 used");
    assert_eq!(status["accounts"][0]["balance"], "474.70");
    assert_eq!(status["accounts"][0]["last_change"], "-2150.00");
    let firing: Vec<&str> =
        status["firing"].as_array().expect("firing").iter().filter_map(|a| a["kind"].as_str()).collect();
    assert!(firing.contains(&"balance_drop") && firing.contains(&"new_payee"), "{firing:?}");

    let alerts = stdout(&run(&config, &["alerts"]).await);
    assert!(alerts.contains("balance_drop") && alerts.contains("firing"), "{alerts}");
    let text = stdout(&run(&config, &["status"]).await);
    assert!(text.contains("sim-bank (simplefin): ok") && text.contains("474.70 USD (last change -2150.00)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_payee_is_listed_and_never_alerted() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 * * * *", "");
    // Baseline, then trust one of the thieves ahead of time (say, a friend's exchange account).
    sim.advance();
    assert_eq!(run(&config, &["once"]).await.status.code(), Some(0));
    let trusted = stdout(&run(&config, &["trust", "ACT-1", "Crypto Swap Ltd"]).await);
    assert!(trusted.contains("will not raise new_payee"), "{trusted}");
    for _ in 0..3 {
        sim.advance();
    }
    let theft = run(&config, &["once", "--json"]).await;
    let payees: Vec<String> = String::from_utf8_lossy(&theft.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|f| f["kind"] == "new_payee")
        .filter_map(|f| f["payees"][0].as_str().map(str::to_owned))
        .collect();
    assert_eq!(payees.len(), 2, "{payees:?}");
    assert!(!payees.contains(&"Crypto Swap Ltd".to_owned()));

    // Trusting is a write like any other: it is in the audit chain, and the chain holds.
    assert!(stdout(&run(&config, &["verify"]).await).starts_with("audit chain intact"));
    let listed = stdout(&run(&config, &["payees", "ACT-1"]).await);
    let line = listed.lines().find(|l| l.contains("Crypto Swap Ltd")).expect("listed");
    assert!(line.trim_end().ends_with("yes"), "{line}");
    let landlord = listed.lines().find(|l| l.contains("Landlord Co")).expect("listed");
    assert!(landlord.contains(" 1 "), "paid once: {landlord}");
}
