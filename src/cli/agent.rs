//! `payguard agent`: shows a running daemon's alerts as desktop notifications in the session it
//! runs in. A daemon installed as a system service cannot reach a person's D-Bus session bus; the
//! agent, started by the person's own service manager, subscribes to the daemon's alert stream on
//! the control socket and hands each alert to the desktop channel.
//!
//! It needs no config, only the socket. It outlives the daemon: when there is none, or it goes
//! away, the agent says so once and tries again with backoff (1 s doubling to 60 s, from 1 s again
//! after each subscription) until SIGINT or SIGTERM. A notification that cannot be shown (no
//! session bus yet, early at login) is logged and the stream goes on.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use chrono::TimeDelta;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::exit;
use crate::control::{Envelope, Reply, Request, StreamEvent, VERSION};
use crate::notify::Desktop;

/// A line longer than this is not one the daemon writes; refusing it bounds the agent's memory.
const MAX_LINE: u64 = 1 << 20;
/// A notification server that never answers must not stall the stream behind it.
const SHOW_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(socket: &Path) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered before the first connection, so a stop during it is not missed.
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
        stop.cancel();
    });
    let desktop = Desktop::new();
    tracing::info!(socket = %socket.display(), "payguard agent started");
    reconnect(|| session(socket, &desktop), &shutdown).await;
    Ok(exit::OK)
}

/// How a session with the daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// No daemon answered (no socket, nobody accepting, or the connection failed at once).
    Unreachable(String),
    /// A daemon answered but did not subscribe us (another protocol, a release without streams).
    Refused(String),
    /// We were subscribed, and the stream ended.
    Lost(String),
}

/// The wait before the next attempt: 1 s, doubling to 60 s; back to 1 s after a subscription.
#[derive(Debug, Default)]
struct Backoff {
    /// Attempts since the last subscription.
    failures: u32,
}

impl Backoff {
    const FIRST: TimeDelta = TimeDelta::seconds(1);
    const MAX: TimeDelta = TimeDelta::seconds(60);

    fn next(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        crate::retry::backoff(Backoff::FIRST, Backoff::MAX, self.failures).to_std().unwrap_or(Duration::from_secs(60))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Runs `session` again and again, with backoff between the attempts, until `shutdown`. Each
/// outage is logged once, not once per attempt: a laptop without its daemon for a day would
/// otherwise fill the journal.
async fn reconnect<F, Fut>(mut session: F, shutdown: &CancellationToken)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut backoff = Backoff::default();
    // Whether the current outage has been logged.
    let mut said = false;
    let mut last_refusal: Option<String> = None;
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = session() => outcome,
        };
        match outcome {
            Outcome::Lost(reason) => {
                backoff.reset();
                tracing::warn!(%reason, "the daemon's alert stream ended; reconnecting");
                said = true;
                last_refusal = None;
            }
            Outcome::Refused(reason) => {
                // A refusal says what to fix; say it again only if it changes.
                if last_refusal.as_ref() != Some(&reason) {
                    tracing::error!(%reason, "the daemon refused to stream alerts; trying again later");
                    last_refusal = Some(reason);
                }
                said = true;
            }
            Outcome::Unreachable(reason) if !said => {
                tracing::warn!(%reason, "no payguard daemon to subscribe to; trying again until one answers");
                said = true;
            }
            Outcome::Unreachable(reason) => tracing::debug!(%reason, "still no daemon"),
        }
        let wait = backoff.next();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One connection: subscribe, then show each alert until the stream ends.
async fn session(socket: &Path, desktop: &Desktop) -> Outcome {
    let shown = socket.display();
    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(e) => return Outcome::Unreachable(format!("cannot connect to {shown}: {e}")),
    };
    // The write half lives as long as the session: closing it tells the daemon we left.
    let (read, mut write) = stream.into_split();
    let mut request = serde_json::to_vec(&Envelope { v: VERSION, request: Request::Subscribe }).unwrap_or_default();
    request.push(b'\n');
    if let Err(e) = write.write_all(&request).await {
        return Outcome::Unreachable(format!("cannot send to {shown}: {e}"));
    }
    let mut reader = BufReader::new(read);
    match read_line(&mut reader).await {
        Ok(Some(line)) => match serde_json::from_str::<StreamEvent>(&line) {
            Ok(StreamEvent::Subscribed) => {}
            Ok(other) => return Outcome::Refused(format!("the daemon began with {other:?}, not a subscription")),
            Err(e) => return Outcome::Refused(refusal(&line, &e)),
        },
        Ok(None) => return Outcome::Unreachable(format!("{shown} closed the connection without answering")),
        Err(e) => return Outcome::Unreachable(format!("cannot read from {shown}: {e}")),
    }
    tracing::info!(socket = %shown, "subscribed to the daemon's alerts");
    loop {
        match read_line(&mut reader).await {
            Ok(Some(line)) => show(&line, desktop).await,
            Ok(None) => return Outcome::Lost(format!("{shown} closed the stream")),
            Err(e) => return Outcome::Lost(format!("cannot read from {shown}: {e}")),
        }
    }
}

