//! Incidents: the findings of one account that fire together are one message per channel, and
//! findings that join later are its update. The real engine, store, simulator and webhook
//! receivers on loopback, on tokio's paused clock (`outbox::World`), with the theft of the demo
//! script: one poll that owes five alerts, then a double charge.

use chrono::TimeDelta;
use payguard::alert::NoticeEvent;
use payguard::alert::outbox::Outcome;
use payguard::daemon::{Engine, RoundReport};
use payguard::notify::Stream;
use payguard::store::Store;
use serde_json::Value;

use crate::outbox::{HOOK, World, world};
use crate::support::{Reply, reopen::reopened};

/// A second receiver: ntfy, which gets the text, not the JSON.
const NTFY: &str = "/ntfy";
const NTFY_CHANNEL: &str =
    "[[channel]]\nname = \"ntfy\"\nkind = \"webhook\"\npreset = \"ntfy\"\nurl = \"{fixture}/ntfy\"\n";

impl World {
    fn bodies(&self, path: &str) -> Vec<String> {
        self.fixture.seen().into_iter().filter(|s| s.path == path).map(|s| s.body).collect()
    }

    fn json(&self, path: &str) -> Vec<Value> {
        self.bodies(path).iter().map(|b| serde_json::from_str(b).expect("a JSON body")).collect()
    }

    async fn after(&self, wait: TimeDelta) -> RoundReport {
        self.advance_to(self.clock.now() + wait).await;
        self.round().await
    }

    /// The next step of the script (the double charge), polled a minute later: what it owes.
    async fn double_charge(&self) -> Vec<(payguard::alert::Alert, NoticeEvent)> {
        assert!(self.sim.advance());
        self.advance_to(self.clock.now() + TimeDelta::minutes(1)).await;
        let run = self.engine.poll_source(0, self.clock.now()).await;
        assert!(run.succeeded(), "{:?}", run.error);
        run.notices
    }
}

fn ids(message: &Value) -> Vec<String> {
    message["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["alert_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_theft_is_one_message_per_channel_naming_every_finding() {
    let w = world(NTFY_CHANNEL).await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    w.fixture.reply(NTFY, Reply::json("{}"));
    let owed = w.theft().await;

    // The first message of an incident waits group_wait (30 s) for company.
    let early = w.round().await;
    assert_eq!((early.delivered, early.pending), (0, owed * 2), "{early:?}");
    assert_eq!(early.next_due, Some(w.clock.now() + TimeDelta::seconds(30)));
    let report = w.after(TimeDelta::seconds(30)).await;
    assert_eq!((report.delivered, report.pending), (owed * 2, 0), "{report:?}");

    let hook = w.json(HOOK);
    assert_eq!(hook.len(), 1, "one message on the webhook: {hook:?}");
    let incident = hook[0]["incident"].as_str().expect("the incident id").to_owned();
    assert!(incident.starts_with("i-"), "{incident}");
    let alerts = ids(&hook[0]);
    assert_eq!(alerts.len(), owed, "every finding: {}", hook[0]);
    assert!(hook[0]["alerts"].as_array().into_iter().flatten().all(|a| a["incident"] == incident.as_str()));
    assert!(
        hook[0]["title"].as_str().is_some_and(|t| t.contains("ACT-1") && t.contains(&format!("+{} more", owed - 1)))
    );
    let ntfy = w.bodies(NTFY);
    assert_eq!(ntfy.len(), 1, "one message on ntfy");
    for id in &alerts {
        assert!(ntfy[0].contains(id.as_str()), "ntfy's text names {id}: {}", ntfy[0]);
    }
    assert!(ntfy[0].contains("payguard export --account ACT-1 --source sim-bank"), "{}", ntfy[0]);
    assert!(ntfy[0].contains(&format!("payguard ack {incident}")), "{}", ntfy[0]);

    // Each delivery is in the log, with its incident.
    let log = w.engine.store().delivery_log(w.clock.now() - TimeDelta::days(1)).expect("log");
    assert_eq!(log.len(), owed * 2);
    assert!(log.iter().all(|r| r.outcome == Outcome::Delivered && r.incident.as_deref() == Some(&incident)));
}

#[tokio::test(start_paused = true)]
async fn a_later_finding_is_an_update_of_the_incident_after_group_interval() {
    let w = world(NTFY_CHANNEL).await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    w.fixture.reply(NTFY, Reply::json("{}"));
    w.theft().await;
    w.after(TimeDelta::seconds(30)).await;
    let sent_at = w.clock.now();
    let incident = w.json(HOOK)[0]["incident"].as_str().expect("incident").to_owned();

    let owed = w.double_charge().await;
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].0.incident.as_deref(), Some(incident.as_str()), "the double charge joins the open incident");
    // Not before group_interval (5 min) after the last message of the incident on each channel.
    let waiting = w.round().await;
    assert_eq!((waiting.delivered, waiting.pending), (0, 2));
    assert_eq!(waiting.next_due, Some(sent_at + TimeDelta::minutes(5)));
    w.advance_to(sent_at + TimeDelta::minutes(5)).await;
    assert_eq!(w.round().await.delivered, 2);

    let hook = w.json(HOOK);
    assert_eq!(hook.len(), 2);
    let update = &hook[1];
    assert_eq!((update["incident"].as_str(), update["update"].as_bool()), (Some(incident.as_str()), Some(true)));
    assert_eq!(ids(update), [owed[0].0.id.clone()]);
    let title = update["title"].as_str().unwrap_or_default();
    assert!(title.contains(&format!("update of incident {incident}: +1 finding")), "{title}");
    let ntfy = w.bodies(NTFY);
    assert!(ntfy.len() == 2 && ntfy[1].contains(&format!("Update of incident {incident}")), "{ntfy:?}");
}

