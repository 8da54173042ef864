//! The durable outbox on tokio's paused clock: backoff and recovery, Retry-After, refusals, expiry,
//! quiet hours, the hourly limit's digest and repeats — the real engine, store, simulator and an HTTP
//! receiver on loopback, with time moved by the test instead of waited for.

use crate::support;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::alert::NoticeEvent;
use payguard::alert::outbox::Outcome;
use payguard::config::Config;
use payguard::daemon::{Clock, Engine, RoundReport};
use payguard::notify::Stream;
use payguard::sim::{Advance, Simulator, demo_script};
use payguard::store::Store;
use support::{Fixture, Reply};

pub(crate) const HOOK: &str = "/hook";
/// For the tests of what happens to each delivery (backoff, refusals, holds): one message per alert.
const UNGROUPED: &str = "[alerts]\ngroup_by = []";

pub(crate) struct World {
    pub(crate) engine: Arc<Engine>,
    pub(crate) sim: Simulator,
    pub(crate) fixture: Fixture,
    pub(crate) clock: Clock,
    pub(crate) dir: tempfile::TempDir,
}

/// An engine polling the simulated bank, alerting one webhook channel, on a clock the test moves.
pub(crate) async fn world(extra: &str) -> World {
    let fixture = Fixture::start().await;
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // `{fixture}` in `extra` is the receiver's address, for more channels on it.
    let extra = extra.replace("{fixture}", &fixture.url(""));
    let hook = format!("[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n{extra}", fixture.url(HOOK));
    let text = support::sim_config_text(dir.path(), &sim.access_url(), "0 * * * *", &hook);
    let config = Config::parse(&text, Path::new("outbox.toml")).expect("config");
    std::fs::create_dir_all(&config.daemon.state_dir).expect("state dir");
    let store = Store::open(&config.daemon.state_dir).expect("store");
    let clock = Clock::tokio_from(Utc::now());
    let engine = Arc::new(Engine::new(config, store, Stream::Stderr, clock.clone()).expect("engine"));
    World { engine, sim, fixture, clock, dir }
}

impl World {
    /// Plays the script up to the theft; returns the alerts the theft poll made owed.
    pub(crate) async fn theft(&self) -> usize {
        let mut owed = 0;
        for _ in 0..4 {
            assert!(self.sim.advance());
            // A minute apart, as a schedule would poll: snapshots are keyed by the poll's time, and
            // polls at one instant would overwrite each other's (and so the balance's peak).
            self.advance_to(self.clock.now() + TimeDelta::minutes(1)).await;
            let run = self.engine.poll_source(0, self.clock.now()).await;
            assert!(run.succeeded(), "{:?}", run.error);
            owed = run.notices.len();
        }
        assert!(owed >= 5, "the theft owes several alerts, got {owed}");
        owed
    }

    pub(crate) async fn round(&self) -> RoundReport {
        self.engine.deliverer().round(self.engine.store(), self.clock.now(), false).await.expect("round")
    }

    fn hook_requests(&self) -> usize {
        self.fixture.seen().iter().filter(|s| s.path == HOOK).count()
    }

    /// Moves the paused clock to `at`.
    pub(crate) async fn advance_to(&self, at: DateTime<Utc>) {
        let by = (at - self.clock.now()).to_std().unwrap_or_default();
        tokio::time::advance(by).await;
    }
}

