//! The daemon and the demo as a person runs them: `payguard run` polls on its cron schedule and stops
//! cleanly on SIGTERM with everything stored; `payguard demo` plays its incident and reports it.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use payguard::model::AccountRef;
use payguard::sim::{Advance, Simulator, demo_script};
use payguard::store::Store;

/// Only guards against a hang; the runs take a few seconds.
const BOUND: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn run_polls_on_schedule_and_stops_cleanly_on_sigterm() {
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let config = dir.path().join("payguard.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"sim-bank\"\nkind = \"simplefin\"\naccess_url = \"{}\"\nschedule = \"* * * * * *\"\n\n[[account]]\nsource = \"sim-bank\"\nid = \"ACT-1\"\n",
            state.display(),
            sim.access_url()
        ),
    )
    .expect("write config");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start payguard run");

    // Two polls served means the schedule fires repeatedly.
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= 2)).await.expect("two polls in time").expect("watch");
    let status = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || {
        let _ = daemon.stdout.take();
        daemon.wait_with_output()
    })
    .await
    .expect("join")
    .expect("wait for payguard");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM: stopping") && stderr.contains("payguard stopped"), "{stderr}");

    // Everything the polls learned is in the store after the stop.
    let store = Store::open(&state).expect("the store opens after a clean stop");
    let account = AccountRef::new("sim-bank", "ACT-1");
    let stored = store.transactions_between(&account, chrono::Utc::now() - chrono::TimeDelta::days(2), None);
    assert!(stored.expect("read").len() >= 5, "the baseline's five transactions are stored");
    let record = store.account(&account).expect("read").expect("the account was polled");
    assert!(record.last_poll_at > record.first_poll_at, "polled more than once");
}

#[test]
fn the_demo_plays_its_incident_and_says_each_problem_once() {
    let output = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("demo")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("── the demo is over\n"), "finished its story, not its time limit:\n{stdout}");
    let summary = stdout.lines().find(|l| l.starts_with("payguard detected:")).expect("a summary line");
    for kind in ["balance_drop ×1", "new_payee ×3", "velocity ×1", "duplicate_charge ×1", "low_balance ×1"] {
        assert!(summary.contains(kind), "{kind} missing from: {summary}");
    }
    // Each alert id is printed once: ongoing problems are not repeated on later polls.
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Alert "))
        .map(|rest| rest.split(' ').next().unwrap_or_default())
        .collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "{stdout}");
    assert!(ids.len() >= 7, "{stdout}");
}
