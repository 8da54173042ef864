//! Runs each source on its cron schedule until shutdown.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Engine;

/// Polls every source on its schedule and works the outbox until `shutdown` is cancelled, then
/// waits for the polls and deliveries in flight to finish (a poll is never cut between its store
/// write and its flush).
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    for index in 0..engine.source_count() {
        tracker.spawn(source_loop(engine.clone(), index, shutdown.clone()));
    }
    let deliveries = engine.clone();
    let stop = shutdown.clone();
    tracker.spawn(async move { deliveries.deliverer().run(deliveries.store(), deliveries.clock(), stop).await });
    tracker.close();
    tracker.wait().await;
}

async fn source_loop(engine: Arc<Engine>, index: usize, shutdown: CancellationToken) {
    let Some(config) = engine.source_config(index).cloned() else {
        return;
    };
    let tz = engine.config().daemon.timezone;
    loop {
        let now = engine.clock().now();
        let Some(next) = config.schedule.next_after(now, tz) else {
            tracing::error!(source = %config.name, schedule = config.schedule.as_str(), "the schedule never fires again; this source is no longer polled");
            return;
        };
        tracing::debug!(source = %config.name, next = %next, "next poll");
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let run = engine.poll_source(index, engine.clock().now()).await;
        if run.succeeded() {
            tracing::info!(source = %run.source, accounts = run.accounts_ok, notices = run.notices.len(), "poll done");
        }
    }
}
