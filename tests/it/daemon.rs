//! The daemon and the demo as a person runs them: `payguard run` polls on its cron schedule and stops
//! cleanly on SIGTERM with everything stored; `payguard demo` plays its incident and reports it.

use crate::support;

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
    let mut daemon = support::daemon(&config).stderr(Stdio::piped()).spawn().expect("start payguard run");

    // Two polls served means the schedule fires repeatedly.
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= 2)).await.expect("two polls in time").expect("watch");
    support::signal(&daemon, "TERM");
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
    // This binary is a build in the checkout's target/, not on PATH: the last line says how to run
    // it from the checkout.
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_payguard"));
    let profile = exe.parent().and_then(|p| p.file_name()).and_then(|p| p.to_str()).expect("target/<profile>/");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains("`cargo run ") && last.contains("-- check --config config/payguard.example.toml`"), "{last}");
    assert!(
        last.contains(&format!("`target/{profile}/payguard check --config config/payguard.example.toml`")),
        "{last}"
    );
}

/// The alert ids in the webhook bodies of `requests`: a message's own, or its incident's alerts'.
fn alert_ids(requests: &[support::Seen]) -> Vec<String> {
    let id = |v: &serde_json::Value| v["alert_id"].as_str().map(str::to_owned);
    requests
        .iter()
        .filter(|r| r.path == "/hook")
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .flat_map(|body| match body["alerts"].as_array() {
            Some(alerts) => alerts.iter().filter_map(id).collect(),
            None => id(&body).into_iter().collect::<Vec<_>>(),
        })
        .collect()
}

/// A webhook channel at `url` whose incidents wait a second, not the default 30 s: these tests
/// run a real daemon against the wall clock.
fn hook_channel(url: &str) -> String {
    format!(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n\n[alerts]\ngroup_wait = \"1s\"\ngroup_interval = \"1s\"\n"
    )
}

fn start_daemon(config: &std::path::Path) -> std::process::Child {
    support::daemon(config).spawn().expect("start payguard run")
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_owed_at_a_crash_go_out_once_after_the_restart() {
    let receiver = support::Fixture::start().await;
    receiver.reply("/hook", support::Reply::status(503, "down for maintenance"));
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let hook = hook_channel(&receiver.url("/hook"));
    let config = support::sim_config(dir.path(), &sim.access_url(), "* * * * * *", &hook);

    // The theft owes five alerts and the double charge one more; the receiver refuses them all.
    let mut first = start_daemon(&config);
    let distinct = |requests: &[support::Seen]| alert_ids(requests).into_iter().collect::<HashSet<_>>().len();
    receiver.wait_for("a failed attempt at each of the six alerts", |seen| distinct(seen) >= 6).await;
    first.kill().expect("SIGKILL the daemon");
    first.wait().expect("reap the daemon");

    // The receiver is back; a new daemon delivers what the dead one owed, each alert once.
    receiver.reply("/hook", support::Reply::json("{}"));
    let before = receiver.seen().len();
    let second = start_daemon(&config);
    receiver.wait_for("the six alerts delivered", |seen| distinct(&seen[before..]) >= 6).await;
    support::signal(&second, "TERM");
    let output = tokio::task::spawn_blocking(move || second.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(output.status.code(), Some(0));

    let after = alert_ids(&receiver.seen()[before..]);
    let unique: HashSet<&String> = after.iter().collect();
    assert_eq!(after.len(), unique.len(), "an alert was delivered twice after the restart: {after:?}");
    let store = Store::open(&state).expect("the store opens");
    assert!(store.pending_deliveries().expect("outbox").is_empty(), "nothing is still owed");
    let log = store.delivery_log(chrono::Utc::now() - chrono::TimeDelta::hours(1)).expect("log");
    assert_eq!(log.iter().filter(|r| r.outcome == payguard::alert::outbox::Outcome::Delivered).count(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_delivery_in_flight_finish_then_exits_cleanly() {
    let receiver = support::Fixture::start().await;
    let (open, gate) = tokio::sync::watch::channel(false);
    receiver.reply("/hook", support::Reply::Gated { gate, then: Box::new(support::Reply::json("{}")) });
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let hook = hook_channel(&receiver.url("/hook"));
    let config = support::sim_config(dir.path(), &sim.access_url(), "* * * * * *", &hook);
    let mut daemon = support::daemon(&config).stderr(Stdio::piped()).spawn().expect("start payguard run");
    let stderr = daemon.stderr.take().expect("stderr is piped");
    let (lines_in, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = lines_in.send(line);
        }
    });

    // The first alert is on its way to the receiver, which holds it unanswered.
    receiver.wait_for("a delivery in flight", |seen| seen.iter().any(|r| r.path == "/hook")).await;
    let in_flight = alert_ids(&receiver.seen()).into_iter().next().expect("the delivery names its alert");
    support::signal(&daemon, "TERM");
    let mut logged = Vec::new();
    while !logged.iter().any(|l: &String| l.contains("SIGTERM: stopping")) {
        logged.push(lines.recv_timeout(BOUND).expect("the daemon logs the SIGTERM in time"));
    }

    // Only now does the receiver answer: the daemon waited for it.
    open.send_replace(true);
    let exit = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    logged.extend(lines.iter());
    assert_eq!(exit.code(), Some(0), "{}", logged.join("\n"));
    assert!(logged.iter().any(|l| l.contains("payguard stopped")), "{}", logged.join("\n"));

    let store = Store::open(&dir.path().join("state")).expect("the store reopens clean");
    let log = store.delivery_log(chrono::Utc::now() - chrono::TimeDelta::hours(1)).expect("log");
    let finished = log.iter().find(|r| r.alert_id == in_flight).expect("the delivery in flight is recorded");
    assert_eq!(finished.outcome, payguard::alert::outbox::Outcome::Delivered, "{finished:?}");
}

#[tokio::test]
async fn a_reload_swaps_schedules_but_refuses_to_move_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = support::sim_config_text(dir.path(), "http://127.0.0.1:9/simplefin", "0 * * * *", "");
    let config = payguard::config::Config::parse(&text, std::path::Path::new("payguard.toml")).expect("config");
    std::fs::create_dir_all(&config.daemon.state_dir).expect("state dir");
    let store = Store::open(&config.daemon.state_dir).expect("store");
    let engine =
        payguard::daemon::Engine::new(config, store, payguard::notify::Stream::Stderr, payguard::daemon::Clock::System)
            .expect("engine");

    let faster = payguard::config::Config::parse(&text.replace("0 * * * *", "*/5 * * * *"), "payguard.toml".as_ref());
    let next = engine.reconfigure(faster.expect("config")).expect("the same store takes a new schedule");
    assert_eq!(next.source_config(0).expect("a source").schedule.as_str(), "*/5 * * * *");

    let elsewhere = dir.path().join("elsewhere").to_string_lossy().replace('\\', "\\\\");
    let moved = text.replace(&*dir.path().join("state").to_string_lossy(), &elsewhere);
    let moved = payguard::config::Config::parse(&moved, "payguard.toml".as_ref()).expect("config");
    let refused = engine.reconfigure(moved).err().expect("moving the store needs a restart");
    assert!(refused.to_string().contains("state_dir") && refused.to_string().contains("restart"), "{refused}");
}
