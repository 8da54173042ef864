//! The alert pipeline's commands as a person types them: notify-test, silence and ack, and the
//! times and durations the record's commands take, and which commands need the config's secrets.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use payguard::sim::{Advance, Simulator, demo_script};
use support::{Fixture, Reply};

fn payguard(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payguard")).arg("--config").arg(config).args(args).output().expect("run payguard")
}

async fn payguard_async(config: PathBuf, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        payguard(&config, &args)
    })
    .await
    .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_config(dir: &Path, access_url: &str, channels: &str) -> PathBuf {
    support::sim_config(dir, access_url, "0 * * * *", channels)
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_test_reports_each_channel_and_fails_if_one_does() {
    let receiver = Fixture::start().await;
    receiver.reply("/good", Reply::json("{}"));
    receiver.reply("/bad", Reply::status(500, "broken"));
    let dir = tempfile::tempdir().expect("temp dir");
    let channels = format!(
        "[[channel]]\nname = \"good\"\nkind = \"webhook\"\nurl = \"{}\"\n\n[[channel]]\nname = \"bad\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        receiver.url("/good"),
        receiver.url("/bad")
    );
    let config = write_config(dir.path(), "https://bridge.example.com/simplefin", &channels);

    let all = payguard_async(config.clone(), &["notify-test"]).await;
    assert_eq!(all.status.code(), Some(1), "{}", text(&all.stderr));
    let stdout = text(&all.stdout);
    assert!(stdout.contains("ok      good (webhook)"), "{stdout}");
    assert!(
        stdout.contains("FAILED  bad (webhook)") && stdout.contains("HTTP 500") && stdout.contains("temporary"),
        "{stdout}"
    );
    let sent = receiver.seen().into_iter().find(|s| s.path == "/good").expect("the good channel got a message");
    let body: serde_json::Value = serde_json::from_str(&sent.body).expect("json");
    assert_eq!((body["test"].as_bool(), body["channel"].as_str()), (Some(true), Some("good")));

    let one = payguard_async(config.clone(), &["notify-test", "--channel", "good"]).await;
    assert_eq!(one.status.code(), Some(0));
    assert!(!text(&one.stdout).contains("bad"));
    let unknown = payguard_async(config, &["notify-test", "--channel", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no [[channel]] is named \"nope\""));
}

#[test]
fn silences_are_added_listed_and_expired() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), "https://bridge.example.com/simplefin", "");

    let none = payguard(&config, &["silence", "add", "--for", "2h"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).contains("at least one of --account, --source or --kind"));
    let bad_kind = payguard(&config, &["silence", "add", "--kind", "theft", "--for", "2h"]);
    assert_eq!(bad_kind.status.code(), Some(2), "clap rejects it");
    assert!(text(&bad_kind.stderr).contains("expected one of balance_drop"));

    let added = payguard(
        &config,
        &["silence", "add", "--account", "ACT-1", "--kind", "new_payee", "--for", "2h", "--comment", "moving house"],
    );
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    let id = text(&added.stdout).split_whitespace().nth(1).expect("an id").to_owned();
    let listed = text(&payguard(&config, &["silence", "list"]).stdout);
    assert!(
        listed.contains(&id) && listed.contains("account=ACT-1 kind=new_payee") && listed.contains("moving house"),
        "{listed}"
    );

    assert_eq!(payguard(&config, &["silence", "expire", &id]).status.code(), Some(0));
    assert!(text(&payguard(&config, &["silence", "list"]).stdout).contains("no silences in force"));
    assert!(text(&payguard(&config, &["silence", "list", "--all"]).stdout).contains(&id));
    let missing = payguard(&config, &["silence", "expire", "deadbeef"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn absurd_durations_and_ages_are_config_errors_not_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), "https://bridge.example.com/simplefin", "");
    let out = dir.path().join("evidence");
    let out = out.to_str().expect("a UTF-8 path");
    for (args, names) in [
        (&["silence", "add", "--account", "ACT-1", "--for", "9999999999w"][..], "--for"),
        (&["history", "ACT-1", "--since", "9999999999w"][..], "--since"),
        (&["history", "ACT-1", "--until", "9999999999w"][..], "--until"),
        (&["export", "--account", "ACT-1", "--since", "9999999999w", "--out", out][..], "--since"),
    ] {
        let output = payguard(&config, args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{names}: \"9999999999w\" is too long")) && stderr.contains("at most 36500d"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Nothing was silenced, and the longest allowed silence is taken.
    assert!(text(&payguard(&config, &["silence", "list", "--all"]).stdout).contains("no silences"));
    let century = payguard(&config, &["silence", "add", "--account", "ACT-1", "--for", "36500d"]);
    assert_eq!(century.status.code(), Some(0), "{}", text(&century.stderr));
}

