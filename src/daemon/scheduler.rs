//! Runs each source on its cron schedule until shutdown.

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Engine;

/// Polls every source on its schedule until `shutdown` is cancelled, then waits for the polls in
/// flight to finish (a poll is never cut between its store write and its flush).
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    for index in 0..engine.source_count() {
        tracker.spawn(source_loop(engine.clone(), index, shutdown.clone()));
    }
    tracker.close();
    tracker.wait().await;
}

async fn source_loop(engine: Arc<Engine>, index: usize, shutdown: CancellationToken) {
    let Some(config) = engine.source_config(index).cloned() else {
        return;
    };
    let tz = engine.config().daemon.timezone;
    loop {
        let now = Utc::now();
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
        let run = engine.poll_source(index, Utc::now()).await;
        if run.succeeded() {
            tracing::info!(source = %run.source, accounts = run.accounts_ok, fired = run.fired.len(), "poll done");
        }
        engine.deliver(&run.fired).await;
    }
}
