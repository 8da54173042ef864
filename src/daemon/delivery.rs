//! The delivery worker: carries out the outbox policy of `alert::outbox`. It sends what is due,
//! records each outcome in the store, and sleeps until the next delivery is due or new ones arrive.
//!
//! At-least-once: a delivery leaves the outbox only after its outcome is recorded, so a crash
//! between sending and recording sends it again after the restart; every message carries its alert
//! id so a person can tell a repeat. The deliveries of one incident go out as one message (after
//! `group_wait`, updates after `group_interval`); their outcomes are recorded together and flushed
//! once, so a crash repeats that one message.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Clock;
use super::metrics::Metrics;
use crate::alert::outbox::{self, Attempt, Next};
use crate::alert::{Alert, Delivery, NoticeEvent};
use crate::config::{Config, Language, Support};
use crate::notify::render::{Said, alert_message, digest_message, incident_message};
use crate::notify::{Channel, DeliveryError, Message};
use crate::store::{Store, StoreError};

/// What one round of deliveries did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    pub delivered: usize,
    pub failed: usize,
    pub rescheduled: usize,
    /// Still owed after the round (waiting for backoff, quiet hours or the hourly limit).
    pub pending: usize,
    /// When something will next be due.
    pub next_due: Option<DateTime<Utc>>,
}

/// A channel with what it needs to keep its hourly limit.
struct Outlet {
    channel: Channel,
    max_per_hour: Option<u32>,
    /// When this channel sent, within the last hour.
    sent: Mutex<VecDeque<DateTime<Utc>>>,
    /// When this channel last sent a message of each incident, within `INCIDENT_MEMORY`.
    incidents: Mutex<HashMap<String, DateTime<Utc>>>,
}

/// How long a channel remembers its last message of an incident, to word a later one as its update
/// and to space updates by `group_interval`. Past it, a finding joining the incident is said as the
/// start of one again, which after a day is what a person needs.
const INCIDENT_MEMORY: TimeDelta = TimeDelta::days(1);

pub struct Deliverer {
    outlets: HashMap<String, Outlet>,
    language: Language,
    support: Support,
    max_age: TimeDelta,
    group_wait: TimeDelta,
    group_interval: TimeDelta,
    wake: Notify,
    metrics: Arc<Metrics>,
}

impl Deliverer {
    pub fn new(
        config: &Config,
        channels: Vec<(String, Channel)>,
        store: &Store,
        now: DateTime<Utc>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        // The hourly limits and the incidents' spacing count what was sent before a restart too.
        let remembered = INCIDENT_MEMORY.max(config.alerting.group_interval).max(TimeDelta::hours(1));
        let recent = store.delivery_log(now - remembered)?;
        let outlets = channels
            .into_iter()
            .map(|(name, channel)| {
                let delivered =
                    || recent.iter().filter(|r| r.channel == name && r.outcome == outbox::Outcome::Delivered);
                let hour_ago = now - TimeDelta::hours(1);
                let sent: VecDeque<DateTime<Utc>> =
                    delivered().map(|r| r.finished_at).filter(|t| *t >= hour_ago).collect();
                let mut incidents = HashMap::new();
                for record in delivered() {
                    if let Some(incident) = &record.incident {
                        let last = incidents.entry(incident.clone()).or_insert(record.finished_at);
                        *last = (*last).max(record.finished_at);
                    }
                }
                let max_per_hour = config.channel(&name).and_then(|c| c.max_per_hour);
                let outlet = Outlet { channel, max_per_hour, sent: Mutex::new(sent), incidents: Mutex::new(incidents) };
                (name, outlet)
            })
            .collect();
        Ok(Deliverer {
            outlets,
            language: config.daemon.language,
            support: config.support.clone(),
            max_age: config.max_delivery_age,
            group_wait: config.alerting.group_wait,
            group_interval: config.alerting.group_interval,
            wake: Notify::new(),
            metrics,
        })
    }

