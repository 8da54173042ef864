//! `payguard run`: the daemon.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::{exit, load_config, open_store};
use crate::control;
use crate::daemon::{self, Clock, Engine};
use crate::notify::Stream;

pub async fn run(path: &Path) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    tracing::info!(config = %config.path.display(), sources = config.sources.len(), accounts = config.accounts.len(), "payguard started");
    let engine = Arc::new(Engine::new(config, store, Stream::Stdout, Clock::System).context("cannot set up payguard")?);
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let socket = control::socket_path(engine.config());
    let control = tokio::spawn(control::serve(engine.clone(), socket.clone(), shutdown.clone()));
    daemon::run(engine.clone(), shutdown).await;
    if let Ok(Err(e)) = control.await {
        tracing::error!(socket = %socket.display(), error = %e, "the control socket failed; commands opened the store instead");
    }
    engine.store().flush().await.context("cannot flush the store on shutdown")?;
    tracing::info!("payguard stopped");
    Ok(exit::OK)
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
    shutdown.cancel();
}
