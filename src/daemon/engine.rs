//! One poll of one source, end to end.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::broadcast;
use tracing::Instrument as _;

use super::metrics::{Metrics, PollOutcome};
use super::{Clock, Deliverer, parts, polling};
use crate::alert::{self, Alert, AlertState, Delivery, NoticeEvent};
use crate::config::{Config, NoticeConfig, SourceConfig};
use crate::detect::{self, detect};
use crate::model::{AccountRef, BalanceSource, Finding, Notice, Observation, SourceHealth, UnreadRecord, Zone};
use crate::notify::{Channel, Stream};
use crate::source::notices::NoticeSource;
use crate::source::{Source, SourceError};
use crate::store::{Ingest, IngestReport, Store, StoreError};
use crate::text;

/// How far back the first poll of an account reads: its baseline.
const BASELINE: TimeDelta = TimeDelta::days(30);
/// The longest window a poll asks for (SimpleFIN's limit).
const MAX_WINDOW: TimeDelta = TimeDelta::days(90);
/// What ingesting one account of a poll came to: the messages it made owed, or why it failed.
type AccountOutcome = Result<Vec<(Alert, NoticeEvent)>, String>;
/// How often at most `store_failing` is said while the store stays unwritable.
const STORE_ALARM_EVERY: TimeDelta = TimeDelta::hours(1);

/// Accounts written per store transaction. sled pays per transaction, not per record: two log
/// buffers sealed and written, its seven I/O threads woken. Eight accounts in one transaction cut
/// a 10,000-account cycle by a fifth and its system time by 65-80 %; larger groups got slower
/// again, as sled's transactions grow costly with their size (BENCHMARKS.md).
const WRITE_GROUP: usize = 8;

/// An account judged and waiting for its group's write.
struct Judged {
    /// The parts of an observation too large for one store transaction, before `observation`,
    /// its last (see `parts`); empty for most.
    earlier: Vec<Observation>,
    observation: Observation,
    plan: alert::Plan,
    owed: Vec<Delivery>,
}

impl Judged {
    fn ingest(&self) -> Ingest<'_> {
        Ingest { observation: &self.observation, alerts: &self.plan.changed, owed: &self.owed }
    }
}

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
    /// The store could not be written (or read): nothing this poll learned is kept or said.
    pub store_error: Option<StoreError>,
    /// Not polled, to stay within the budget or to wait as the platform asked.
    pub skipped: Option<polling::Skip>,
    /// Records the poll could not read, each said as an `unreadable_record`.
    pub unreadable: Vec<UnreadRecord>,
}

/// What one poll of one notice source did.
#[derive(Debug, Default)]
pub struct NoticeRun {
    pub source: String,
    /// How many notices the source lists.
    pub listed: usize,
    pub notices: Vec<(Alert, NoticeEvent)>,
    pub error: Option<SourceError>,
    /// The store could not be written (or read): nothing this poll learned is kept or said.
    pub store_error: Option<StoreError>,
}

impl SourceRun {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.store_error.is_none() && self.failures.is_empty() && self.skipped.is_none()
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
    /// A reload cannot move what the running daemon holds open.
    #[error("{what} changed from {from} to {to}; a reload keeps it open, so restart payguard to change it")]
    Fixed { what: &'static str, from: String, to: String },
}

pub struct Engine {
    config: Config,
    store: Store,
    sources: Vec<(SourceConfig, Source)>,
    notice_sources: Vec<(NoticeConfig, NoticeSource)>,
    deliverer: Deliverer,
    /// Where each configured account sits in `config.accounts`: a poll looks up every account it
    /// ingests, and a linear search made a cycle quadratic in the accounts.
    account_index: HashMap<AccountRef, usize>,
    /// The account ids each source is asked for, in `sources` order, built once rather than per poll.
    wanted: Vec<Vec<String>>,
    clock: Clock,
    console_stream: Stream,
    notices: broadcast::Sender<(Alert, NoticeEvent)>,
    metrics: Arc<Metrics>,
    /// Why the config file on disk is not the one running, after a reload that failed.
    reload_failure: Mutex<Option<String>>,
    /// The `store_failing` alert as last said, while the store stays unwritable (it cannot be
    /// kept in the store); shared by the engines a reload builds.
    store_alarm: Arc<Mutex<Option<Alert>>>,
}

impl Engine {
    pub fn new(config: Config, store: Store, console_stream: Stream, clock: Clock) -> Result<Engine, SetupError> {
        Engine::build(config, store, console_stream, clock, broadcast::channel(256).0, Arc::default(), Arc::default())
    }