    /// Tells the worker that new deliveries are in the outbox.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends everything due at `now` once, and records every outcome. With `retry_now`, deliveries
    /// waiting out a backoff are due too (a restart or a person running `payguard once` is a good
    /// moment to try again); quiet hours and hourly limits still hold.
    /// A store whose write failed is reopened first; while it cannot be, nothing is sent, since
    /// no outcome could be recorded and each message would go again at every round.
    pub async fn round(&self, store: &Store, now: DateTime<Utc>, retry_now: bool) -> Result<RoundReport, StoreError> {
        super::engine::blocking(|| store.recover())?;
        let mut report = RoundReport::default();
        let mut by_channel: HashMap<String, Vec<Delivery>> = HashMap::new();
        for delivery in store.pending_deliveries()? {
            by_channel.entry(delivery.channel.clone()).or_default().push(delivery);
        }
        for (name, deliveries) in by_channel {
            let Some(outlet) = self.outlets.get(&name) else {
                // The channel was removed from the config: say so once and for all.
                for delivery in deliveries {
                    let error = format!("no channel named {name:?} in the config any more");
                    self.record(
                        store,
                        outbox::after_attempt(delivery, Attempt::GiveUp { error }, now, self.max_age, false),
                        &mut report,
                    )?;
                }
                continue;
            };
            let (due, waiting): (Vec<Delivery>, Vec<Delivery>) =
                deliveries.into_iter().partition(|d| d.not_before <= now || (retry_now && d.attempts > 0));
            for delivery in &waiting {
                report.note_pending(delivery.not_before);
            }
            // An incident's message waits for company, and its updates for `group_interval`;
            // a person running `payguard once` (or a restart) does not wait.
            let mut ready = Vec::new();
            for group in outbox::groups(due) {
                let at = outbox::ready_at(&group, outlet.last_of(&group, now), self.group_wait, self.group_interval);
                if retry_now || at <= now {
                    ready.push(group);
                } else {
                    group.iter().for_each(|_| report.note_pending(at));
                }
            }
            let sent_last_hour = outlet.sent_since(now - TimeDelta::hours(1));
            let batch = outbox::batch(ready, sent_last_hour, outlet.max_per_hour);
            if !batch.held.is_empty() {
                let free_at = outlet.oldest_send().map_or(now, |t| t + TimeDelta::hours(1));
                for _ in &batch.held {
                    report.note_pending(free_at);
                }
            }
            for group in batch.messages {
                // An update brings findings that joined; a repeat or a resolution alone is said as
                // it always was.
                let joined = group.iter().any(|d| d.event == NoticeEvent::Firing);
                let update = joined && outlet.last_of(&group, now).is_some();
                let message = self.message(&name, &group, update);
                let attempt = outlet.attempt(&message, now).await;
                log_attempt(&name, &message.id, &attempt);
                if attempt == Attempt::Sent {
                    outlet.sent_incident(&group, now);
                }
                for next in outbox::after_group_attempt(group, &attempt, now, self.max_age) {
                    self.record(store, next, &mut report)?;
                }
                // Each outcome is made durable before the next send: a crash then repeats at most
                // the one message it cut between send and record (an incident's, with all its
                // deliveries), not the whole round so far. The round's store writes are
                // synchronous already; so is this small flush.
                store.flush_blocking()?;
            }
            if !batch.digest.is_empty() {
                let items: Vec<Said> = batch.digest.iter().map(said).collect();
                let id = format!("digest.{name}.{}", now.timestamp_millis());
                let message = digest_message(&id, &items, self.language, &self.support);
                let attempt = outlet.attempt(&message, now).await;
                log_attempt(&name, &id, &attempt);
                for delivery in batch.digest {
                    self.record(
                        store,
                        outbox::after_attempt(delivery, attempt.clone(), now, self.max_age, true),
                        &mut report,
                    )?;
                }
                store.flush_blocking()?;
            }
        }
        Ok(report)
    }

    /// The one message a group of deliveries makes on channel `name`: a delivery alone as itself,
    /// an incident's as the incident (`update` when the channel had a message of it before).
    fn message(&self, name: &str, group: &[Delivery], update: bool) -> Message {
        match (group, group.first().and_then(|d| d.alert.incident.as_deref())) {
            ([delivery], None) => {
                alert_message(&delivery.id, &delivery.alert, delivery.event, self.language, &self.support)
            }
            (_, incident) => {
                let incident = incident.unwrap_or_default();
                let items: Vec<Said> = group.iter().map(said).collect();
                // The same deliveries make the same id: a message repeated after a crash can be
                // recognised by it.
                let members: Vec<&str> = group.iter().map(|d| d.id.as_str()).collect();
                let id = match group {
                    [delivery] if !update => delivery.id.clone(),
                    _ => format!("{incident}.{name}.{}", &crate::model::short_hash(&members.join(" "))[..12]),
                };
                incident_message(&id, incident, &items, update, self.language, &self.support)
            }
        }
    }

