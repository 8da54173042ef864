//! The daemon's side of the control socket: a Unix socket only its owner can use (mode 0600).
//! A bad request gets an error reply and never harms the daemon.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{Envelope, MAX_REQUEST, Reply, VERSION, answer};
use crate::daemon::Engine;

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

/// Answers requests on `listener` until `shutdown`, then removes the socket at `path`.
pub async fn serve(engine: Arc<Engine>, listener: UnixListener, path: PathBuf, shutdown: CancellationToken) {
    let path = path.as_path();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let engine = engine.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, engine).await {
                            tracing::debug!(error = %e, "control connection ended badly");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "cannot accept a control connection"),
            },
        }
    }
    let _ = std::fs::remove_file(path);
}

async fn handle(stream: UnixStream, engine: Arc<Engine>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read);
    (&mut reader).take(MAX_REQUEST as u64 + 1).read_until(b'\n', &mut line).await?;
    let reply = if line.len() > MAX_REQUEST {
        refusal(format!("the request is larger than {MAX_REQUEST} bytes"))
    } else {
        match serde_json::from_slice::<Envelope>(&line) {
            Err(e) => refusal(format!("not a payguard request ({e})")),
            Ok(envelope) if envelope.v != VERSION => refusal(format!(
                "this daemon speaks protocol {VERSION}, the request is version {}: use the same payguard release for both",
                envelope.v
            )),
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
    write.write_all(&bytes).await?;
    write.shutdown().await?;
    // Closing with unread input resets the connection, and the client would lose the reply: read
    // what is left of an oversized request (a bounded amount, for a bounded time) first.
    let (mut rest, mut sink) = (reader.take(16 * MAX_REQUEST as u64), tokio::io::sink());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), tokio::io::copy(&mut rest, &mut sink)).await;
    Ok(())
}

fn refusal(message: String) -> Reply {
    Reply {
        v: VERSION,
        exit: crate::cli::exit::FAILURE,
        stdout: String::new(),
        stderr: format!("payguard: {message}\n"),
    }
}
