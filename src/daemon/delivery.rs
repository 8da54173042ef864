//! The delivery worker: carries out the outbox policy of `alert::outbox`. It sends what is due,
//! records each outcome in the store, and sleeps until the next delivery is due or new ones arrive.
//!
//! At-least-once: a delivery leaves the outbox only after its outcome is recorded, so a crash
//! between sending and recording sends it again after the restart; every message carries its alert
//! id so a person can tell a repeat.

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
use crate::notify::render::{alert_message, digest_message};
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
}

pub struct Deliverer {
    outlets: HashMap<String, Outlet>,
    language: Language,
    support: Support,
    max_age: TimeDelta,
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
        // The hourly limits count what was sent before a restart too.
        let recent = store.delivery_log(now - TimeDelta::hours(1))?;
        let outlets = channels
            .into_iter()
            .map(|(name, channel)| {
                let sent: VecDeque<DateTime<Utc>> = recent
                    .iter()
                    .filter(|r| r.channel == name && r.outcome == outbox::Outcome::Delivered)
                    .map(|r| r.finished_at)
                    .collect();
                let max_per_hour = config.channel(&name).and_then(|c| c.max_per_hour);
                (name, Outlet { channel, max_per_hour, sent: Mutex::new(sent) })
            })
            .collect();
        Ok(Deliverer {
            outlets,
            language: config.daemon.language,
            support: config.support.clone(),
            max_age: config.max_delivery_age,
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
            let sent_last_hour = outlet.sent_since(now - TimeDelta::hours(1));
            let batch = outbox::batch(due, sent_last_hour, outlet.max_per_hour);
            if !batch.held.is_empty() {
                let free_at = outlet.oldest_send().map_or(now, |t| t + TimeDelta::hours(1));
                for _ in &batch.held {
                    report.note_pending(free_at);
                }
            }
            for delivery in batch.singles {
                let message =
                    alert_message(&delivery.id, &delivery.alert, delivery.event, self.language, &self.support);
                let attempt = outlet.attempt(&message, now).await;
                log_attempt(&name, &delivery.alert.id, &attempt);
                self.record(store, outbox::after_attempt(delivery, attempt, now, self.max_age, false), &mut report)?;
                // Each outcome is made durable before the next send: a crash then repeats at most
                // the one message it cut between send and record, not the whole round so far. The
                // round's store writes are synchronous already; so is this small flush.
                store.flush_blocking()?;
            }
            if !batch.digest.is_empty() {
                let items: Vec<_> = batch.digest.iter().map(|d| (&d.alert, d.event)).collect();
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
        while sent.front().is_some_and(|t| *t < since) {
            sent.pop_front();
        }
        sent.len()
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

fn log_attempt(channel: &str, id: &str, attempt: &Attempt) {
    match attempt {
        Attempt::Sent => tracing::info!(channel, id, "delivered"),
        Attempt::Retry { error, .. } => tracing::warn!(channel, id, %error, "delivery failed; will retry"),
        Attempt::GiveUp { error } => tracing::warn!(channel, id, %error, "delivery refused"),
    }
}
