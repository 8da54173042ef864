//! The daemon's life: one generation of schedules per config, swapped whole on reload, and an
//! orderly, bounded stop. What the service manager hears (ready, reloading, status, watchdog,
//! stopping) is said here, at the moments it describes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Engine, service, status_line, watchdog};
use crate::config::Config;

/// What the daemon is asked to do (by a signal, or `payguard reload` on the control socket).
#[derive(Debug)]
pub enum Request {
    /// Read the config file again and run it, or keep the running one if it is bad. The outcome
    /// goes to the sender, when the asker waits for it.
    Reload(Option<oneshot::Sender<Reloaded>>),
    /// Finish what is in flight and stop.
    Stop,
}

/// What became of a [`Request::Reload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// The new config runs.
    Applied { sources: usize, accounts: usize },
    /// The file on disk cannot run; the previous config keeps running. Says why (file:line:column).
    Refused(String),
    /// A stop came first; nothing was swapped.
    Stopping,
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every poll and delivery in flight finished.
    Cleanly,
    /// Work was still in flight when the grace period ended; the outbox keeps what was not sent.
    GraceExpired,
}

/// How long a reload may spend reading and building the new config before it is given up (and the
/// running config kept): a file that never ends must not leave every later reload waiting.
const LOAD_LIMIT: Duration = Duration::from_secs(30);

/// A reload's reading and building, on a thread of its own, bounded by [`LOAD_LIMIT`].
type Loading = std::pin::Pin<Box<tokio::time::Timeout<oneshot::Receiver<Result<Engine, String>>>>>;
/// What a [`Loading`] ends with: the engine or the error, unless the thread vanished or ran over.
type Loaded = Result<Result<Result<Engine, String>, oneshot::error::RecvError>, tokio::time::error::Elapsed>;

/// Runs the engine in `engines` until a [`Request::Stop`] (or every request sender is gone). Each
/// reload loads `config_path` and, when it is good, stops the running generation (letting its work
/// finish) and starts the new one; `engines` always holds the engine that runs, for the control
/// socket.
///
/// Reading and building the new config happen off this loop, which keeps listening: a stop that
/// arrives while a reload reads (a config that never ends, a FIFO nobody writes) wins, and the
/// reload is abandoned. Reloads asked for while one is loading are answered by the next load, which
/// starts when it ends, so none of them is answered with a file read before it was asked.
pub async fn supervise(
    engines: watch::Sender<Arc<Engine>>,
    config_path: PathBuf,
    requests: mpsc::Receiver<Request>,
    grace: Duration,
) -> Stopped {
    supervise_loading(engines, config_path, requests, grace, load).await
}

/// How a reload turns the config file into the engine that runs it.
pub type Loader = fn(&Engine, &Path) -> Result<Engine, String>;

/// [`supervise`] with the reload's loading in `load`'s hands: the config reader refuses what
/// could block it (FIFOs, devices), so a load that never ends can only be staged by a test, and
/// the bound and the stop's precedence must still be proven.
pub async fn supervise_loading(
    engines: watch::Sender<Arc<Engine>>,
    config_path: PathBuf,
    mut requests: mpsc::Receiver<Request>,
    grace: Duration,
    load: Loader,
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
    // The load in flight and who waits for it; then who asked while it ran.
    let mut loading: Option<(Loading, Vec<Waiter>)> = None;
    let mut next: Option<Vec<Waiter>> = None;
    loop {
        let loaded = async {
            match loading.as_mut() {
                Some((load, _)) => load.as_mut().await,
                None => std::future::pending().await,
            }
        };
        let loaded = tokio::select! {
            // A stop is heard first, even when a load has just finished.
            biased;
            request = requests.recv() => Err(request),
            loaded = loaded => Ok(loaded),
        };
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(None | Some(Request::Stop)) => break,
            Err(Some(Request::Reload(done))) => {
                match (&loading, &mut next) {
                    (None, _) => {
                        service::reloading();
                        loading = Some((load_off_loop(&engine, &config_path, load), vec![done]));
                    }
                    (Some(_), Some(waiting)) => waiting.push(done),
                    (Some(_), None) => next = Some(vec![done]),
                }
                continue;
            }
        };
        let waiters = loading.take().map(|(_, waiters)| waiters).unwrap_or_default();
        let outcome = match built(loaded, &config_path) {
            Ok(built) => {
                generation.finish().await;
                engine = Arc::new(built);
                engines.send_replace(engine.clone());
                generation = Generation::start(engine.clone());
                let (sources, accounts) = (engine.config().sources.len(), engine.config().accounts.len());
                tracing::info!(config = %config_path.display(), sources, accounts, "configuration reloaded");
                Reloaded::Applied { sources, accounts }
            }
            Err(error) => {
                tracing::error!(%error, "the configuration was not reloaded; the previous one keeps running");
                engine.note_reload_failure(error.clone());
                Reloaded::Refused(error)
            }
        };
        match next.take() {
            // Asked while that load ran: the file may have changed since it was read.
            Some(waiting) => loading = Some((load_off_loop(&engine, &config_path, load), waiting)),
            // The service manager hears the reload is over before `payguard reload` (its
            // ExecReload=) does, so the unit is running again when that command returns.
            None => service::ready(&status_line(&engine)),
        }
        answer(waiters, &outcome);
    }
    service::stopping();
    for waiters in [loading.map(|(_, waiters)| waiters), next] {
        answer(waiters.unwrap_or_default(), &Reloaded::Stopping);
    }
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

/// The engine a finished load built, or why there is none.
fn built(loaded: Loaded, path: &Path) -> Result<Engine, String> {
    match loaded {
        Ok(Ok(built)) => built,
        Ok(Err(_)) => Err("the configuration could not be read: its reader ended without an answer".to_owned()),
        Err(_) => Err(format!(
            "reading {} took longer than {} s; is it a regular file?",
            path.display(),
            LOAD_LIMIT.as_secs()
        )),
    }
}

/// Who waits for a reload's outcome (`None`: a signal, which nobody waits on).
type Waiter = Option<oneshot::Sender<Reloaded>>;

fn answer(waiters: Vec<Waiter>, outcome: &Reloaded) {
    for waiter in waiters.into_iter().flatten() {
        // An asker that gave up waiting is no one's loss.
        let _ = waiter.send(outcome.clone());
    }
}

/// Starts reading and building the config at `path` on a thread of its own, which nothing waits
/// for at exit: a read that never returns then costs a thread, never the daemon's stop (a blocking
/// task of the runtime would hold the runtime's shutdown up). Bounded by [`LOAD_LIMIT`].
fn load_off_loop(engine: &Arc<Engine>, path: &Path, load: Loader) -> Loading {
    let (done, loading) = oneshot::channel();
    let (engine, path, runtime) = (engine.clone(), path.to_owned(), tokio::runtime::Handle::current());
    let spawned = std::thread::Builder::new().name("payguard-reload".into()).spawn(move || {
        // Building an engine reads the clock, which may be the runtime's (tests pause it).
        let _entered = runtime.enter();
        let _ = done.send(load(&engine, &path));
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a thread to read the configuration");
    }
    Box::pin(tokio::time::timeout(LOAD_LIMIT, loading))
}

/// The engine a reload would run, or why the file on disk cannot run.
fn load(engine: &Engine, path: &Path) -> Result<Engine, String> {
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