/// The simulated bank through the theft, polled by `payguard once` at each step, with the alerts
/// that left in the store: (the bank, the folder, the config, the alerts).
async fn after_the_theft() -> (Simulator, tempfile::TempDir, PathBuf, Vec<payguard::alert::Alert>) {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &sim.access_url(), "");
    for _ in 0..4 {
        sim.advance();
        assert_eq!(payguard_async(config.clone(), &["once"]).await.status.code(), Some(0));
    }
    let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
    let alerts = store.all_alerts().expect("alerts");
    drop(store);
    (sim, dir, config, alerts)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledged_alert_is_found_by_its_id() {
    let (_sim, dir, config, alerts) = after_the_theft().await;
    // The id a person would read at the end of the message.
    let alert = alerts.into_iter().find(|a| a.kind().as_str() == "balance_drop").expect("a drop");

    let acked = payguard_async(config.clone(), &["ack", &alert.id]).await;
    assert_eq!(acked.status.code(), Some(0), "{}", text(&acked.stderr));
    assert!(text(&acked.stdout).contains("will not be repeated"));
    let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
    let stored = store.all_alerts().expect("alerts").into_iter().find(|a| a.id == alert.id).expect("still there");
    assert!(stored.acknowledged_at.is_some());
    drop(store);

    let unknown = payguard_async(config, &["ack", "000000000000"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no alert has the id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_id_acknowledges_every_alert_of_it_and_the_table_shows_it() {
    let (sim, dir, config, theft) = after_the_theft().await;
    let incident = theft.iter().find_map(|a| a.incident.clone()).expect("the theft is an incident");
    assert!(theft.len() >= 5 && theft.iter().all(|a| a.incident.as_ref() == Some(&incident)), "{theft:?}");
    let table = text(&payguard_async(config.clone(), &["alerts"]).await.stdout);
    assert!(table.lines().next().is_some_and(|h| h.contains("incident")), "{table}");
    assert_eq!(table.matches(incident.as_str()).count(), theft.len(), "{table}");

    let acked = payguard_async(config.clone(), &["ack", &incident]).await;
    assert_eq!(acked.status.code(), Some(0), "{}", text(&acked.stderr));
    assert!(text(&acked.stdout).contains(&format!("acknowledged incident {incident}")), "{}", text(&acked.stdout));
    let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
    assert!(store.all_alerts().expect("alerts").iter().all(|a| a.acknowledged_at.is_some()));
    drop(store);

    // Acknowledged, the incident is closed: the double charge that follows opens another.
    sim.advance();
    assert_eq!(payguard_async(config.clone(), &["once"]).await.status.code(), Some(0));
    let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
    let double = store.all_alerts().expect("alerts").into_iter().find(|a| a.acknowledged_at.is_none()).expect("new");
    drop(store);
    assert!(double.incident.as_ref().is_some_and(|i| *i != incident), "{double:?}");

    let unknown = payguard_async(config, &["ack", "i-0000000000"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no incident has the id"), "{}", text(&unknown.stderr));
}

/// The README's system service setup: secrets as `${credential:…}`, which exist only inside the
/// unit. An admin's shell has no `$CREDENTIALS_DIRECTORY`.
#[test]
fn only_the_commands_that_send_need_the_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(
        dir.path(),
        "${credential:simplefin-url}",
        "0 * * * *",
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"${credential:hook}\"\n",
    );
    let shell = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_payguard"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("RUST_LOG")
            .output()
            .expect("run payguard")
    };
    let out = dir.path().join("evidence");
    let out = out.to_str().expect("a UTF-8 path");
    for args in [
        &["status"][..],
        &["history", "ACT-1"],
        &["alerts"],
        &["payees", "ACT-1"],
        &["trust", "ACT-1", "Landlord"],
        &["silence", "add", "--account", "ACT-1", "--for", "1h"],
        &["silence", "list"],
        &["verify"],
        &["export", "--account", "ACT-1", "--since", "30d", "--out", out],
    ] {
        let output = shell(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stderr));
        assert!(!text(&output.stderr).contains("credential"), "{args:?}: {}", text(&output.stderr));
    }
    let ack = shell(&["ack", "deadbeef"]);
    assert_eq!(ack.status.code(), Some(1), "no such alert, and no config error: {}", text(&ack.stderr));
    assert!(text(&ack.stderr).contains("no alert has the id"), "{}", text(&ack.stderr));
    // reload only asks the daemon: with none running it says so, not that a secret is missing.
    let reload = shell(&["reload"]);
    assert_eq!(reload.status.code(), Some(75), "{}", text(&reload.stderr));
    assert!(text(&reload.stderr).contains("no daemon listens"), "{}", text(&reload.stderr));

    // check names what it could not check here, and passes.
    let check = shell(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let stdout = text(&check.stdout);
    for name in ["simplefin-url", "hook"] {
        let warning = format!(
            "warning: `${{credential:{name}}}` is not checked here: $CREDENTIALS_DIRECTORY is set only inside the systemd unit"
        );
        assert!(stdout.contains(&warning), "{warning:?} not in {stdout}");
    }
    // What sends requests fails fast, at the reference.
    for args in [&["once"][..], &["run"], &["notify-test"]] {
        let output = shell(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{args:?}: {stderr}");
        assert!(stderr.contains("needs $CREDENTIALS_DIRECTORY"), "{args:?}: {stderr}");
    }

    // A reference that is wrong anywhere is still an error for check, beside a credential too.
    let text_with_missing_file = std::fs::read_to_string(&config)
        .expect("read the config")
        .replace("${credential:hook}", "https://${file:/nonexistent/payguard-hook}/${credential:hook}");
    std::fs::write(&config, text_with_missing_file).expect("write the config");
    let check = shell(&["check"]);
    assert_eq!(check.status.code(), Some(78), "{}", text(&check.stderr));
    assert!(
        text(&check.stderr).contains("cannot read secret file /nonexistent/payguard-hook"),
        "{}",
        text(&check.stderr)
    );
    // And the commands that do not send still work.
    assert_eq!(shell(&["status"]).status.code(), Some(0));
}

/// `payees --recurring` turns a year of history into `[[account.expected]]` rules; pasted under
/// the account as printed, they are a config `check` accepts and states. A payee named to break
/// out of its TOML string stays inside it.
#[test]
fn payees_recurring_suggests_rules_the_config_takes() {
    use chrono::{Datelike, TimeDelta, Utc};
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), "https://bridge.example.com/simplefin", "");
    let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
    let account = payguard::model::AccountRef::new("sim-bank", "ACT-1");
    let today = Utc::now().date_naive();
    let mut seen = Vec::new();
    for back in 1..=5 {
        let month = today.checked_sub_months(chrono::Months::new(back)).expect("a month");
        let on = |day: u32| month.with_day(day).expect("a day").and_hms_opt(8, 0, 0).expect("a time").and_utc();
        let payment = |id: String, day: u32, amount: &str, payee: &str| payguard::model::Transaction {
            posted: on(day),
            ..support::records::tx(&id, 0, amount, payee)
        };
        seen.push(payment(format!("s{back}"), 25, "3000.00", "ACME GmbH"));
        seen.push(payment(format!("r{back}"), 1, "-1200.00", "Evil\" = 1\n[x]"));
    }
    let observation = payguard::model::Observation {
        account: account.clone(),
        name: None,
        snapshot: support::records::observation(account.clone(), Utc::now(), "100", vec![]).snapshot,
        transactions: seen,
        balance: payguard::model::BalanceSource::Platform,
    };
    store.ingest(&observation, &[], &[], Utc::now() - TimeDelta::days(200)).expect("ingest");
    drop(store);

    let output = payguard(&config, &["payees", "ACT-1", "--recurring"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let said = text(&output.stdout);
    assert!(said.starts_with("sim-bank/ACT-1: 2 payment(s) seen monthly"), "{said}");
    let rules: String = said.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert!(rules.contains("day = 25\namount = \"3000.00\""), "{said}");
    let mut text_of_config = std::fs::read_to_string(&config).expect("config");
    text_of_config.push_str(&rules);
    std::fs::write(&config, text_of_config).expect("write");
    let check = payguard(&config, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}{}", text(&check.stdout), text(&check.stderr));
    let stated = text(&check.stdout);
    assert!(stated.contains("missing_payment: ACME GmbH: 3000.00 in from ACME GmbH around day 25"), "{stated}");
    assert!(stated.contains("amount_changed: Evil"), "{stated}");
}

/// On a `[daemon] timezone` other than UTC, the tables show each time on that clock with its
/// offset; the JSON keeps RFC 3339 in UTC.
#[test]
fn tables_show_times_on_the_configured_clock() {
    use chrono::Utc;
    let dir = tempfile::tempdir().expect("temp dir");
    let shanghai = support::sim_config_text(dir.path(), "https://bridge.example.com/simplefin", "0 * * * *", "")
        .replacen("[daemon]\n", "[daemon]\ntimezone = \"Asia/Shanghai\"\n", 1);
    let config = dir.path().join("payguard.toml");
    std::fs::write(&config, shanghai).expect("write the config");
    let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
    let account = payguard::model::AccountRef::new("sim-bank", "ACT-1");
    // 16:30 UTC two days ago: half past midnight the next day in Shanghai.
    let day = (Utc::now() - chrono::TimeDelta::days(2)).date_naive();
    let posted = day.and_hms_opt(16, 30, 0).expect("a time").and_utc();
    let coffee = payguard::model::Transaction { posted, ..support::records::tx("t1", 0, "-4.50", "Corner Cafe") };
    let observation = support::records::observation(account, Utc::now(), "100", vec![coffee]);
    store.ingest(&observation, &[], &[], Utc::now()).expect("ingest");
    drop(store);

    let table = text(&payguard(&config, &["history", "ACT-1"]).stdout);
    let local = (posted + chrono::TimeDelta::hours(8)).format("%Y-%m-%d 00:30 +08:00").to_string();
    assert!(table.contains(&local), "{local} in: {table}");
    let json = text(&payguard(&config, &["history", "ACT-1", "--format", "json"]).stdout);
    assert!(json.contains(&posted.format("%Y-%m-%dT16:30:00").to_string()), "{json}");
}
