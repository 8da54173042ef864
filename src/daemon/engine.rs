//! One poll of one source, end to end.

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::broadcast;

use super::{Clock, Deliverer};
use crate::alert::{self, Alert, NoticeEvent};
use crate::config::{Config, SourceConfig};
use crate::detect::detect;
use crate::model::Observation;
use crate::notify::{Channel, Stream};
use crate::source::{Source, SourceError};
use crate::store::{Store, StoreError};

/// How far back the first poll of an account reads: its baseline.
const BASELINE: TimeDelta = TimeDelta::days(30);
/// Later polls re-read this much before the last one, so transactions that post late are caught.
const OVERLAP: TimeDelta = TimeDelta::days(5);

/// An account that could not be checked in a poll.
#[derive(Debug, Clone)]
pub struct AccountFailure {
    pub account: String,
    pub error: String,
}

/// What one poll of one source did.
#[derive(Debug, Default)]
pub struct SourceRun {
    pub source: String,
    /// The messages this poll made owed, with their alerts (stored and in the outbox already).
    pub notices: Vec<(Alert, NoticeEvent)>,
    pub accounts_ok: usize,
    /// Accounts whose data was unusable or missing.
    pub failures: Vec<AccountFailure>,
    /// The whole source failed: nothing was learned.
    pub error: Option<SourceError>,
}

impl SourceRun {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.failures.is_empty()
    }
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("source {name}: {error}")]
    Source { name: String, error: SourceError },
    #[error("channel {name}: {error}")]
    Channel { name: String, error: crate::notify::DeliveryError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Engine {
    config: Config,
    store: Store,
    sources: Vec<(SourceConfig, Source)>,
    deliverer: Deliverer,
    clock: Clock,
    notices: broadcast::Sender<(Alert, NoticeEvent)>,
}

impl Engine {
    pub fn new(config: Config, store: Store, console: Stream, clock: Clock) -> Result<Engine, SetupError> {
        let sources = config
            .sources
            .iter()
            .map(|s| {
                Source::new(s)
                    .map(|source| (s.clone(), source))
                    .map_err(|error| SetupError::Source { name: s.name.clone(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channels = config
            .channels
            .iter()
            .map(|c| {
                Channel::new(c, console)
                    .map(|channel| (c.name.clone(), channel))
                    .map_err(|error| SetupError::Channel { name: c.name.clone(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let deliverer = Deliverer::new(&config, channels, &store, clock.now())?;
        let (notices, _) = broadcast::channel(256);
        Ok(Engine { config, store, sources, deliverer, clock, notices })
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn deliverer(&self) -> &Deliverer {
        &self.deliverer
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every message that becomes owed, as its poll is stored (for the demo, and the desktop agent).
    pub fn subscribe(&self) -> broadcast::Receiver<(Alert, NoticeEvent)> {
        self.notices.subscribe()
    }

    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    pub fn source_config(&self, index: usize) -> Option<&SourceConfig> {
        self.sources.get(index).map(|(c, _)| c)
    }

    /// Polls every source once, one after another.
    pub async fn poll_all(&self) -> Vec<SourceRun> {
        let mut runs = Vec::new();
        for index in 0..self.sources.len() {
            runs.push(self.poll_source(index, self.clock.now()).await);
        }
        runs
    }

    /// Polls one source, stores what it learned with the alerts and deliveries that causes, flushes,
    /// and wakes the delivery worker.
    pub async fn poll_source(&self, index: usize, now: DateTime<Utc>) -> SourceRun {
        let Some((config, source)) = self.sources.get(index) else {
            return SourceRun::default();
        };
        let mut run = SourceRun { source: config.name.clone(), ..SourceRun::default() };
        let accounts: Vec<String> = self.config.accounts_of(&config.name).map(|a| a.account.account.clone()).collect();
        let since = match self.poll_window_start(config, now) {
            Ok(since) => since,
            Err(e) => {
                run.error = Some(SourceError::Setup(format!("cannot read the store: {e}")));
                return run;
            }
        };
        let poll = match source.poll(&accounts, since, now).await {
            Ok(poll) => poll,
            Err(error) => {
                tracing::warn!(source = %config.name, %error, "poll failed");
                run.error = Some(error);
                return run;
            }
        };
        for warning in &poll.warnings {
            tracing::warn!(source = %config.name, warning = %warning, "the platform reported a problem");
        }
        for id in &poll.unconfigured {
            tracing::info!(source = %config.name, account = %id, "the source reports an account that no [[account]] names; it is not watched");
        }
        for (account, result) in poll.accounts {
            let outcome =
                result.map_err(|e| e.to_string()).and_then(|obs| self.ingest(&obs, now).map_err(|e| e.to_string()));
            match outcome {
                Ok(notices) => {
                    run.accounts_ok += 1;
                    run.notices.extend(notices);
                }
                Err(error) => {
                    tracing::warn!(source = %config.name, %account, %error, "account not checked");
                    run.failures.push(AccountFailure { account, error });
                }
            }
        }
        if let Err(e) = self.store.flush().await {
            // Not durable means not done: nothing is announced for data we may lose.
            tracing::error!(source = %config.name, error = %e, "cannot flush the store");
            run.error = Some(SourceError::Setup(format!("cannot flush the store: {e}")));
            run.notices.clear();
            return run;
        }
        for notice in &run.notices {
            let _ = self.notices.send(notice.clone());
        }
        if !run.notices.is_empty() {
            self.deliverer.wake();
        }
        run
    }

    /// Judges one observation and writes it with the alerts it changed and the deliveries they owe,
    /// atomically.
    fn ingest(&self, observation: &Observation, now: DateTime<Utc>) -> Result<Vec<(Alert, NoticeEvent)>, StoreError> {
        let Some(account) = self.config.account(&observation.account) else {
            return Ok(Vec::new());
        };
        let history = self.store.history(observation, account.rules.lookback(), now)?;
        let findings = detect(&account.rules, &history, observation, now);
        let known = self.store.alerts_of(&observation.account)?;
        let silences = self.store.silences()?;
        let plan = alert::plan(&known, findings, now, &self.config.alerting, &silences);
        let owed = alert::outbox::enqueue(&plan.notices, &self.config.alerting, now);
        let report = self.store.ingest(observation, &plan.changed, &owed, now)?;
        tracing::debug!(
            account = %observation.account,
            new = report.new_transactions,
            updated = report.updated_transactions,
            notices = plan.notices.len(),
            owed = owed.len(),
            "ingested"
        );
        Ok(plan.notices)
    }

    /// Where this poll's transaction window starts: the oldest of the accounts' last polls, less
    /// the overlap; a month back for an account never polled.
    fn poll_window_start(&self, source: &SourceConfig, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let mut since = now;
        for account in self.config.accounts_of(&source.name) {
            let start = match self.store.account(&account.account)? {
                Some(record) => record.last_poll_at - OVERLAP,
                None => now - BASELINE,
            };
            since = since.min(start);
        }
        Ok(since.max(now - BASELINE))
    }
}
