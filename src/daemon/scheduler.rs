//! Runs each source and notice source on its cron schedule until shutdown.

use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::engine::blocking;
use super::{Engine, service, status_line};
use crate::config::Schedule;

/// Polls every source and notice source on its schedule and works the outbox until `shutdown` is
/// cancelled, then waits for the polls and deliveries in flight to finish (a poll is never cut
/// between its store write and its flush).
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    for index in 0..engine.notice_count() {
        let Some(config) = engine.notice_config(index).cloned() else { continue };
        let engine = engine.clone();
        tracker.spawn(on_schedule(engine.clone(), config.name, config.schedule, shutdown.clone(), move || {
            let engine = engine.clone();
            async move {
                let run = engine.poll_notice(index, engine.clock().now()).await;
                if run.error.is_none() {
                    tracing::info!(notice = %run.source, listed = run.listed, notices = run.notices.len(), "notice poll done");
                }
                service::status(&status_line(&engine));
            }
        }));
    }
    for index in 0..engine.source_count() {
        let Some(config) = engine.source_config(index).cloned() else { continue };
        let engine = engine.clone();
        tracker.spawn(on_schedule(engine.clone(), config.name, config.schedule, shutdown.clone(), move || {
            let engine = engine.clone();
            async move {
                let run = engine.poll_source(index, engine.clock().now()).await;
                if run.succeeded() {
                    tracing::info!(source = %run.source, accounts = run.accounts_ok, notices = run.notices.len(), "poll done");
                }
                service::status(&status_line(&engine));
            }
        }));
    }
    // Retention runs once a day, in the quiet of the night on the configured clock.
    if let Ok(nightly) = Schedule::parse("17 3 * * *") {
        let engine = engine.clone();
        tracker.spawn(on_schedule(engine.clone(), "retention".to_owned(), nightly, shutdown.clone(), move || {
            let engine = engine.clone();
            async move { blocking(|| engine.prune(engine.clock().now())) }
        }));
    }
    let deliveries = engine.clone();
    let stop = shutdown.clone();
    tracker.spawn(async move { deliveries.deliverer().run(deliveries.store(), deliveries.clock(), stop).await });
    tracker.close();
    tracker.wait().await;
}

/// Calls `work` at every time `schedule` fires, until `shutdown`. A run that overruns the next
/// time skips it rather than piling up; a run that panics is logged and the schedule goes on, so
/// one bad poll never ends the watching of a source.
async fn on_schedule<F, W>(engine: Arc<Engine>, name: String, schedule: Schedule, shutdown: CancellationToken, work: W)
where
    W: Fn() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let tz = engine.config().daemon.timezone;
    loop {
        let now = engine.clock().now();
        let Some(next) = schedule.next_after(now, tz) else {
            tracing::error!(%name, schedule = schedule.as_str(), "the schedule never fires again; no longer polled");
            return;
        };
        tracing::debug!(%name, next = %next, "next poll");
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = tokio::spawn(work()).await {
            tracing::error!(%name, error = %e, "a scheduled run failed; the schedule goes on");
        }
    }
}
