//! The control socket: how the command line asks a running daemon about the record, since sled
//! lets one process hold the store. One request line of JSON, one reply line of JSON, versioned.
//!
//! [`answer`] computes a reply from a config and a store; the daemon serves it over a Unix socket
//! ([`serve`]), and the command line uses [`ask_or_answer`]: the daemon when it runs, the store
//! directly when it does not. Either way the output is the same, because it is the same code.
//!
//! One request keeps the connection open instead: `subscribe` turns it into the daemon's alert
//! stream ([`stream`]), one [`StreamEvent`] line per message owed, which `payguard agent` shows on
//! the desktop of a person whose session a system service cannot reach.

pub mod answer;
mod client;
pub mod exit;
mod server;
mod stream;
pub mod time;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;

pub use answer::{Format, answer};
pub use client::{ask_daemon, ask_or_answer};
pub use server::{bind, bind_shared, serve};
pub use stream::{AlertLine, StreamEvent, stream};

/// The protocol version; a daemon refuses requests of another.
pub const VERSION: u32 = 1;
/// Requests longer than this are refused: every legitimate one is tiny.
pub const MAX_REQUEST: usize = 64 * 1024;

/// What the command line can ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    Status {
        json: bool,
    },
    History(HistoryQuery),
    Alerts {
        all: bool,
    },
    Payees {
        account: String,
        source: Option<String>,
        /// Suggest `[[account.expected]]` rules instead of listing the payees.
        #[serde(default)]
        recurring: bool,
    },
    Trust {
        account: String,
        payee: String,
        source: Option<String>,
    },
    Ack {
        alert_id: String,
    },
    SilenceAdd {
        account: Option<String>,
        source: Option<String>,
        kind: Option<String>,
        duration: String,
        comment: String,
    },
    SilenceList {
        all: bool,
    },
    SilenceExpire {
        id: String,
    },
    Verify,
    /// Read the config file again and run it (`payguard reload`); the reply is the outcome, with the
    /// config error when the file cannot run. Only a running daemon answers it.
    Reload,
    /// Keep the connection open and send a [`StreamEvent`] line for every message that becomes
    /// owed, from now on (`payguard agent`). Only a running daemon answers it.
    Subscribe,
}

/// Which account's history, over which time, in which form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub account: String,
    pub source: Option<String>,
    /// As typed: a date, an RFC 3339 time or an age, read by the side that answers.
    pub since: Option<String>,
    pub until: Option<String>,
    pub format: Format,
}

/// A request with its protocol version.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub v: u32,
    pub request: Request,
}

/// What a command prints, and its exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub v: u32,
    pub exit: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Reply {
    /// Prints the reply as if the command had run here, and gives its exit code.
    pub fn print(&self) -> u8 {
        print!("{}", self.stdout);
        eprint!("{}", self.stderr);
        self.exit
    }
}

/// Where the packaged system service listens: its unit's `RuntimeDirectory=payguard`.
pub const SYSTEM_SOCKET: &str = "/run/payguard/control.sock";
/// The state directory of the system service, as a shell sees it (no `$STATE_DIRECTORY` there).
const SYSTEM_STATE_DIR: &str = "/var/lib/payguard";

/// Where the daemon listens: `[daemon] control_socket`, else `$RUNTIME_DIRECTORY/control.sock`
/// (systemd's `RuntimeDirectory=`), else `control.sock` in the state directory.
pub fn socket_path(config: &Config) -> PathBuf {
    if let Some(path) = &config.daemon.control_socket {
        return path.clone();
    }
    match std::env::var_os("RUNTIME_DIRECTORY") {
        Some(dir) => PathBuf::from(dir).join("control.sock"),
        None => config.daemon.state_dir.join("control.sock"),
    }
}

/// Where a command looks for the daemon, in order: [`socket_path`], then, for the system
/// service's state directory, that service's socket. An admin's shell has no
/// `$RUNTIME_DIRECTORY`, so without the second place `payguard status` would miss the service
/// and then find its store locked.
pub fn socket_candidates(config: &Config) -> Vec<PathBuf> {
    let mut candidates = vec![socket_path(config)];
    let system = PathBuf::from(SYSTEM_SOCKET);
    let system_service =
        config.daemon.control_socket.is_none() && config.daemon.state_dir == Path::new(SYSTEM_STATE_DIR);
    if system_service && !candidates.contains(&system) {
        candidates.push(system);
    }
    candidates
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{SYSTEM_SOCKET, socket_candidates, socket_path};
    use crate::config::Config;

    fn config(daemon: &str) -> Config {
        let text = format!(
            "[daemon]\n{daemon}\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\n\
             access_url = \"https://u:p@bank.example/simplefin\"\nschedule = \"7 * * * *\"\n"
        );
        Config::parse(&text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_shell_finds_the_system_service_by_its_runtime_directory() {
        let system = config("state_dir = \"/var/lib/payguard\"");
        let candidates = socket_candidates(&system);
        assert_eq!(candidates.first(), Some(&socket_path(&system)));
        assert_eq!(candidates.last(), Some(&PathBuf::from(SYSTEM_SOCKET)));

        // Another state directory, or a socket named in the config, is a daemon of its own.
        let own = config("state_dir = \"/home/you/.local/state/payguard\"");
        assert_eq!(socket_candidates(&own), vec![socket_path(&own)]);
        let named = config("state_dir = \"/var/lib/payguard\"\ncontrol_socket = \"/tmp/p.sock\"");
        assert_eq!(socket_candidates(&named), vec![PathBuf::from("/tmp/p.sock")]);
    }
}
