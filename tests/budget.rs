//! A spent request budget on the real store and simulated bank, on a clock the test moves: said
//! once per exhaustion in the log, as an alert, in `status` and the status line. Its own test
//! binary, so the captured log sees only its own polls.

// Test code: a failed unwrap is a failed test, and clippy's allow-unwrap-in-tests does not
// reach the helper functions outside `#[test]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/support/mod.rs"]
mod support;

use chrono::{TimeDelta, Utc};
use payguard::daemon::Clock;
use payguard::sim::{Advance, Simulator, demo_script};

/// A schedule that asks more than the budget: the first skipped tick of each spent budget warns
/// once in the log and fires `budget_exhausted` once (the ticks it skips after say nothing);
/// `status` and the status line show it; it resolves with the next poll made.
#[tokio::test(flavor = "multi_thread")]
async fn a_spent_budget_is_said_once_shown_and_resolved_when_polling_resumes() {
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // SimpleFIN sources default to max_requests_per_day = 24; the schedule asks for 1440.
    let text = support::sim_config_text(dir.path(), &sim.access_url(), "* * * * *", "");
    let start = Utc::now();
    let clock = Clock::manual(start);
    let engine = support::engine(&text, clock.clone());
    let schedule = engine.source_config(0).expect("a source").schedule.clone();
    let (logs, _capture) = support::logs::Logs::capture();
    let (mut said, mut shown) = (Vec::new(), false);
    let mut at = start;
    while let Some(next) = schedule.next_after(at, chrono_tz::UTC).filter(|t| *t <= start + TimeDelta::days(2)) {
        clock.set(next);
        let run = engine.poll_source(0, next).await;
        for (alert, event) in &run.notices {
            if alert.kind().as_str() == "budget_exhausted" {
                said.push((next, event.as_str(), run.skipped.is_some()));
            }
        }
        if !shown && next >= start + TimeDelta::hours(12) {
            shown = true;
            // Half a day in, the budget is spent: status and the status line say until when.
            let line = payguard::daemon::status_line(&engine);
            assert!(line.contains("sim-bank: request budget spent, no polls until"), "{line}");
            let request = payguard::control::Request::Status { json: false };
            let reply = payguard::control::answer(engine.config(), engine.store(), &request);
            assert!(
                reply.stdout.contains("request budget spent (24 of max_requests_per_day = 24)"),
                "{}",
                reply.stdout
            );
            let request = payguard::control::Request::Status { json: true };
            let reply = payguard::control::answer(engine.config(), engine.store(), &request);
            let json: serde_json::Value = serde_json::from_str(&reply.stdout).expect("status JSON");
            assert!(json["sources"][0]["budget_spent_until"].is_string(), "{json}");
        }
        at = next;
    }
    let events: Vec<(&str, bool)> = said.iter().map(|(_, event, skipped)| (*event, *skipped)).collect();
    // Two days: spent twice, each said once as it starts; resolved by the poll that resumes.
    assert_eq!(events, [("firing", true), ("resolved", false), ("firing", true)], "{said:?}");
    let warnings = logs.lines_with(&["WARN", "daily request budget spent"]);
    assert_eq!(warnings.len(), 2, "once per spent budget, not per skipped tick: {warnings:?}");
    assert!(shown, "status was looked at while the budget was spent");
}
