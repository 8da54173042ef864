//! The watchdog: pings the service manager at half its interval, and only while the daemon is
//! healthy, so systemd restarts a payguard whose store hangs or whose runtime has stalled instead
//! of trusting one that no longer watches the money.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::Engine;

/// Every half `interval`, runs `check`; pings when it passes within that half, says why not when
/// it does not. Returns on `shutdown`.
pub async fn keep_alive<C, F>(interval: Duration, mut check: C, ping: impl Fn(), shutdown: CancellationToken)
where
    C: FnMut() -> F,
    F: Future<Output = Result<(), String>>,
{
    let period = interval / 2;
    let mut ticks = tokio::time::interval(period);
    // After a stall, one ping at once and the cadence from there, not a burst of catch-up pings.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let verdict = match tokio::time::timeout(period, check()).await {
            Ok(verdict) => verdict,
            Err(_) => Err(format!("the health check did not answer within {period:?}")),
        };
        match verdict {
            Ok(()) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("healthy again; pinging the watchdog");
                }
                ping();
            }
            Err(why) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::error!(%why, "unhealthy: not pinging the watchdog, so the service manager restarts payguard if this lasts");
                }
            }
        }
    }
}

/// The daemon's health: the running engine's store answers a read. Blocking sled calls run off
/// the async workers, so a hung disk shows as a timeout rather than a stalled runtime.
pub async fn store_answers(engine: Arc<Engine>) -> Result<(), String> {
    match tokio::task::spawn_blocking(move || engine.store().responsive()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("the store does not answer: {e}")),
        Err(e) => Err(format!("the store check failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    const INTERVAL: Duration = Duration::from_secs(10);

    /// Runs the watchdog for `span` of paused time and counts its pings.
    async fn pings_over(span: Duration, healthy: Arc<AtomicBool>, pings: Arc<AtomicUsize>) -> CancellationToken {
        let shutdown = CancellationToken::new();
        let check = move || {
            let healthy = healthy.clone();
            async move { if healthy.load(Ordering::SeqCst) { Ok(()) } else { Err("sick".to_owned()) } }
        };
        let counter = pings.clone();
        tokio::spawn(keep_alive(
            INTERVAL,
            check,
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
            },
            shutdown.clone(),
        ));
        tokio::time::sleep(span).await;
        shutdown
    }

    #[tokio::test(start_paused = true)]
    async fn pings_at_half_the_interval_while_healthy() {
        let pings = Arc::new(AtomicUsize::new(0));
        // The first tick is at once, then one every 5 s: 0, 5, …, 60 s is 13 pings.
        let shutdown = pings_over(Duration::from_millis(60_001), Arc::new(AtomicBool::new(true)), pings.clone()).await;
        assert_eq!(pings.load(Ordering::SeqCst), 13);
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn stops_pinging_while_unhealthy_and_resumes_after() {
        let (healthy, pings) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicUsize::new(0)));
        let shutdown = pings_over(Duration::from_millis(10_001), healthy.clone(), pings.clone()).await;
        assert_eq!(pings.load(Ordering::SeqCst), 3, "0, 5 and 10 s");
        healthy.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(pings.load(Ordering::SeqCst), 3, "no ping while sick");
        healthy.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(pings.load(Ordering::SeqCst), 4, "pinging again once well");
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_hangs_is_unhealthy() {
        let pings = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let counter = pings.clone();
        let hang = || std::future::pending::<Result<(), String>>();
        tokio::spawn(keep_alive(
            INTERVAL,
            hang,
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
            },
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(pings.load(Ordering::SeqCst), 0);
        shutdown.cancel();
    }
}
