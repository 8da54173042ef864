//! The daemon's side of the control socket: a Unix socket only its owner can use (mode 0600), or
//! its owner and one group (`[daemon] control_group`, mode 0660). A bad request gets an error reply
//! and never harms the daemon; a `subscribe` request turns the connection into an alert stream, and
//! a `reload` one waits for the supervisor's reload. A flood of connections is capped, timed out and
//! logged sparingly (see [`serve`]).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Envelope, MAX_REQUEST, Reply, Request, VERSION, answer};
use crate::config::ControlGroup;
use crate::daemon::{self, Engine, Reloaded};

/// Binds the socket at `path` (replacing a stale one), only its owner may use it.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        // A socket left by a process that died; a live daemon holds the store lock, so this is ours.
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tracing::info!(socket = %path.display(), "control socket listening");
    Ok(listener)
}

/// [`bind`], then, with a `group`, shares the socket with it: group-owned and mode 0660, so its
/// members can run commands and `payguard agent`. The daemon must be allowed to give the socket to
/// that group (be a member of it, or root); if it is not, the socket is removed again and the error
/// says why, rather than leaving a socket no member can use.
pub fn bind_shared(path: &Path, group: Option<&ControlGroup>) -> std::io::Result<UnixListener> {
    let listener = bind(path)?;
    let Some(group) = group else { return Ok(listener) };
    let shared = std::os::unix::fs::chown(path, None, Some(group.gid))
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)));
    if let Err(e) = shared {
        let _ = std::fs::remove_file(path);
        return Err(std::io::Error::new(
            e.kind(),
            format!(
                "cannot share the control socket with group {:?} (gid {}): {e}; the daemon must run in that group (systemd: Group=, or SupplementaryGroups= without PrivateUsers=)",
                group.name, group.gid
            ),
        ));
    }
    tracing::info!(socket = %path.display(), group = %group.name, "control socket shared with a group");
    Ok(listener)
}

/// How many connections are answered at once; more are refused with a reply that says so. Far
/// above what people and agents use; fewer when file descriptors are scarce ([`places`]).
pub const MAX_CONNECTIONS: usize = 32;
/// A connection that has not sent a whole request within this is closed: an idle one must not hold
/// one of the [`MAX_CONNECTIONS`] places (every legitimate request is one short line, sent at once).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a reply may take to be read by a client before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest pause of the accept loop after a failed accept (out of file descriptors, …).
const MAX_BACKOFF: chrono::TimeDelta = chrono::TimeDelta::seconds(1);
/// The first pause after a failed accept.
const FIRST_BACKOFF: chrono::TimeDelta = chrono::TimeDelta::milliseconds(10);
/// A warning that can repeat under a flood is logged at most this often, with a count of the rest.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Answers requests on `listener` until `shutdown`, then removes the socket at `path`. Each
/// connection is answered by the engine running when it arrives (a reload swaps it in `engines`);
/// a `reload` request is handed to the supervisor through `requests` and answered with its outcome.
///
/// A flood cannot take the daemon down: at most [`MAX_CONNECTIONS`] are answered at once, idle
/// ones are closed after [`IDLE_TIMEOUT`], a failed accept (no file descriptors left) pauses the
/// loop instead of spinning on it, and the warnings that say so are rate-limited.
pub async fn serve(
    engines: watch::Receiver<Arc<Engine>>,
    requests: mpsc::Sender<daemon::Request>,
    listener: UnixListener,
    path: PathBuf,
    shutdown: CancellationToken,
) {
    let path = path.as_path();
    let places = places(open_files_limit());
    let limit = places.available_permits();
    let (mut failed_accepts, mut refusals) = (Throttled::default(), Throttled::default());
    let mut failures: u32 = 0;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                failures = 0;
                stream
            }
            Err(e) => {
                // EMFILE and its kin fail every accept until a descriptor frees: pause, growing.
                failures = failures.saturating_add(1);
                let backoff = crate::retry::backoff(FIRST_BACKOFF, MAX_BACKOFF, failures).to_std().unwrap_or_default();
                if let Some(more) = failed_accepts.due() {
                    tracing::warn!(error = %e, pause = ?backoff, "cannot accept a control connection{}", more);
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff) => continue,
                }
            }
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            if let Some(more) = refusals.due() {
                tracing::warn!(limit, "too many control connections at once; refusing more{}", more);
            }
            refuse_busy(&stream);
            continue;
        };
        let engine = engines.borrow().clone();
        let (requests, shutdown) = (requests.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = handle(stream, engine, requests, shutdown).await {
                tracing::debug!(error = %e, "control connection ended badly");
            }
            drop(place);
        });
    }
    let _ = std::fs::remove_file(path);
}

/// Tells a connection over the limit why it is closed, if its socket takes the line at once; it
/// is not waited for, so refusing costs the loop nothing.
fn refuse_busy(stream: &UnixStream) {
    let reply = Reply {
        exit: crate::control::exit::TEMPFAIL,
        ..refusal(
            "the daemon is answering as many control connections as it takes at once; try again in a few seconds"
                .to_owned(),
        )
    };
    let mut bytes = serde_json::to_vec(&reply).unwrap_or_default();
    bytes.push(b'\n');
    let _ = stream.try_write(&bytes);
}

/// The connections answered at once: [`MAX_CONNECTIONS`], or a quarter of the process's file
/// descriptors when that is less (at least 2), so idle connections can never use up the
/// descriptors the polls need.
fn places(open_files: Option<u64>) -> Arc<Semaphore> {
    let quarter = open_files.map_or(MAX_CONNECTIONS, |n| usize::try_from(n / 4).unwrap_or(MAX_CONNECTIONS));
    Arc::new(Semaphore::new(quarter.clamp(2, MAX_CONNECTIONS)))
}

