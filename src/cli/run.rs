//! `payguard run`: the daemon, under a service manager or not. Signals become requests: SIGHUP
//! reloads the config, SIGTERM and SIGINT stop it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{exit, load_config, open_store};
use crate::config::Secrets;
use crate::control;
use crate::daemon::{self, Clock, Engine, Request, Stopped};
use crate::notify::Stream;

/// How long a stop waits for polls and deliveries in flight; well inside the unit's
/// `TimeoutStopSec=60s`, so payguard flushes its store before systemd would kill it.
const GRACE: Duration = Duration::from_secs(30);

pub async fn run(path: &Path) -> anyhow::Result<u8> {
    let config = load_config(path, Secrets::Resolve)?;
    crate::tls_roots::require()?;
    let store = open_store(&config)?;
    tracing::info!(config = %config.path.display(), sources = config.sources.len(), accounts = config.accounts.len(), "payguard started");
    let engine = Arc::new(Engine::new(config, store, Stream::Stdout, Clock::System).context("cannot set up payguard")?);
    let (engines, running) = watch::channel(engine.clone());
    let running_metrics = running.clone();
    let (requests, received) = mpsc::channel(4);
    // Listened for before anything can say READY: a SIGHUP that came before its handler would
    // end the process (its default), so a reload just after a start would stop payguard.
    tokio::spawn(requests_from_signals(listen_for_signals(), requests.clone()));
    let socket = control::socket_path(engine.config());
    let listeners = CancellationToken::new();
    let control = match control::bind_shared(&socket, engine.config().daemon.control_group.as_ref()) {
        Ok(listener) => Some(tokio::spawn(control::serve(running, requests, listener, socket, listeners.clone()))),
        Err(e) => {
            // The daemon still watches the money; commands then say the store is in use.
            tracing::error!(socket = %socket.display(), error = %e, "cannot open the control socket");
            None
        }
    };
    if let Some(addr) = engine.config().daemon.metrics_listen {
        match daemon::metrics::bind(addr).await {
            Ok(listener) => drop(tokio::spawn(daemon::metrics::serve(listener, running_metrics, listeners.clone()))),
            // Metrics are for the operator; the money is watched all the same.
            Err(e) => tracing::error!(%addr, error = %e, "cannot serve metrics"),
        }
    }
    let store = engine.store().clone();
    // Only `engines` holds the engine from here, so the one a reload replaces is freed.
    drop(engine);
    let stopped = daemon::supervise(engines, path.to_owned(), received, GRACE).await;
    listeners.cancel();
    if let Some(control) = control {
        let _ = control.await;
    }
    store.flush().await.context("cannot flush the store on shutdown")?;
    match stopped {
        Stopped::Cleanly => tracing::info!("payguard stopped"),
        Stopped::GraceExpired => tracing::warn!("payguard stopped with work in flight"),
    }
    Ok(exit::OK)
}

/// SIGTERM, SIGINT and SIGHUP, handled from the moment this returns.
type Signals = (tokio::signal::unix::Signal, tokio::signal::unix::Signal, tokio::signal::unix::Signal);

fn listen_for_signals() -> Option<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup())) {
        (Ok(term), Ok(int), Ok(hup)) => Some((term, int, hup)),
        _ => None,
    }
}

/// Turns SIGHUP into [`Request::Reload`] and SIGTERM or SIGINT into [`Request::Stop`].
async fn requests_from_signals(signals: Option<Signals>, requests: mpsc::Sender<Request>) {
    let Some((mut term, mut int, mut hup)) = signals else {
        tracing::error!("cannot listen for signals; stop payguard with SIGKILL");
        return;
    };
    loop {
        let request = tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); Request::Stop }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); Request::Stop }
            _ = hup.recv() => { tracing::info!("SIGHUP: reloading the configuration"); Request::Reload(None) }
        };
        let stop = matches!(request, Request::Stop);
        if requests.send(request).await.is_err() || stop {
            return;
        }
    }
}
