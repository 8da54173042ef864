//! The detection gaps of a theft, end to end: the real binary polls the simulated bank over HTTP,
//! stores in sled and judges what it sees. A transfer to a card never paid before is a new payee;
//! a pending charge that posts for more, to someone else, is judged on what posted.

use crate::support;

use std::path::{Path, PathBuf};

use payguard::sim::{Advance, Event, Script, Simulator, Step, demo_script};
use rust_decimal::Decimal;
use serde_json::Value;

fn event(payee: &str, cents: i64, minutes_ago: i64) -> Event {
    Event {
        account: "ACT-1".into(),
        amount: Decimal::new(cents, 2),
        payee: payee.into(),
        description: if cents < 0 { "Card payment" } else { "Transfer in" }.into(),
        minutes_ago,
        pending: false,
        id: None,
    }
}

/// The demo's account with a story of its own, one step per poll.
fn script(steps: Vec<Vec<Event>>) -> Script {
    let steps = steps.into_iter().enumerate().map(|(i, events)| Step { caption: format!("step {i}"), events });
    Script { steps: steps.collect(), ..demo_script() }
}

/// The shared simulated-bank config with `large_debit = 1000.00` and a console channel.
fn config(dir: &Path, sim: &Simulator) -> PathBuf {
    let rest = "large_debit = \"1000.00\"\n\n[[channel]]\nname = \"terminal\"\nkind = \"console\"\n";
    support::sim_config(dir, &sim.access_url(), "0 * * * *", rest)
}

/// Applies the next step and runs `payguard once --json`: what it found, as JSON objects.
async fn poll(sim: &Simulator, config: &Path) -> Vec<Value> {
    assert!(sim.advance(), "the script has a step left");
    findings(config).await
}

async fn findings(config: &Path) -> Vec<Value> {
    let stdout = support::stdout_of(&support::run(config, &["once", "--json"]).await);
    stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

fn kinds(findings: &[Value]) -> Vec<&str> {
    let mut kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    kinds.sort_unstable();
    kinds
}

fn of_kind<'a>(findings: &'a [Value], kind: &str) -> &'a Value {
    findings.iter().find(|f| f["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {findings:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_to_a_card_never_paid_is_a_new_payee() {
    let sim = Simulator::start(
        script(vec![
            vec![event("ACME Corp Payroll", 320_000, 600), event("Transfer 6222****5678", -20_000, 300)],
            // The card paid before, written another way, with a reference: the same payee.
            vec![event("TRANSFER 6222 **** **** 5678 20261206", -15_000, 2)],
            vec![event("Transfer 6222****9999", -20_000, 1)],
        ]),
        Advance::Manual,
    )
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &sim);
    assert_eq!(poll(&sim, &config).await, Vec::<Value>::new(), "the baseline");
    assert_eq!(poll(&sim, &config).await, Vec::<Value>::new(), "the card paid before");
    let found = poll(&sim, &config).await;
    assert_eq!(kinds(&found), ["new_payee"], "{found:?}");
    assert_eq!(of_kind(&found, "new_payee")["payees"], serde_json::json!(["Transfer 6222****9999"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_charge_that_posts_as_a_theft_is_judged_on_what_posted() {
    let hold =
        |payee: &str, cents: i64, pending: bool| Event { pending, id: Some("hold-1".into()), ..event(payee, cents, 1) };
    let sim = Simulator::start(
        script(vec![
            vec![event("ACME Corp Payroll", 320_000, 600), event("Coffee Shop", -450, 300)],
            vec![hold("Coffee Shop", -100, true)],
            vec![hold("Thief Ltd", -160_000, false)],
            vec![],
        ]),
        Advance::Manual,
    )
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &sim);
    assert_eq!(poll(&sim, &config).await, Vec::<Value>::new(), "the baseline");
    assert_eq!(poll(&sim, &config).await, Vec::<Value>::new(), "a small hold at a known café");

    let found = poll(&sim, &config).await;
    // The balance dropped by what posted, which the posting explains: no unexplained_change.
    assert_eq!(kinds(&found), ["balance_drop", "large_debit", "new_payee"], "{found:?}");
    let large = of_kind(&found, "large_debit");
    assert_eq!((&large["amount"], &large["payees"][0]), (&Value::from("1600.00"), &Value::from("Thief Ltd")));
    assert_eq!(of_kind(&found, "new_payee")["payees"], serde_json::json!(["Thief Ltd"]));
    let payees = support::stdout_of(&support::run(&config, &["payees", "ACT-1"]).await);
    assert!(payees.contains("Thief Ltd"), "the payee it went to is learned: {payees}");

    // Polled again, the posting is not news: each event is said once.
    assert_eq!(poll(&sim, &config).await, Vec::<Value>::new());
}