    /// The engine for a new config (a reload): the same store, clock and message stream, so
    /// subscribers and the record carry on; new sources, channels and schedules. The old engine
    /// keeps running until the caller swaps this one in.
    pub fn reconfigure(&self, config: Config) -> Result<Engine, SetupError> {
        let (old, new) = (&self.config.daemon, &config.daemon);
        if old.state_dir != new.state_dir {
            return Err(SetupError::Fixed {
                what: "[daemon] state_dir",
                from: old.state_dir.display().to_string(),
                to: new.state_dir.display().to_string(),
            });
        }
        if old.control_socket != new.control_socket {
            let shown = |p: &Option<std::path::PathBuf>| {
                p.as_ref().map_or("the default".to_owned(), |p| p.display().to_string())
            };
            return Err(SetupError::Fixed {
                what: "[daemon] control_socket",
                from: shown(&old.control_socket),
                to: shown(&new.control_socket),
            });
        }
        if old.control_group != new.control_group {
            let shown =
                |g: &Option<crate::config::ControlGroup>| g.as_ref().map_or("none".to_owned(), |g| g.name.clone());
            return Err(SetupError::Fixed {
                what: "[daemon] control_group",
                from: shown(&old.control_group),
                to: shown(&new.control_group),
            });
        }
        if old.metrics_listen != new.metrics_listen {
            let shown = |a: &Option<std::net::SocketAddr>| a.map_or("off".to_owned(), |a| a.to_string());
            return Err(SetupError::Fixed {
                what: "[daemon] metrics_listen",
                from: shown(&old.metrics_listen),
                to: shown(&new.metrics_listen),
            });
        }
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let shared = (self.notices.clone(), self.metrics.clone(), self.store_alarm.clone());
        Engine::build(config, store, self.console_stream, clock, shared.0, shared.1, shared.2)
    }