/// The soft limit on open files (`ulimit -n`, `LimitNOFILE=`), from `/proc/self/limits`; `None`
/// when unlimited or unknown.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Says "log now" at most once per [`WARN_EVERY`], and how many times it said no in between.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    /// `Some(text to append)` when a warning is due: empty, or how many were left out since.
    fn due(&mut self) -> Option<String> {
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < WARN_EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        let more = std::mem::take(&mut self.suppressed);
        Some(if more == 0 { String::new() } else { format!(" ({more} more like it since the last warning)") })
    }
}

async fn handle(
    stream: UnixStream,
    engine: Arc<Engine>,
    requests: mpsc::Sender<daemon::Request>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read);
    let mut request = (&mut reader).take(MAX_REQUEST as u64 + 1);
    match tokio::time::timeout(IDLE_TIMEOUT, request.read_until(b'\n', &mut line)).await {
        Ok(read) => drop(read?),
        Err(_) => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no request within the idle timeout")),
    }
    let reply = if line.len() > MAX_REQUEST {
        refusal(format!("the request is larger than {MAX_REQUEST} bytes"))
    } else {
        match serde_json::from_slice::<Envelope>(&line) {
            Err(e) => refusal(format!("not a payguard request ({e})")),
            Ok(envelope) if envelope.v != VERSION => refusal(format!(
                "this daemon speaks protocol {VERSION}, the request is version {}: use the same payguard release for both",
                envelope.v
            )),
            // The connection stays open and becomes the stream; there is no reply line.
            Ok(envelope) if envelope.request == Request::Subscribe => {
                return super::stream(engine, reader, write, shutdown).await;
            }
            Ok(envelope) if envelope.request == Request::Reload => reload(&requests).await,
            Ok(envelope) => {
                // Store reads and writes are blocking; keep them off the async workers.
                let engine = engine.clone();
                tokio::task::spawn_blocking(move || answer(engine.config(), engine.store(), &envelope.request))
                    .await
                    .unwrap_or_else(|e| refusal(format!("the request failed inside the daemon: {e}")))
            }
        }
    };
    let mut bytes = serde_json::to_vec(&reply).unwrap_or_default();
    bytes.push(b'\n');
    let sent = async {
        write.write_all(&bytes).await?;
        write.shutdown().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, sent)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the client did not read the reply"))??;
    // Closing with unread input resets the connection, and the client would lose the reply: read
    // what is left of an oversized request (a bounded amount, for a bounded time) first.
    let (mut rest, mut sink) = (reader.take(16 * MAX_REQUEST as u64), tokio::io::sink());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), tokio::io::copy(&mut rest, &mut sink)).await;
    Ok(())
}

/// Asks the supervisor to reload and waits for the outcome (`payguard reload`).
async fn reload(requests: &mpsc::Sender<daemon::Request>) -> Reply {
    let (done, outcome) = oneshot::channel();
    let outcome = match requests.send(daemon::Request::Reload(Some(done))).await {
        Ok(()) => outcome.await.unwrap_or(Reloaded::Stopping),
        Err(_) => Reloaded::Stopping,
    };
    match outcome {
        Reloaded::Applied { sources, accounts } => Reply {
            v: VERSION,
            exit: crate::control::exit::OK,
            stdout: format!("configuration reloaded: {sources} sources, {accounts} accounts\n"),
            stderr: String::new(),
        },
        Reloaded::Refused(error) => Reply {
            exit: crate::control::exit::CONFIG,
            ..refusal(format!("the configuration was not reloaded; the previous one keeps running: {error}"))
        },
        Reloaded::Stopping => Reply {
            exit: crate::control::exit::TEMPFAIL,
            ..refusal("the daemon is stopping; the configuration was not reloaded".to_owned())
        },
    }
}

fn refusal(message: String) -> Reply {
    Reply {
        v: VERSION,
        exit: crate::control::exit::FAILURE,
        stdout: String::new(),
        stderr: format!("payguard: {message}\n"),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn control_connections_take_at_most_a_quarter_of_the_file_descriptors() {
        let taken = |limit| places(limit).available_permits();
        assert_eq!(taken(None), MAX_CONNECTIONS);
        assert_eq!(taken(Some(1 << 20)), MAX_CONNECTIONS);
        assert_eq!(taken(Some(64)), 16);
        assert_eq!(taken(Some(4)), 2);
        assert!(open_files_limit().is_some_and(|n| n > 0), "/proc/self/limits names the open-files limit");
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_warning_is_logged_once_a_minute_with_a_count_of_the_rest() {
        let mut warning = Throttled::default();
        assert_eq!(warning.due().as_deref(), Some(""));
        assert_eq!((0..1000).filter_map(|_| warning.due()).count(), 0);
        tokio::time::advance(WARN_EVERY).await;
        assert_eq!(warning.due().as_deref(), Some(" (1000 more like it since the last warning)"));
    }

    #[tokio::test]
    async fn a_socket_is_the_owners_alone_unless_shared_with_a_group() {
        let dir = tempfile::tempdir().expect("temp dir");
        let alone = dir.path().join("alone.sock");
        let _listener = bind_shared(&alone, None).expect("bind");
        assert_eq!(std::fs::metadata(&alone).expect("stat").mode() & 0o777, 0o600);

        // A group the test may give files to whoever runs it: its own.
        let gid = std::fs::metadata(dir.path()).expect("stat").gid();
        let group = ControlGroup { name: "tests".into(), gid };
        let shared = dir.path().join("shared.sock");
        let _listener = bind_shared(&shared, Some(&group)).expect("bind shared");
        let meta = std::fs::metadata(&shared).expect("stat");
        assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, gid));
    }
}
