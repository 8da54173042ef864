//! The daemon's life: one generation of schedules per config, swapped whole on reload, and an
//! orderly, bounded stop. What the service manager hears (ready, reloading, status, watchdog,
//! stopping) is said here, at the moments it describes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Engine, service, status_line, watchdog};
use crate::config::Config;

/// What the daemon is asked to do (by a signal, in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Read the config file again and run it, or keep the running one if it is bad.
    Reload,
    /// Finish what is in flight and stop.
    Stop,
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every poll and delivery in flight finished.
    Cleanly,
    /// Work was still in flight when the grace period ended; the outbox keeps what was not sent.
    GraceExpired,
}

/// Runs the engine in `engines` until a [`Request::Stop`] (or every request sender is gone). Each
/// reload loads `config_path` and, when it is good, stops the running generation (letting its work
/// finish) and starts the new one; `engines` always holds the engine that runs, for the control
/// socket.
pub async fn supervise(
    engines: watch::Sender<Arc<Engine>>,
    config_path: PathBuf,
    mut requests: mpsc::Receiver<Request>,
    grace: Duration,
) -> Stopped {
    let mut engine = engines.borrow().clone();
    let pinging = CancellationToken::new();
    if let Some(interval) = service::watchdog_interval() {
        let engines = engines.subscribe();
        let check = move || watchdog::store_answers(engines.borrow().clone());
        tokio::spawn(watchdog::keep_alive(interval, check, service::watchdog, pinging.clone()));
    }
    let mut generation = Generation::start(engine.clone());
    service::ready(&status_line(&engine));
    while let Some(Request::Reload) = requests.recv().await {
        service::reloading();
        match load(&engine, &config_path) {
            Ok(next) => {
                generation.finish().await;
                engine = Arc::new(next);
                engines.send_replace(engine.clone());
                generation = Generation::start(engine.clone());
                tracing::info!(config = %config_path.display(), sources = engine.config().sources.len(), accounts = engine.config().accounts.len(), "configuration reloaded");
            }
            Err(error) => {
                tracing::error!(%error, "the configuration was not reloaded; the previous one keeps running");
                engine.note_reload_failure(error);
            }
        }
        service::ready(&status_line(&engine));
    }
    service::stopping();
    let stopped = match tokio::time::timeout(grace, generation.finish()).await {
        Ok(()) => Stopped::Cleanly,
        Err(_) => {
            tracing::error!(
                grace = ?grace,
                "polls or deliveries were still in flight when the grace period ended; undelivered alerts stay in the outbox for the next start"
            );
            Stopped::GraceExpired
        }
    };
    pinging.cancel();
    stopped
}

/// The engine a reload would run, or why the file on disk cannot run.
fn load(engine: &Engine, path: &std::path::Path) -> Result<Engine, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    engine.reconfigure(config).map_err(|e| format!("{}: {e}", path.display()))
}

/// The schedules and the delivery worker of one config.
struct Generation {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Generation {
    fn start(engine: Arc<Engine>) -> Generation {
        let stop = CancellationToken::new();
        let task = tokio::spawn(super::run(engine, stop.clone()));
        Generation { stop, task }
    }

    /// Stops scheduling and waits for the work in flight.
    async fn finish(&mut self) {
        self.stop.cancel();
        if let Err(e) = (&mut self.task).await {
            tracing::error!(error = %e, "the daemon's schedules ended abnormally");
        }
    }
}
