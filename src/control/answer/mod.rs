//! Answers to the command line's questions about the record, computed from a config and a store.
//! The daemon runs these for requests on its socket; the command line runs them itself when no
//! daemon holds the store. One code path, so the output is the same either way.

macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out.stdout, $($arg)*);
    }};
}

macro_rules! warn {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out.stderr, $($arg)*);
    }};
}

mod ack;
mod alerts;
mod history;
mod payees;
mod silence;
mod status;
mod verify;

use super::{Reply, Request, VERSION};
use crate::config::Config;
use crate::store::Store;

pub use history::{Format, account_named};

/// What a command has printed so far.
#[derive(Debug, Default)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `request` against `store`, as the command would, and flushes what it wrote.
pub fn answer(config: &Config, store: &Store, request: &Request) -> Reply {
    let mut out = Out::default();
    let result = match request {
        Request::Status { json } => status::status(config, store, &mut out, *json),
        Request::History(query) => history::history(config, store, &mut out, query),
        Request::Alerts { all } => alerts::alerts(config, store, &mut out, *all),
        Request::Payees { account, source, recurring: false } => {
            payees::payees(config, store, &mut out, account, source.as_deref())
        }
        Request::Payees { account, source, recurring: true } => {
            payees::recurring(config, store, &mut out, account, source.as_deref())
        }
        Request::Trust { account, payee, source } => {
            payees::trust(config, store, &mut out, account, payee, source.as_deref())
        }
        Request::Ack { alert_id } => ack::ack(store, &mut out, alert_id),
        Request::SilenceAdd { account, source, kind, duration, comment } => {
            let matchers = (account.as_deref(), source.as_deref(), kind.as_deref());
            silence::add(store, &mut out, matchers, duration, comment, config.daemon.timezone)
        }
        Request::SilenceList { all } => silence::list(store, &mut out, *all, config.daemon.timezone),
        Request::SilenceExpire { id } => silence::expire(store, &mut out, id),
        Request::Verify => verify::verify(store, &mut out),
        // A stream needs the daemon's alerts as they happen; a store cannot give them.
        Request::Subscribe => Err(anyhow::anyhow!("only a running daemon streams alerts (`payguard run`)")),
        Request::Reload => Err(anyhow::anyhow!("only a running daemon reloads its configuration (`payguard run`)")),
    };
    let exit = match result {
        Ok(code) => code,
        Err(error) => {
            warn!(out, "payguard: {error:#}");
            crate::control::exit::code(&error)
        }
    };
    if let Err(e) = store.flush_blocking() {
        warn!(out, "payguard: cannot flush the store: {e}");
    }
    Reply { v: VERSION, exit, stdout: out.stdout, stderr: out.stderr }
}
