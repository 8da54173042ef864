//! The command line's side: ask the daemon when one answers on the socket, else open the store.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::{Envelope, Reply, Request, VERSION, answer, socket_candidates};
use crate::config::Config;

/// The daemon's reply when it listens, or the same answer computed here from the store.
pub fn ask_or_answer(config: &Config, request: Request) -> anyhow::Result<Reply> {
    for path in socket_candidates(config) {
        if let Ok(stream) = UnixStream::connect(&path) {
            return ask(stream, request, Duration::from_secs(60))
                .with_context(|| format!("asking the daemon on {}", path.display()));
        }
    }
    // No daemon (no socket, or a stale one nobody accepts on): the store is ours to open.
    let store = crate::store::Store::open(&config.daemon.state_dir)?;
    Ok(answer(config, &store, &request))
}

/// The daemon's reply on the socket at `path`, waiting at most `patience` for it; `Ok(None)` when
/// no daemon listens there (no socket, or nobody accepting on it). A socket this user may not use
/// is an error, not an absent daemon.
pub fn ask_daemon(path: &Path, request: Request, patience: Duration) -> anyhow::Result<Option<Reply>> {
    use std::io::ErrorKind::{ConnectionRefused, NotFound};
    let stream = match UnixStream::connect(path) {
        Ok(stream) => stream,
        Err(e) if matches!(e.kind(), NotFound | ConnectionRefused) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot connect to the daemon on {}", path.display())),
    };
    ask(stream, request, patience).with_context(|| format!("asking the daemon on {}", path.display())).map(Some)
}

fn ask(mut stream: UnixStream, request: Request, patience: Duration) -> anyhow::Result<Reply> {
    stream.set_read_timeout(Some(patience))?;
    let mut line = serde_json::to_vec(&Envelope { v: VERSION, request })?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    serde_json::from_str(&reply).context("the daemon's reply is not one payguard understands")
}