/// What a daemon that did not subscribe us said: its error reply when it sent one (a release
/// without streams, another protocol), else why its line made no sense.
fn refusal(line: &str, error: &serde_json::Error) -> String {
    match serde_json::from_str::<Reply>(line) {
        Ok(reply) if !reply.stderr.trim().is_empty() => reply.stderr.trim().to_owned(),
        _ => format!("its first line is not a subscription ({error})"),
    }
}

/// One line without its newline; `None` at the end of the stream (a half-written last line is
/// the end too: the daemon stopped while writing it).
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    (&mut *reader).take(MAX_LINE).read_until(b'\n', &mut line).await?;
    if line.last() != Some(&b'\n') {
        if line.len() as u64 >= MAX_LINE {
            return Err(std::io::Error::other(format!("a line longer than {MAX_LINE} bytes")));
        }
        return Ok(None);
    }
    line.pop();
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

async fn show(line: &str, desktop: &Desktop) {
    let event = match serde_json::from_str::<StreamEvent>(line) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "skipped a line of the alert stream that is not an event");
            return;
        }
    };
    let Some(message) = event.message() else {
        tracing::debug!(?event, "nothing to show");
        return;
    };
    let alert = message.alert_ids.first().map(String::as_str).unwrap_or("-");
    match tokio::time::timeout(SHOW_TIMEOUT, desktop.send(&message)).await {
        Ok(Ok(())) => tracing::info!(alert, "shown"),
        // Early at login there may be no session bus or notification server yet: the alert is
        // kept by the daemon (`payguard alerts`), and the next one may well get through.
        Ok(Err(e)) => tracing::warn!(alert, error = %e, "cannot show an alert; going on"),
        Err(_) => tracing::warn!(alert, "the notification server did not answer in time; going on"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use tokio::io::AsyncWriteExt as _;
    use tokio::net::UnixListener;
    use tokio::time::Instant;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_to_a_minute_and_restarts_after_a_subscription() {
        let unreachable = || Outcome::Unreachable("no socket".into());
        let mut script: VecDeque<Outcome> = std::iter::repeat_with(unreachable).take(8).collect();
        script.push_back(Outcome::Lost("daemon stopped".into()));
        script.push_back(unreachable());
        let script = Mutex::new(script);
        let attempts = Mutex::new(Vec::new());
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        reconnect(
            || {
                attempts.lock().expect("lock").push(start.elapsed().as_secs());
                let next = script.lock().expect("lock").pop_front();
                if next.is_none() {
                    shutdown.cancel();
                }
                let outcome = next.unwrap_or_else(unreachable);
                async move { outcome }
            },
            &shutdown,
        )
        .await;
        // Waits 1, 2, 4, 8, 16, 32, 60, 60; then the lost subscription resets them to 1, 2.
        assert_eq!(attempts.into_inner().expect("lock"), vec![0, 1, 3, 7, 15, 31, 63, 123, 183, 184, 186]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_a_session_in_progress() {
        let shutdown = CancellationToken::new();
        let attempts = Mutex::new(0);
        reconnect(
            || {
                let mut n = attempts.lock().expect("lock");
                *n += 1;
                let subscribed = *n == 3;
                if subscribed {
                    // SIGTERM arrives while the third session is streaming, which it would forever.
                    shutdown.cancel();
                }
                async move {
                    if subscribed {
                        std::future::pending::<()>().await;
                    }
                    Outcome::Unreachable("no socket".into())
                }
            },
            &shutdown,
        )
        .await;
        assert_eq!(attempts.into_inner().expect("lock"), 3);
    }

    /// A fake daemon on a socket in `dir` that answers one connection with `lines`, then closes.
    async fn fake_daemon(dir: &Path, lines: &'static str) -> (std::path::PathBuf, tokio::task::JoinHandle<String>) {
        let path = dir.join("control.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, mut write) = stream.into_split();
            let request = read_line(&mut BufReader::new(read)).await.expect("read").expect("a request");
            write.write_all(lines.as_bytes()).await.expect("write");
            request
        });
        (path, task)
    }

    #[tokio::test]
    async fn a_session_subscribes_and_ends_as_lost_when_the_stream_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, daemon) = fake_daemon(
            dir.path(),
            "{\"v\":1,\"event\":\"subscribed\"}\n{\"v\":1,\"event\":\"heartbeat\"}\nnot json\n",
        )
        .await;
        let outcome = session(&path, &Desktop::new()).await;
        assert!(matches!(outcome, Outcome::Lost(_)), "{outcome:?}");
        let request: serde_json::Value = serde_json::from_str(&daemon.await.expect("join")).expect("JSON");
        assert_eq!(request, serde_json::json!({"v": 1, "request": {"command": "subscribe"}}));
    }

    #[tokio::test]
    async fn a_daemon_that_cannot_stream_is_a_refusal_with_its_words() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, _daemon) = fake_daemon(
            dir.path(),
            "{\"v\":1,\"exit\":1,\"stdout\":\"\",\"stderr\":\"payguard: not a payguard request (unknown variant `subscribe`)\\n\"}\n",
        )
        .await;
        let outcome = session(&path, &Desktop::new()).await;
        assert_eq!(outcome, Outcome::Refused("payguard: not a payguard request (unknown variant `subscribe`)".into()));
        let missing = session(&dir.path().join("none.sock"), &Desktop::new()).await;
        assert!(matches!(missing, Outcome::Unreachable(ref r) if r.contains("none.sock")), "{missing:?}");
    }
}