    /// Sends one message about `alert` to `channels` now, without the outbox: for what must be
    /// said when the store (which holds the outbox) cannot be written. Each outcome is logged;
    /// nothing is retried, as the caller says it again while the problem lasts.
    pub async fn send_directly(&self, alert: &Alert, event: NoticeEvent, channels: &[String], now: DateTime<Utc>) {
        let id = format!("{}.{}.{}", alert.id, event.as_str(), now.timestamp_millis());
        let message = alert_message(&id, alert, event, self.language, &self.support);
        for name in channels {
            if let Some(outlet) = self.outlets.get(name) {
                log_attempt(name, &alert.id, &outlet.attempt(&message, now).await);
            }
        }
    }

    fn record(&self, store: &Store, next: Next, report: &mut RoundReport) -> Result<(), StoreError> {
        match next {
            Next::Finish(record) => {
                self.metrics.delivery(&record.channel, record.outcome.as_str());
                match record.outcome {
                    outbox::Outcome::Delivered => report.delivered += 1,
                    _ => {
                        tracing::error!(channel = %record.channel, alert = %record.alert_id, outcome = ?record.outcome, "delivery given up");
                        report.failed += 1;
                    }
                }
                store.finish_delivery(&record)
            }
            Next::Reschedule(delivery) => {
                self.metrics.delivery(&delivery.channel, "retry");
                report.rescheduled += 1;
                report.note_pending(delivery.not_before);
                store.save_delivery(&delivery)
            }
        }
    }

    /// Delivers until `shutdown`: a round, then sleep until the next due time or a wake-up. The
    /// first round retries everything owed (the outage may have ended while we were down). A round
    /// in flight is finished before shutting down.
    pub async fn run(&self, store: &Store, clock: &Clock, shutdown: CancellationToken) {
        let mut first = true;
        loop {
            let now = clock.now();
            let round = self.round(store, now, std::mem::take(&mut first)).await;
            let wait = match round {
                Ok(report) => report.next_due.map_or(TimeDelta::hours(1), |t| (t - now).max(TimeDelta::zero())),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read or write the outbox; trying again in a minute");
                    TimeDelta::minutes(1)
                }
            };
            if let Err(e) = store.flush().await {
                tracing::error!(error = %e, "cannot flush delivery outcomes");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait.to_std().unwrap_or_default()) => {}
            }
        }
    }
}

impl RoundReport {
    fn note_pending(&mut self, due: DateTime<Utc>) {
        self.pending += 1;
        self.next_due = Some(self.next_due.map_or(due, |t| t.min(due)));
    }
}

impl Outlet {
    fn sent_since(&self, since: DateTime<Utc>) -> usize {
        let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A send exactly an hour ago no longer counts: the round `oldest_send` + 1 h promises
        // must find the room free, or the worker wakes to it again and again.
        while sent.front().is_some_and(|t| *t <= since) {
            sent.pop_front();
        }
        sent.len()
    }

    /// When this channel last sent a message of the group's incident, if it did within
    /// `INCIDENT_MEMORY` of `now`.
    fn last_of(&self, group: &[Delivery], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let incident = group.first()?.alert.incident.as_ref()?;
        let mut incidents = self.incidents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        incidents.retain(|_, last| now - *last < INCIDENT_MEMORY);
        incidents.get(incident).copied()
    }

    fn sent_incident(&self, group: &[Delivery], now: DateTime<Utc>) {
        if let Some(incident) = group.first().and_then(|d| d.alert.incident.clone()) {
            self.incidents.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(incident, now);
        }
    }

    fn oldest_send(&self) -> Option<DateTime<Utc>> {
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).front().copied()
    }

    async fn attempt(&self, message: &Message, now: DateTime<Utc>) -> Attempt {
        match self.channel.send(message).await {
            Ok(()) => {
                self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_back(now);
                Attempt::Sent
            }
            Err(DeliveryError { message, retryable: true, retry_after }) => {
                Attempt::Retry { error: message, after: retry_after.and_then(|d| TimeDelta::from_std(d).ok()) }
            }
            Err(DeliveryError { message, retryable: false, .. }) => Attempt::GiveUp { error: message },
        }
    }
}

/// A delivery as one alert of a message about several.
fn said(delivery: &Delivery) -> Said<'_> {
    Said { alert: &delivery.alert, event: delivery.event, message_id: &delivery.id }
}

fn log_attempt(channel: &str, id: &str, attempt: &Attempt) {
    match attempt {
        Attempt::Sent => tracing::info!(channel, id, "delivered"),
        Attempt::Retry { error, .. } => tracing::warn!(channel, id, %error, "delivery failed; will retry"),
        Attempt::GiveUp { error } => tracing::warn!(channel, id, %error, "delivery refused"),
    }
}