    fn build(
        config: Config,
        store: Store,
        console_stream: Stream,
        clock: Clock,
        notices: broadcast::Sender<(Alert, NoticeEvent)>,
        metrics: Arc<Metrics>,
        store_alarm: Arc<Mutex<Option<Alert>>>,
    ) -> Result<Engine, SetupError> {
        let sources = config
            .sources
            .iter()
            .map(|s| {
                let source = Source::new(s).map_err(|error| SetupError::Source { name: s.name.clone(), error })?;
                match store.kind_state(&s.name) {
                    Ok(Some(kept)) => source.restore(&kept),
                    Ok(None) => {}
                    // The kind starts afresh (a new token); the store's trouble is said by the poll.
                    Err(e) => tracing::warn!(source = %s.name, error = %e, "cannot read what the source kept"),
                }
                Ok::<_, SetupError>((s.clone(), source))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let notice_sources = config
            .notices
            .iter()
            .map(|n| {
                NoticeSource::new(n)
                    .map(|source| (n.clone(), source))
                    .map_err(|error| SetupError::Source { name: n.name.clone(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channels = config
            .channels
            .iter()
            .map(|c| {
                Channel::new(c, console_stream)
                    .map(|channel| (c.name.clone(), channel))
                    .map_err(|error| SetupError::Channel { name: c.name.clone(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let deliverer = Deliverer::new(&config, channels, &store, clock.now(), metrics.clone())?;
        let account_index = config.accounts.iter().enumerate().map(|(i, a)| (a.account.clone(), i)).collect();
        let wanted = sources
            .iter()
            .map(|(s, _)| config.accounts_of(&s.name).map(|a| a.account.account.clone()).collect())
            .collect();
        Ok(Engine {
            config,
            store,
            sources,
            notice_sources,
            deliverer,
            account_index,
            wanted,
            clock,
            console_stream,
            notices,
            metrics,
            reload_failure: Mutex::new(None),
            store_alarm,
        })
    }

    /// Remembers that the config on disk failed to load, so the status line says so until a
    /// reload succeeds (which builds a new engine without it).
    pub fn note_reload_failure(&self, error: String) {
        *self.reload_failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    pub fn reload_failure(&self) -> Option<String> {
        self.reload_failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
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

    /// The counters `[daemon] metrics_listen` serves; they outlive reloads.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
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

    pub fn notice_count(&self) -> usize {
        self.notice_sources.len()
    }

    pub fn notice_config(&self, index: usize) -> Option<&NoticeConfig> {
        self.notice_sources.get(index).map(|(c, _)| c)
    }

    /// Polls every notice source, then every source, once, one after another: notices first, so a
    /// failing source is judged with the platform's maintenance already known.
    pub async fn poll_all(&self) -> (Vec<NoticeRun>, Vec<SourceRun>) {
        let mut notices = Vec::new();
        for index in 0..self.notice_sources.len() {
            notices.push(self.poll_notice(index, self.clock.now()).await);
        }
        let mut runs = Vec::new();
        for index in 0..self.sources.len() {
            runs.push(self.poll_source(index, self.clock.now()).await);
        }
        (notices, runs)
    }

    /// Polls one source, stores what it learned with the alerts and deliveries that causes, flushes,
    /// and wakes the delivery worker.
    pub async fn poll_source(&self, index: usize, now: DateTime<Utc>) -> SourceRun {
        let (Some((config, source)), Some(accounts)) = (self.sources.get(index), self.wanted.get(index)) else {
            return SourceRun::default();
        };
        let mut run = SourceRun { source: config.name.clone(), ..SourceRun::default() };
        // A store that cannot keep what a poll learns is not worth a request of the budget.
        let prepared = blocking(|| self.store.recover())
            .and_then(|()| self.store.source_health(&config.name))
            .and_then(|h| Ok((h, self.poll_window_start(config, now)?)));
        let (mut health, since) = match prepared {
            Ok(ready) => ready,
            Err(e) => {
                run.store_error = Some(e);
                self.finish(&config.name, &mut run.notices, &mut run.store_error, now).await;
                return run;
            }
        };
        let cost = config.kind.requests_per_poll(accounts.len());
        if let Err(skip) = polling::may_poll(&config.polling, &health, cost, now) {
            if polling::record_skip(&mut health, &skip, now) {
                // Said once per spent budget, with its alert; the ticks it skips after are quiet.
                tracing::warn!(source = %config.name, reason = %skip, "daily request budget spent: polls are skipped until it frees, and nothing on this source is watched meanwhile");
                self.record_health(config, &health, now, &mut run).await;
            } else if matches!(skip, polling::Skip::Budget { .. }) {
                tracing::debug!(source = %config.name, reason = %skip, "poll skipped");
            } else {
                tracing::info!(source = %config.name, reason = %skip, "poll skipped");
            }
            run.skipped = Some(skip);
            return run;
        }
        if health.budget_spent.is_some() {
            tracing::info!(source = %config.name, "the request budget has room again; polling resumes");
        }
        polling::record_attempt(&mut health, cost, now);
        let fetch =
            || source.poll(accounts, since, now).instrument(tracing::debug_span!("fetch", source = %config.name));
        let mut fetched = fetch().await;
        let mut parts = 0;
        loop {
            match fetched {
                Ok(poll) => {
                    polling::record_success(&mut health, now);
                    polling::record_access(&mut health, poll.consent_until, &poll.quotas);
                    let more = poll.more;
                    self.store_poll(config, poll, now, &mut run);
                    // A part stored and its progress kept, after it in sled's log, so a crash
                    // never keeps progress past the parts it kept: the read goes on at once.
                    if more && run.store_error.is_none() && self.keep_kind_state(config, source, &mut run) {
                        parts += 1;
                        // The read's last poll names every account; a part only those it holds.
                        run.accounts_ok = 0;
                        fetched = fetch().await;
                        continue;
                    }
                    if more {
                        tracing::warn!(source = %config.name, parts, "a read in parts stopped; the next poll goes on from its last stored part");
                    }
                    let failed: Vec<(&str, &str)> =
                        run.failures.iter().map(|f| (f.account.as_str(), f.error.as_str())).collect();
                    let failed_ids: HashSet<&str> = failed.iter().map(|(f, _)| *f).collect();
                    let usable = accounts.iter().map(String::as_str).filter(|a| !failed_ids.contains(a));
                    polling::record_accounts(&mut health, usable, failed.iter().copied());
                }
                Err(error) => {
                    tracing::warn!(source = %config.name, %error, "poll failed");
                    polling::record_failure(&mut health, &error, now);
                    run.error = Some(error);
                }
            }
            break;
        }
        // What a kind keeps may say what it has read: kept only once that is stored.
        if run.store_error.is_none() {
            self.keep_kind_state(config, source, &mut run);
        }
        self.record_health(config, &health, now, &mut run).await;
        let outcome = match (&run.skipped, run.succeeded()) {
            (Some(_), _) => PollOutcome::Skipped,
            (None, true) => PollOutcome::Ok,
            (None, false) => PollOutcome::Failed,
        };
        self.metrics.poll(&config.name, outcome, now);
        run
    }

    /// Stores what one answer learned: its accounts, then the records they came from.
    fn store_poll(
        &self,
        config: &SourceConfig,
        mut poll: crate::source::Poll,
        now: DateTime<Utc>,
        run: &mut SourceRun,
    ) {
        let evidence = std::mem::take(&mut poll.evidence);
        let unreadable = std::mem::take(&mut poll.unreadable);
        for unreadable in &unreadable {
            tracing::warn!(source = %config.name, record = %text::escaped(&unreadable.record), reason = %text::escaped(&unreadable.reason), "a record could not be read; what it states is not watched");
        }
        run.unreadable.extend(unreadable);
        let ingested =
            tracing::debug_span!("accounts").in_scope(|| blocking(|| self.ingest_poll(config, poll, now, run)));
        // The records after what they record: a record never cites what was not stored.
        run.store_error = ingested.and_then(|()| blocking(|| self.store.keep_evidence(&config.name, &evidence))).err();
    }

    /// Stores what the source's kind keeps, when it changed; false when the store refused it.
    fn keep_kind_state(&self, config: &SourceConfig, source: &Source, run: &mut SourceRun) -> bool {
        let Some(kept) = source.kept() else { return true };
        match self.store.set_kind_state(&config.name, &kept) {
            Ok(()) => true,
            Err(e) => {
                run.store_error = Some(e);
                false
            }
        }
    }

    /// Stores the source's health with the alerts it changes, and finishes the poll: flushed, then
    /// announced. A poll whose store write failed records nothing more.
    async fn record_health(
        &self,
        config: &SourceConfig,
        health: &SourceHealth,
        now: DateTime<Utc>,
        run: &mut SourceRun,
    ) {
        if run.store_error.is_none() {
            match self.judge_health(config, health, &run.unreadable, now) {
                Ok(notices) => run.notices.extend(notices),
                Err(e) if e.is_storage() => run.store_error = Some(e),
                Err(e) => tracing::error!(source = %config.name, error = %e, "cannot record the source's health"),
            }
        }
        self.finish(&config.name, &mut run.notices, &mut run.store_error, now).await;
    }

    /// Stores and judges every account of a successful poll. A store that cannot be written stops
    /// it: that is no account's fault, and the next good poll reads the same window again.
    fn ingest_poll(
        &self,
        config: &SourceConfig,
        poll: crate::source::Poll,
        now: DateTime<Utc>,
        run: &mut SourceRun,
    ) -> Result<(), StoreError> {
        for warning in &poll.warnings {
            tracing::warn!(source = %config.name, warning = %warning, "the platform reported a problem");
        }
        for id in &poll.unconfigured {
            tracing::info!(source = %config.name, account = %id, "the source reports an account that no [[account]] names; it is not watched");
        }
        for (account, outcome) in self.ingest_accounts(poll.accounts, now)? {
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
        Ok(())
    }

    /// Ingests every account of a poll, in the order given, on this thread, [`WRITE_GROUP`] at a
    /// time. One thread because sled takes every read behind a lock that each write transaction
    /// holds whole, so a second thread's reads wait on the first's writes (two threads measured: no
    /// faster at 10,000 accounts, one account's p99 ten times slower; BENCHMARKS.md).
    fn ingest_accounts(
        &self,
        accounts: Vec<(String, Result<Observation, SourceError>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, AccountOutcome)>, StoreError> {
        let mut outcomes = Vec::with_capacity(accounts.len());
        let mut accounts = accounts.into_iter().peekable();
        while accounts.peek().is_some() {
            let group: Vec<_> = accounts.by_ref().take(WRITE_GROUP).collect();
            outcomes.extend(self.ingest_group(group, now)?);
        }
        Ok(outcomes)
    }

    /// Judges each account of a group against its own past, then writes them all in one store
    /// transaction. No account reads another's records, so judging all before writing any sees
    /// what judging each just before its own write would. If the group's write fails, each account
    /// is written on its own, so a damaged record fails only its account; a store that cannot be
    /// written at all fails the group and the poll.
    fn ingest_group(
        &self,
        group: Vec<(String, Result<Observation, SourceError>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, AccountOutcome)>, StoreError> {
        let mut outcomes = Vec::with_capacity(group.len());
        let mut judged = Vec::with_capacity(group.len());
        for (account, result) in group {
            // The spans time each account's judging and each group's write (the bench reads them);
            // with nothing listening they cost one check of a cached flag.
            let outcome = match result {
                Ok(observation) => {
                    match tracing::debug_span!("ingest", %account).in_scope(|| self.judge(observation, now)) {
                        Err(e) if e.is_storage() => return Err(e),
                        judged => judged.map_err(|e| e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(Some(large))
                    if !large.earlier.is_empty() || large.observation.balance == BalanceSource::CarriedPart =>
                {
                    outcomes.push((account, self.write_in_parts(large, now)?))
                }
                Ok(Some(account_judged)) => {
                    judged.push((outcomes.len(), account_judged));
                    outcomes.push((account, Ok(Vec::new())));
                }
                Ok(None) => outcomes.push((account, Ok(Vec::new()))),
                Err(e) => outcomes.push((account, Err(e))),
            }
        }
        let writes: Vec<Ingest<'_>> = judged.iter().map(|(_, j)| j.ingest()).collect();
        let mut written = match tracing::debug_span!("write").in_scope(|| self.store.ingest_all(&writes, now)) {
            Ok(reports) => reports.into_iter(),
            Err(error) if error.is_storage() => return Err(error),
            Err(error) => {
                tracing::warn!(%error, accounts = writes.len(), "a group's write failed; writing its accounts one by one");
                Vec::new().into_iter()
            }
        };
        drop(writes);
        for (at, j) in judged {
            let report = match written.next() {
                Some(report) => Ok(report),
                None => self.store.ingest(&j.observation, &j.plan.changed, &j.owed, now),
            };
            outcomes[at].1 = match report {
                Ok(report) => {
                    tracing::debug!(
                        account = %j.observation.account,
                        new = report.new_transactions,
                        updated = report.updated_transactions,
                        notices = j.plan.notices.len(),
                        owed = j.owed.len(),
                        "ingested"
                    );
                    Ok(j.plan.notices)
                }
                Err(e) if e.is_storage() => return Err(e),
                Err(e) => Err(e.to_string()),
            };
        }
        Ok(outcomes)
    }

    /// Stores the source's health with the `source_down` alerts it fires or resolves: the source's
    /// own (which the platform's announced maintenance holds back while it lasts), and one per
    /// account whose data stays unusable; and `budget_exhausted` while the budget is spent.
    fn judge_health(
        &self,
        config: &SourceConfig,
        health: &SourceHealth,
        unreadable: &[UnreadRecord],
        now: DateTime<Utc>,
    ) -> Result<Vec<(Alert, NoticeEvent)>, StoreError> {
        let inhibited = match &config.polling.notice {
            Some(notice) => detect::maintenance_active(&self.store.notices_of(notice)?, now),
            None => false,
        };
        let down_after = config.polling.down_after;
        let mut findings: Vec<_> =
            detect::source_down(&config.name, health, down_after, inhibited, self.zone(), now).into_iter().collect();
        findings.extend(detect::accounts_unreadable(&config.name, health, down_after, now));
        findings.extend(detect::budget_exhausted(&config.name, health, self.zone(), now));
        let renewal = config.kind.get().renewal();
        findings.extend(detect::consent_expiry(
            &config.name,
            health,
            config.polling.consent_warning,
            renewal,
            self.zone(),
            now,
        ));
        findings.extend(detect::unreadable_records(&config.name, unreadable, now));
        let scope = AccountRef::new(config.name.clone(), "");
        let plan = self.plan(&scope, findings, now)?;
        let owed = alert::outbox::enqueue(&plan.notices, &self.config.alerting, now);
        self.store.record_source(&config.name, health, &plan.changed, &owed)?;
        Ok(plan.notices)
    }

    /// The clock findings tell their times on.
    fn zone(&self) -> Zone {
        Zone(self.config.daemon.timezone)
    }

    /// Plans the alerts of one scope (an account, a source, a notice source) from its findings.
    fn plan(&self, scope: &AccountRef, findings: Vec<Finding>, now: DateTime<Utc>) -> Result<alert::Plan, StoreError> {
        let known = self.store.alerts_of(scope)?;
        self.plan_among(known, findings, now)
    }

    /// [`Engine::plan`] for event findings alone: the scope's conditions are left as they stand,
    /// neither fired nor resolved.
    fn plan_events(
        &self,
        scope: &AccountRef,
        findings: Vec<Finding>,
        now: DateTime<Utc>,
    ) -> Result<alert::Plan, StoreError> {
        let mut known = self.store.alerts_of(scope)?;
        known.retain(|alert| !alert.kind().is_condition());
        self.plan_among(known, findings, now)
    }

    fn plan_among(
        &self,
        known: Vec<Alert>,
        mut findings: Vec<Finding>,
        now: DateTime<Utc>,
    ) -> Result<alert::Plan, StoreError> {
        for finding in &mut findings {
            self.metrics.finding(finding.kind.as_str());
            // Every message tells its times on the daemon's clock, whichever detector made it.
            finding.zone = self.zone();
        }
        let silences = self.store.silences()?;
        Ok(alert::plan(&known, findings, now, &self.config.alerting, &silences))
    }

    /// Flushes, then announces and wakes the delivery worker. Not durable means not done: nothing
    /// is announced for data we may lose, and a store that cannot be written is said instead.
    async fn finish(
        &self,
        name: &str,
        notices: &mut Vec<(Alert, NoticeEvent)>,
        store_error: &mut Option<StoreError>,
        now: DateTime<Utc>,
    ) {
        // Flushed even after a failed write, so the store notes the failure for `status`.
        let flushed = self.store.flush().instrument(tracing::debug_span!("flush")).await;
        if let Some(e) = flushed.err().filter(|_| store_error.is_none()) {
            *store_error = Some(e);
        }
        if let Some(e) = store_error {
            tracing::error!(source = %name, error = %e, "cannot write the store: this poll is not kept, and nothing new is judged or sent until it can be");
            notices.clear();
            self.store_alarm(now).await;
            return;
        }
        self.store_calm(now).await;
        for notice in notices.iter() {
            self.metrics.alert(notice.0.finding.kind.as_str(), notice.1.as_str());
            let _ = self.notices.send(notice.clone());
        }
        if !notices.is_empty() {
            self.deliverer.wake();
        }
    }

    /// Says `store_failing` straight to its channels (the outbox is in the store) and to the
    /// message stream: when the failure starts, then at most hourly while it lasts. Quiet hours
    /// hold it as they would hold it in the outbox: it is said by the first failing poll after.
    async fn store_alarm(&self, now: DateTime<Utc>) {
        let Some(failure) = self.store.failure() else { return };
        let finding = detect::store_failing(
            &self.store.path().display().to_string(),
            failure.since,
            &failure.error,
            self.zone(),
            now,
        );
        if self.config.alerting.release_time(finding.severity, now) > now {
            return;
        }
        let said = {
            let mut said = self.store_alarm.lock().unwrap_or_else(PoisonError::into_inner);
            let (alert, event) = match said.take() {
                Some(last) if last.last_notified.is_some_and(|at| now - at < STORE_ALARM_EVERY) => {
                    *said = Some(last);
                    return;
                }
                Some(last) => (Alert { finding, last_seen: now, ..last }, NoticeEvent::Repeat),
                None => (Alert::firing(finding, now), NoticeEvent::Firing),
            };
            let alert = Alert { last_notified: Some(now), ..alert };
            *said = Some(alert.clone());
            (alert, event)
        };
        self.say_directly(said.0, said.1, now).await;
    }

    /// After the store took a write again: says `store_failing` resolved, if it was said.
    async fn store_calm(&self, now: DateTime<Utc>) {
        let Some(said) = self.store_alarm.lock().unwrap_or_else(PoisonError::into_inner).take() else { return };
        tracing::info!(failing_since = %said.first_fired, "the store takes writes again; watching resumes");
        if self.config.alerting.send_resolved {
            let resolved = Alert { state: AlertState::Resolved, resolved_at: Some(now), ..said };
            self.say_directly(resolved, NoticeEvent::Resolved, now).await;
        }
    }

    /// Sends one message to the channels the routes pick for it, now, bypassing the outbox.
    async fn say_directly(&self, alert: Alert, event: NoticeEvent, now: DateTime<Utc>) {
        let f = &alert.finding;
        let channels = self.config.alerting.channels_for(f.severity, Some(f.kind), Some(&f.account));
        self.metrics.alert(f.kind.as_str(), event.as_str());
        self.deliverer.send_directly(&alert, event, &channels, now).await;
        let _ = self.notices.send((alert, event));
    }

    /// Applies retention to every account: what is older than `[daemon] retention` goes.
    pub fn prune(&self, now: DateTime<Utc>) {
        let before = now - self.config.daemon.retention;
        for account in &self.config.accounts {
            match self.store.prune(&account.account, before, now) {
                Ok(p) if p.snapshots + p.transactions > 0 => {
                    tracing::info!(account = %account.account, snapshots = p.snapshots, transactions = p.transactions, "pruned")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(account = %account.account, error = %e, "cannot prune"),
            }
        }
        if let Err(e) = self.store.flush_blocking() {
            tracing::error!(error = %e, "cannot flush after pruning");
        }
    }

    /// Polls one notice source: stores what it lists, with the maintenance and incident alerts.
    pub async fn poll_notice(&self, index: usize, now: DateTime<Utc>) -> NoticeRun {
        let Some((config, source)) = self.notice_sources.get(index) else {
            return NoticeRun::default();
        };
        let mut run = NoticeRun { source: config.name.clone(), ..NoticeRun::default() };
        if let Err(e) = blocking(|| self.store.recover()) {
            run.store_error = Some(e);
        } else {
            match source.poll(now).await {
                Ok(current) => {
                    run.listed = current.len();
                    match self.record_notices(config, &current, now) {
                        Ok(notices) => run.notices = notices,
                        Err(e) if e.is_storage() => run.store_error = Some(e),
                        Err(e) => run.error = Some(SourceError::Setup(format!("cannot store the notices: {e}"))),
                    }
                }
                Err(error) => {
                    tracing::warn!(notice = %config.name, %error, "notice poll failed");
                    run.error = Some(error);
                }
            }
        }
        self.finish(&config.name, &mut run.notices, &mut run.store_error, now).await;
        run
    }

    fn record_notices(
        &self,
        config: &NoticeConfig,
        current: &[Notice],
        now: DateTime<Utc>,
    ) -> Result<Vec<(Alert, NoticeEvent)>, StoreError> {
        let previous = self.store.notices_of(&config.name)?;
        let findings = detect::notices(current, &previous, config.lead_time, self.zone(), now);
        let plan = self.plan(&AccountRef::new(config.name.clone(), ""), findings, now)?;
        let owed = alert::outbox::enqueue(&plan.notices, &self.config.alerting, now);
        self.store.record_notices(&config.name, current, &plan.changed, &owed)?;
        Ok(plan.notices)
    }

    /// Judges one account against its past: the alerts its findings change and the deliveries they
    /// owe, not yet written. `None` for an account no `[[account]]` watches.
    fn judge(&self, mut observation: Observation, now: DateTime<Utc>) -> Result<Option<Judged>, StoreError> {
        let Some(account) = self.account_index.get(&observation.account).and_then(|i| self.config.accounts.get(*i))
        else {
            return Ok(None);
        };
        let history = tracing::debug_span!("history")
            .in_scope(|| self.store.history(&observation, account.rules.lookback(), now))?;
        if observation.balance != BalanceSource::Platform {
            observation.snapshot.balance = parts::carried(&observation, &history);
        }
        let findings = detect(&account.rules, &history, &observation, now);
        let plan = match observation.balance {
            // A part's balance is one the read passes through: its conditions wait for the last part.
            BalanceSource::CarriedPart => {
                let events = findings.into_iter().filter(|f| !f.kind.is_condition()).collect();
                self.plan_events(&observation.account, events, now)?
            }
            _ => self.plan(&observation.account, findings, now)?,
        };
        let owed = alert::outbox::enqueue(&plan.notices, &self.config.alerting, now);
        let (earlier, observation) = parts::split(observation, &history);
        Ok(Some(Judged { earlier, observation, plan, owed }))
    }

    /// Writes a large observation part by part, its alerts with the first (see `parts`).
    fn write_in_parts(&self, judged: Judged, now: DateTime<Utc>) -> Result<AccountOutcome, StoreError> {
        let Judged { earlier, observation, plan, owed } = judged;
        let mut alerts = (plan.changed.as_slice(), owed.as_slice());
        let mut report = IngestReport::default();
        // The last part of a read's last poll writes the account's record; a read's earlier polls
        // leave it, as the earlier parts of one poll do.
        let last = if observation.balance == BalanceSource::CarriedPart { usize::MAX } else { earlier.len() };
        for (at, part) in earlier.iter().chain([&observation]).enumerate() {
            let written = match at == last {
                true => self.store.ingest(part, alerts.0, alerts.1, now),
                false => self.store.ingest_part(&Ingest { observation: part, alerts: alerts.0, owed: alerts.1 }),
            };
            match written {
                Ok(part) => {
                    report.new_transactions += part.new_transactions;
                    report.updated_transactions += part.updated_transactions;
                }
                Err(e) if e.is_storage() => return Err(e),
                Err(e) => return Ok(Err(e.to_string())),
            }
            alerts = (&[], &[]);
        }
        tracing::debug!(
            account = %observation.account,
            new = report.new_transactions,
            updated = report.updated_transactions,
            parts = earlier.len() + 1,
            notices = plan.notices.len(),
            owed = owed.len(),
            "ingested in parts"
        );
        Ok(Ok(plan.notices))
    }

    /// Where this poll's transaction window starts: the oldest of the accounts' last polls, less
    /// the overlap; a month back for an account never polled.
    fn poll_window_start(&self, source: &SourceConfig, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let mut since = now;
        for account in self.config.accounts_of(&source.name) {
            let start = match self.store.account(&account.account)? {
                Some(record) => record.last_poll_at - source.polling.overlap,
                None => now - BASELINE,
            };
            since = since.min(start);
        }
        // SimpleFIN bridges serve at most 90 days; others get the same bound, which no sane overlap
        // reaches.
        Ok(since.max(now - BASELINE.max(source.polling.overlap).min(MAX_WINDOW)))
    }
}

/// Runs store work (sled reads and writes, seconds of them for a poll of 10,000 accounts) from
/// async code. On a multi-threaded runtime, the daemon's, the worker first hands its other tasks
/// to another thread, so a big poll never stalls the control socket, the metrics or another
/// source's schedule; a current-thread runtime has no other worker to hand them to and just runs it.
pub(super) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Load, Simulator};

    /// While a poll's store work blocks its worker, the runtime's other tasks still run: here the
    /// work, on the runtime's only worker, waits for a message that only another task sends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn store_work_lets_the_other_tasks_run() {
        let on_the_worker = tokio::spawn(async {
            let (tx, rx) = std::sync::mpsc::channel();
            let sender = tokio::spawn(async move { tx.send("ran") });
            // Without the hand-off this would wait out the whole timeout and fail.
            let received = blocking(|| rx.recv_timeout(std::time::Duration::from_secs(60)));
            (received, sender.await)
        });
        let (received, sent) = on_the_worker.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(received, Ok("ran"));
        assert!(matches!(sent, Ok(Ok(()))));
    }

    #[tokio::test]
    async fn store_work_runs_in_place_on_a_current_thread_runtime() {
        assert_eq!(blocking(|| 7), 7);
    }

    /// A poll of many accounts from the generated bank stores every account once, in one unbroken
    /// audit chain, and its large debits fire.
    #[tokio::test]
    async fn a_big_poll_is_ingested_whole() {
        let accounts = 129;
        let start = Utc::now() - TimeDelta::hours(3);
        let load = Load { accounts, per_poll: 3, first_poll_at: start, interval: TimeDelta::hours(1) };
        let sim = Simulator::start_load(load.clone()).await.unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut text = format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"load\"\nkind = \"simplefin\"\naccess_url = \"{}\"\n\
             schedule = \"0 * * * *\"\nmax_requests_per_day = 1000\n",
            dir.path().display(),
            sim.access_url()
        );
        for i in 0..accounts {
            text.push_str(&format!(
                "\n[[account]]\nsource = \"load\"\nid = \"{}\"\nlarge_debit = \"500.00\"\n",
                Load::account_id(i)
            ));
        }
        let config = Config::parse(&text, std::path::Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let engine = Engine::new(config, store, Stream::Stderr, Clock::manual(start)).unwrap_or_else(|e| panic!("{e}"));
        let mut large_debits = 0;
        for poll in 0..3 {
            let now = load.poll_time(poll) + TimeDelta::seconds(1);
            let run = engine.poll_source(0, now).await;
            assert!(run.succeeded(), "{:?} {:?}", run.error, run.failures.first());
            assert_eq!(run.accounts_ok, accounts);
            large_debits += run.notices.len();
        }
        // One account in a hundred takes a large debit per answer; the baseline poll says nothing.
        assert!(large_debits > 0);
        let store = engine.store();
        for i in [0, 64, accounts - 1] {
            let account = AccountRef::new("load", Load::account_id(i));
            let stored = store.transactions_between(&account, start - TimeDelta::days(1), None).unwrap_or_default();
            assert_eq!(stored.len(), 9, "account {i}");
        }
        let audit = store.verify_audit().unwrap_or_else(|e| panic!("{e}"));
        assert!(audit.is_intact(), "{:?}", audit.broken);
        assert!(audit.entries >= 3 * accounts as u64);
    }
}