#[tokio::test(start_paused = true)]
async fn routes_give_each_channel_its_own_part_of_the_incident() {
    let routes = "[[channel]]\nname = \"payees\"\nkind = \"webhook\"\nurl = \"{fixture}/payees\"\n\n\
                  [[route]]\nkind = [\"new_payee\"]\nchannels = [\"payees\"]\n\n[[route]]\nchannels = [\"hook\"]\n";
    let w = world(routes).await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    w.fixture.reply("/payees", Reply::json("{}"));
    let owed = w.theft().await;
    assert_eq!(w.after(TimeDelta::seconds(30)).await.pending, 0);
    let (hook, payees) = (w.json(HOOK), w.json("/payees"));
    assert_eq!((hook.len(), payees.len()), (1, 1), "one message each: {hook:?} {payees:?}");
    let kinds = |m: &Value| -> Vec<String> {
        m["alerts"].as_array().into_iter().flatten().filter_map(|a| a["kind"].as_str().map(str::to_owned)).collect()
    };
    assert!(kinds(&payees[0]).len() >= 2 && kinds(&payees[0]).iter().all(|k| k == "new_payee"), "{}", payees[0]);
    assert!(!kinds(&hook[0]).is_empty() && kinds(&hook[0]).iter().all(|k| k != "new_payee"), "{}", hook[0]);
    assert_eq!(kinds(&hook[0]).len() + kinds(&payees[0]).len(), owed);
    assert_eq!(hook[0]["incident"], payees[0]["incident"], "one incident, said in two parts");
}

#[tokio::test(start_paused = true)]
async fn quiet_hours_let_the_critical_part_through_and_release_the_rest_together() {
    let now = chrono::Utc::now();
    let start = (now - TimeDelta::hours(1)).format("%H:%M");
    let end = (now + TimeDelta::hours(2)).format("%H:%M");
    let w = world(&format!("[quiet_hours]\nstart = \"{start}\"\nend = \"{end}\"\nexcept = [\"critical\"]")).await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    let owed = w.theft().await;
    let report = w.after(TimeDelta::seconds(30)).await;
    // balance_drop and velocity are critical: through, as one message. The new payees wait.
    assert_eq!((report.delivered, report.pending), (2, owed - 2), "{report:?}");
    let held_until = report.next_due.expect("held");
    assert!(held_until > w.clock.now() + TimeDelta::minutes(100), "held until the end: {held_until}");
    w.advance_to(held_until).await;
    assert_eq!(w.round().await.delivered, owed - 2);
    let hook = w.json(HOOK);
    assert_eq!(hook.len(), 2, "two messages: the critical part, then the held part together: {hook:?}");
    assert_eq!((ids(&hook[0]).len(), ids(&hook[1]).len()), (2, owed - 2));
    assert_eq!(hook[1]["update"], true);
    assert_eq!(hook[0]["incident"], hook[1]["incident"]);
}

