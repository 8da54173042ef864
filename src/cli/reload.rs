//! `payguard reload`: asks the running daemon to read its config again, waits for the outcome and
//! says it. Made for `ExecReload=`, so `systemctl reload` fails, with the config error, when the new
//! file cannot run (the daemon keeps the previous one), and needs no `kill` on the system.
//!
//! The socket is found through the config, as every command finds it. A config that does not load
//! still names no other socket than the service's own, so under systemd (`$RUNTIME_DIRECTORY`)
//! the daemon is asked all the same, and its answer carries the error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::exit;
use crate::config::{Config, ConfigError, Secrets};
use crate::control::{Request, ask_daemon, socket_candidates};

/// How long to wait for the outcome: reading the file, then letting the running polls finish
/// before the new schedules start. Below systemd's default `TimeoutSec=` of 90 s for a reload.
const PATIENCE: Duration = Duration::from_secs(80);

pub fn run(path: &Path) -> anyhow::Result<u8> {
    let sockets = sockets(path)?;
    for socket in &sockets {
        if let Some(reply) = ask_daemon(socket, Request::Reload, PATIENCE)? {
            return Ok(reply.print());
        }
    }
    let tried: Vec<String> = sockets.iter().map(|socket| socket.display().to_string()).collect();
    eprintln!(
        "payguard: no daemon listens on {}, so there is nothing to reload: start it (`systemctl start payguard` or `payguard run`)",
        tried.join(" or ")
    );
    Ok(exit::TEMPFAIL)
}

fn sockets(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    // Only the daemon sends requests, so its secrets (a `${credential:…}` that exists only
    // inside the unit) are not looked up here.
    match Config::load_with(path, Secrets::Skip) {
        Ok(config) => Ok(socket_candidates(&config)),
        Err(error) => match std::env::var_os("RUNTIME_DIRECTORY") {
            Some(dir) => Ok(vec![PathBuf::from(dir).join("control.sock")]),
            None => Err(error),
        },
    }
}
