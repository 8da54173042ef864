//! The daemon's side of the control socket: a Unix socket only its owner can use (mode 0600), or
//! its owner and one group (`[daemon] control_group`, mode 0660). A bad request gets an error reply
//! and never harms the daemon; a `subscribe` request turns the connection into an alert stream.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{ControlGroup, Envelope, MAX_REQUEST, Reply, Request, VERSION, answer};
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

/// Answers requests on `listener` until `shutdown`, then removes the socket at `path`. Each
/// connection is answered by the engine running when it arrives (a reload swaps it in `engines`).
pub async fn serve(
    engines: watch::Receiver<Arc<Engine>>,
    listener: UnixListener,
    path: PathBuf,
    shutdown: CancellationToken,
) {
    let path = path.as_path();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let engine = engines.borrow().clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, engine, shutdown).await {
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

async fn handle(stream: UnixStream, engine: Arc<Engine>, shutdown: CancellationToken) -> std::io::Result<()> {
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
            // The connection stays open and becomes the stream; there is no reply line.
            Ok(envelope) if envelope.request == Request::Subscribe => {
                return super::stream(engine, reader, write, shutdown).await;
            }
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

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