#[tokio::test(start_paused = true)]
async fn an_incident_counts_once_against_the_hourly_limit() {
    let w = world("max_per_hour = 1").await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    let owed = w.theft().await;
    let report = w.after(TimeDelta::seconds(30)).await;
    assert_eq!((report.delivered, report.pending), (owed, 0), "the whole incident in the one message allowed");
    assert_eq!(w.json(HOOK).len(), 1);
    let log = w.engine.store().delivery_log(w.clock.now() - TimeDelta::days(1)).expect("log");
    assert!(log.iter().all(|r| !r.digest), "an incident is no digest: {log:?}");

    // Its update would be the second message within the hour: held until the hour is over.
    let first = w.clock.now();
    w.double_charge().await;
    let held = w.after(TimeDelta::minutes(5)).await;
    assert_eq!((held.delivered, held.pending), (0, 1));
    assert_eq!(held.next_due, Some(first + TimeDelta::hours(1)));
    w.advance_to(first + TimeDelta::hours(1)).await;
    assert_eq!(w.round().await.delivered, 1);
    assert_eq!(w.json(HOOK).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn without_group_by_every_alert_is_its_own_message_at_once() {
    let w = world("[alerts]\ngroup_by = []").await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    let owed = w.theft().await;
    assert_eq!(w.round().await.delivered, owed, "no group_wait");
    let hook = w.json(HOOK);
    assert_eq!(hook.len(), owed);
    assert!(hook.iter().all(|m| m["incident"].is_null() && m["alert_id"].is_string()), "{hook:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_incident_message_is_tried_again_whole() {
    let w = world("").await;
    w.fixture.reply(HOOK, Reply::status(503, "busy"));
    let owed = w.theft().await;
    let failed = w.after(TimeDelta::seconds(30)).await;
    assert_eq!(failed.rescheduled, owed);
    w.fixture.reply(HOOK, Reply::json("{}"));
    let retry = failed.next_due.expect("a retry");
    w.advance_to(retry).await;
    assert_eq!(w.round().await.delivered, owed, "all at the one retry");
    let hook = w.json(HOOK);
    assert_eq!(hook.len(), 2, "the failed message and its retry");
    assert_eq!(hook[0]["message_id"], hook[1]["message_id"], "the retry is recognisably the same message");
    assert_eq!(ids(&hook[1]).len(), owed);
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_enqueue_and_send_delivers_the_incident_once_after_the_restart() {
    let w = world("").await;
    w.fixture.reply(HOOK, Reply::json("{}"));
    let owed = w.theft().await;
    // The poll is durable, its messages owed; the process ends before the delivery worker ran.
    let World { engine, sim, fixture, clock, dir } = w;
    let config = engine.config().clone();
    drop(engine);
    let store = reopened(|| Store::open(&config.daemon.state_dir)).expect("the store opens again");
    assert_eq!(store.pending_deliveries().expect("outbox").len(), owed, "nothing owed was lost");
    let engine = std::sync::Arc::new(Engine::new(config, store, Stream::Stderr, clock.clone()).expect("engine"));
    let w = World { engine, sim, fixture, clock, dir };

    // A restart's first round does not wait out group_wait (retry at restart).
    let first = w.engine.deliverer().round(w.engine.store(), w.clock.now(), true).await.expect("round");
    assert_eq!((first.delivered, first.pending), (owed, 0));
    assert_eq!(w.after(TimeDelta::hours(1)).await, RoundReport::default(), "nothing more");
    let hook = w.json(HOOK);
    assert_eq!(hook.len(), 1, "once: {hook:?}");
    assert_eq!(ids(&hook[0]).len(), owed);
}
