//! `payguard run`: the daemon.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::{exit, load_config, open_store};
use crate::control;
use crate::daemon::{self, Clock, Engine, service};
use crate::notify::Stream;

pub async fn run(path: &Path) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    tracing::info!(config = %config.path.display(), sources = config.sources.len(), accounts = config.accounts.len(), "payguard started");
    let engine = Arc::new(Engine::new(config, store, Stream::Stdout, Clock::System).context("cannot set up payguard")?);
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let socket = control::socket_path(engine.config());
    let control = match control::bind(&socket) {
        Ok(listener) => Some(tokio::spawn(control::serve(engine.clone(), listener, socket, shutdown.clone()))),
        Err(e) => {
            // The daemon still watches the money; commands then say the store is in use.
            tracing::error!(socket = %socket.display(), error = %e, "cannot open the control socket");
            None
        }
    };
    let daemon = tokio::spawn(daemon::run(engine.clone(), shutdown));
    service::ready(&summary(&engine));
    daemon.await.context("the daemon's tasks failed")?;
    if let Some(control) = control {
        let _ = control.await;
    }
    engine.store().flush().await.context("cannot flush the store on shutdown")?;
    tracing::info!("payguard stopped");
    Ok(exit::OK)
}

/// "2 accounts, 0 firing, next poll 12:15": what `systemctl status` shows.
fn summary(engine: &Engine) -> String {
    let config = engine.config();
    let now = engine.clock().now();
    let firing = engine
        .store()
        .all_alerts()
        .map_or(0, |alerts| alerts.iter().filter(|a| a.state == crate::alert::AlertState::Firing).count());
    let next = config
        .sources
        .iter()
        .map(|s| &s.schedule)
        .chain(config.notices.iter().map(|n| &n.schedule))
        .filter_map(|schedule| schedule.next_after(now, config.daemon.timezone))
        .min()
        .map(|t| t.with_timezone(&config.daemon.timezone).format("%H:%M").to_string())
        .unwrap_or_else(|| "never".to_owned());
    format!("{} accounts, {firing} firing, next poll {next}", config.accounts.len())
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT; stop payguard with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
    service::stopping();
    shutdown.cancel();
}
