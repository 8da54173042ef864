//! Polite polling against the real store and simulated bank, on a clock the test moves: a day of
//! every-minute polls in a moment.

use crate::support;

use chrono::{TimeDelta, Utc};
use payguard::daemon::Clock;
use payguard::sim::{Advance, Simulator, demo_script};

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_of_every_minute_stays_within_24_requests_a_day() {
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // SimpleFIN sources default to max_requests_per_day = 24.
    let text = support::sim_config_text(dir.path(), &sim.access_url(), "* * * * *", "");
    let start = Utc::now();
    let clock = Clock::manual(start);
    let engine = support::engine(&text, clock.clone());
    let schedule = engine.source_config(0).expect("a source").schedule.clone();
    let (mut at, mut runs, mut skipped) = (start, 0, 0);
    // Every time the schedule fires over two days, as the scheduler would.
    while let Some(next) = schedule.next_after(at, chrono_tz::UTC).filter(|t| *t <= start + TimeDelta::days(2)) {
        clock.set(next);
        let run = engine.poll_source(0, next).await;
        runs += 1;
        skipped += usize::from(run.skipped.is_some());
        if next <= start + TimeDelta::days(1) {
            assert!(sim.requests() <= 24, "{} requests within the first day", sim.requests());
        }
        at = next;
    }
    assert_eq!(runs, 2 * 1440);
    assert_eq!(sim.requests(), 48, "the budget is used, not starved: 24 a day");
    assert_eq!(skipped, runs - 48);
}

/// A Statuspage answer listing one maintenance window in `status`, from an hour ago for two hours.
fn maintenance(status: &str, now: chrono::DateTime<Utc>) -> String {
    let from = (now - TimeDelta::hours(1)).to_rfc3339();
    let until = (now + TimeDelta::hours(1)).to_rfc3339();
    format!(
        r#"{{"page": {{"id": "p", "name": "Bank"}}, "scheduled_maintenances": [{{
            "id": "mnt-1", "name": "Core banking upgrade", "status": "{status}", "impact": "maintenance",
            "scheduled_for": "{from}", "scheduled_until": "{until}", "shortlink": "https://stspg.io/x",
            "created_at": "{from}", "updated_at": "{from}", "incident_updates": [], "components": []
        }}]}}"#
    )
}

fn serve_status(fixture: &support::Fixture, maintenance_status: &str, now: chrono::DateTime<Utc>) {
    let none = r#"{"page": {"id": "p"}, "scheduled_maintenances": []}"#;
    let (upcoming, active) = match maintenance_status {
        "in_progress" => (none.to_owned(), maintenance("in_progress", now)),
        _ => (none.to_owned(), none.to_owned()),
    };
    fixture.reply("/api/v2/scheduled-maintenances/upcoming.json", support::Reply::json(&upcoming));
    fixture.reply("/api/v2/scheduled-maintenances/active.json", support::Reply::json(&active));
    fixture
        .reply("/api/v2/incidents/unresolved.json", support::Reply::json(r#"{"page": {"id": "p"}, "incidents": []}"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_during_announced_maintenance_is_held_back_and_after_it_is_said() {
    let status = support::Fixture::start().await;
    let start = Utc::now();
    serve_status(&status, "in_progress", start);
    // Nothing listens on this port: the bank is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("temp dir");
    let rest = format!(
        "[[notice]]\nname = \"bank-status\"\nkind = \"statuspage\"\nurl = \"{}\"\nschedule = \"*/5 * * * *\"\n",
        status.url("")
    );
    let text = support::sim_config_text(dir.path(), &format!("http://u:p@{closed}/simplefin"), "* * * * *", &rest)
        .replace(
            "schedule = \"* * * * *\"",
            "schedule = \"* * * * *\"\nnotice = \"bank-status\"\ndown_after = 2\nmax_requests_per_day = 1000",
        );
    let clock = Clock::manual(start);
    let engine = support::engine(&text, clock.clone());
    let down = |run: &payguard::daemon::SourceRun| run.notices.iter().any(|(a, _)| a.kind().as_str() == "source_down");

    let notices = engine.poll_notice(0, start).await;
    assert!(notices.error.is_none(), "{:?}", notices.error);
    // Five failed polls during the window, each after the backoff allows it: none is said.
    let mut at = start;
    for _ in 0..5 {
        at += TimeDelta::hours(1) / 6;
        clock.set(at);
        let run = engine.poll_source(0, at).await;
        assert!(run.error.is_some(), "the bank is down");
        assert!(!down(&run), "held back during maintenance");
    }
    // The platform says the maintenance is over; the bank is still down: now it is said.
    serve_status(&status, "completed", start);
    assert!(engine.poll_notice(0, at).await.error.is_none());
    at += TimeDelta::hours(1);
    clock.set(at);
    let run = engine.poll_source(0, at).await;
    assert!(down(&run), "said once the window is over: {:?}", run.notices);
}