#[tokio::test(start_paused = true)]
async fn failed_deliveries_back_off_and_go_out_once_the_receiver_recovers() {
    let w = world(UNGROUPED).await;
    w.fixture.reply(HOOK, Reply::status(503, "maintenance"));
    let owed = w.theft().await;

    let first = w.round().await;
    assert_eq!((first.delivered, first.rescheduled, first.pending), (0, owed, owed));
    assert_eq!(w.hook_requests(), owed);
    let first_retry = first.next_due.expect("a retry is scheduled");
    let gap1 = first_retry - w.clock.now();
    assert!(gap1 >= TimeDelta::seconds(24) && gap1 <= TimeDelta::seconds(36), "about 30 s: {gap1}");

    // Before the backoff is over nothing is tried.
    tokio::time::advance(std::time::Duration::from_secs(10)).await;
    assert_eq!(w.round().await.rescheduled, 0);
    assert_eq!(w.hook_requests(), owed);

    // The first retries fall within 30 s ± 20 %; past that, all of them are due.
    w.advance_to(first_retry - gap1 + TimeDelta::seconds(37)).await;
    let second = w.round().await;
    assert_eq!(second.rescheduled, owed);
    let gap2 = second.next_due.expect("another retry") - w.clock.now();
    assert!(gap2 > gap1, "the backoff grows: {gap1} then {gap2}");

    w.fixture.reply(HOOK, Reply::json("{}"));
    // The second retries fall within 60 s ± 20 %.
    w.advance_to(w.clock.now() + TimeDelta::seconds(73)).await;
    let third = w.round().await;
    assert_eq!((third.delivered, third.pending), (owed, 0));
    assert_eq!(w.hook_requests(), owed * 3);

    // Nothing more goes out, and each delivery is logged once, delivered on its third attempt.
    w.advance_to(w.clock.now() + TimeDelta::hours(2)).await;
    assert_eq!(w.round().await, RoundReport::default());
    let log = w.engine.store().delivery_log(w.clock.now() - TimeDelta::days(1)).expect("log");
    assert_eq!(log.len(), owed);
    assert!(log.iter().all(|r| r.outcome == Outcome::Delivered && r.attempts == 3), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let w = world(UNGROUPED).await;
    w.fixture.reply(HOOK, Reply::status(429, "slow down").with_header("retry-after", "120"));
    w.theft().await;
    let report = w.round().await;
    assert_eq!(report.next_due, Some(w.clock.now() + TimeDelta::seconds(120)));
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_final_and_recorded() {
    let w = world(UNGROUPED).await;
    w.fixture.reply(HOOK, Reply::status(400, "bad request"));
    let owed = w.theft().await;
    let report = w.round().await;
    assert_eq!((report.failed, report.pending), (owed, 0));
    w.advance_to(w.clock.now() + TimeDelta::hours(1)).await;
    assert_eq!(w.round().await, RoundReport::default());
    assert_eq!(w.hook_requests(), owed, "never tried again");
    let log = w.engine.store().delivery_log(w.clock.now() - TimeDelta::days(1)).expect("log");
    assert!(
        log.iter().all(|r| matches!(&r.outcome, Outcome::Failed { error } if error.contains("HTTP 400"))),
        "{log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delivery_failing_past_its_age_limit_expires() {
    let w = world("[alerts]\nmax_delivery_age = \"10m\"").await;
    w.fixture.reply(HOOK, Reply::status(503, "down"));
    let owed = w.theft().await;
    let mut expired = 0;
    // Each delivery is tried a handful of times before its ten minutes are up; rounds run until
    // nothing is left.
    for _ in 0..200 {
        let report = w.round().await;
        expired += report.failed;
        let Some(next) = report.next_due else { break };
        w.advance_to(next).await;
    }
    assert_eq!(expired, owed);
    let log = w.engine.store().delivery_log(w.clock.now() - TimeDelta::days(1)).expect("log");
    assert!(log.iter().all(|r| matches!(r.outcome, Outcome::Expired { .. })));
    assert!(w.engine.store().pending_deliveries().expect("outbox").is_empty());
}

#[tokio::test(start_paused = true)]
async fn quiet_hours_hold_warnings_until_they_end_and_let_critical_through() {
    // Quiet from an hour ago until two hours from now, on UTC's clock.
    let now = Utc::now();
    let start = (now - TimeDelta::hours(1)).format("%H:%M");
    let end = (now + TimeDelta::hours(2)).format("%H:%M");
    let quiet = format!("[quiet_hours]\nstart = \"{start}\"\nend = \"{end}\"\nexcept = [\"critical\"]");
    let w = world(&format!("{UNGROUPED}\n{quiet}")).await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    let owed = w.theft().await;
    let report = w.round().await;
    // balance_drop and velocity are critical: through at once. The new payees wait.
    assert_eq!(report.delivered, 2, "{report:?}");
    assert_eq!(report.pending, owed - 2);
    let held_until = report.next_due.expect("held");
    assert!(held_until > w.clock.now() + TimeDelta::minutes(100), "held until the end: {held_until}");
    w.advance_to(held_until).await;
    let later = w.round().await;
    assert_eq!((later.delivered, later.pending), (owed - 2, 0));
}

#[tokio::test(start_paused = true)]
async fn over_the_hourly_limit_the_rest_is_one_digest() {
    let w = world(&format!("max_per_hour = 2\n{UNGROUPED}")).await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    let owed = w.theft().await;
    let report = w.round().await;
    assert_eq!((report.delivered, report.pending), (owed, 0), "all delivered: one alone, the rest in a digest");
    let bodies: Vec<serde_json::Value> = w
        .fixture
        .seen()
        .iter()
        .filter(|s| s.path == HOOK)
        .map(|s| serde_json::from_str(&s.body).expect("json body"))
        .collect();
    assert_eq!(bodies.len(), 2, "two messages for a limit of two");
    let digest = bodies.iter().find(|b| b["digest"] == true).expect("a digest");
    assert_eq!(digest["alerts"].as_array().map(Vec::len), Some(owed - 1));
    let log = w.engine.store().delivery_log(w.clock.now() - TimeDelta::days(1)).expect("log");
    assert_eq!(log.iter().filter(|r| r.digest).count(), owed - 1);
    // Each alert in it names the message owed for it: a receiver can tell a repeat per alert.
    let mut named: Vec<&str> =
        digest["alerts"].as_array().into_iter().flatten().filter_map(|a| a["message_id"].as_str()).collect();
    let mut folded: Vec<&str> = log.iter().filter(|r| r.digest).map(|r| r.id.as_str()).collect();
    named.sort();
    folded.sort();
    assert_eq!(named, folded);
}

#[tokio::test(start_paused = true)]
async fn a_firing_condition_is_repeated_until_acknowledged() {
    let w = world("[alerts]\nrepeat_interval = \"1h\"").await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    w.theft().await;
    let repeats = |run: &payguard::daemon::SourceRun| {
        run.notices
            .iter()
            .filter(|(_, e)| *e == NoticeEvent::Repeat)
            .map(|(a, _)| a.kind().to_string())
            .collect::<Vec<_>>()
    };
    // Polled again within the hour: nothing said.
    w.advance_to(w.clock.now() + TimeDelta::minutes(30)).await;
    assert_eq!(w.engine.poll_source(0, w.clock.now()).await.notices.len(), 0);
    // Past the hour: the drop, still unacknowledged, is said again; the payments are not.
    w.advance_to(w.clock.now() + TimeDelta::minutes(31)).await;
    let run = w.engine.poll_source(0, w.clock.now()).await;
    assert_eq!(repeats(&run), ["balance_drop"]);
    let drop_id = run.notices[0].0.id.clone();
    w.engine.store().acknowledge(&drop_id, w.clock.now()).expect("ack").expect("the alert exists");
    w.advance_to(w.clock.now() + TimeDelta::hours(2)).await;
    assert_eq!(repeats(&w.engine.poll_source(0, w.clock.now()).await), Vec::<String>::new());
}
