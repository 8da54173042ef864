//! The simulated platform: a SimpleFIN server on loopback that plays a scripted story.
//!
//! `payguard demo` runs it beside the daemon, the tests poll it as a real HTTP server, and the
//! benchmarks will load it. Each step of a [`Script`] is a set of payments that happen when the step
//! is applied; a step is applied on each request (`Advance::OnRequest`, for the demo) or when the
//! caller says so (`Advance::Manual`, for tests). [`Simulator::inject`] makes it misbehave: each
//! injected [`Fault`] answers one request the way a broken bank would. [`Simulator::start_load`]
//! serves a generated bank of many accounts instead of a script, for the benchmarks ([`Load`]).

mod fault;
mod load;
mod script;
mod server;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;

pub use fault::Fault;
pub use load::Load;
pub use script::{Event, Script, ScriptAccount, Step, demo_script};

/// The credentials the simulator accepts in its access URL, unless it is started with a password
/// of its own ([`Simulator::start_with_password`]).
pub const USERNAME: &str = "demo";
pub const PASSWORD: &str = "demo";
/// Where the bridge lives on its host: the path of the access URL.
const BASE_PATH: &str = "/simplefin";
/// The one endpoint a SimpleFIN bridge serves under it.
pub(super) const ACCOUNTS_PATH: &str = "/simplefin/accounts";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    OnRequest,
    Manual,
}

pub struct Simulator {
    state: Arc<Mutex<State>>,
    requests: tokio::sync::watch::Receiver<u64>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct State {
    accounts: Vec<SimAccount>,
    script: Script,
    next_step: usize,
    advance: Advance,
    requests: tokio::sync::watch::Sender<u64>,
    /// The password of the access URL.
    password: String,
    /// Answers for the next `/accounts` requests, one each, before normal service resumes.
    faults: VecDeque<Fault>,
    /// A generated bank that answers instead of the script (which is then empty).
    load: Option<load::Generator>,
}

#[derive(Debug, Clone)]
struct SimAccount {
    id: String,
    name: String,
    currency: String,
    balance: Decimal,
    transactions: Vec<SimTransaction>,
}

#[derive(Debug, Clone)]
struct SimTransaction {
    id: String,
    posted: DateTime<Utc>,
    amount: Decimal,
    payee: String,
    description: String,
    pending: bool,
}

impl Simulator {
    /// Serves `script` on a free loopback port.
    pub async fn start(script: Script, advance: Advance) -> std::io::Result<Simulator> {
        Simulator::serve(script, advance, PASSWORD, None).await
    }

    /// [`Simulator::start`] with an access URL whose password is `password`: for a test that
    /// must tell the secret apart from everything else in a log.
    pub async fn start_with_password(script: Script, advance: Advance, password: &str) -> std::io::Result<Simulator> {
        Simulator::serve(script, advance, password, None).await
    }

    /// Serves a generated bank: every `/accounts` answer is the next one of `load`, its accounts
    /// each with new transactions. Faults are for scripted banks: an injected account fault finds
    /// no account to spoil here.
    pub async fn start_load(load: Load) -> std::io::Result<Simulator> {
        let script = Script { accounts: Vec::new(), steps: Vec::new() };
        Simulator::serve(script, Advance::Manual, PASSWORD, Some(load::Generator::new(load))).await
    }

    async fn serve(
        script: Script,
        advance: Advance,
        password: &str,
        load: Option<load::Generator>,
    ) -> std::io::Result<Simulator> {
        let accounts = script
            .accounts
            .iter()
            .map(|a| SimAccount {
                id: a.id.clone(),
                name: a.name.clone(),
                currency: a.currency.clone(),
                balance: a.opening_balance,
                transactions: Vec::new(),
            })
            .collect();
        let (requests_tx, requests) = tokio::sync::watch::channel(0);
        let state = Arc::new(Mutex::new(State {
            accounts,
            script,
            next_step: 0,
            advance,
            requests: requests_tx,
            password: password.to_owned(),
            faults: VecDeque::new(),
            load,
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(server::serve(listener, state.clone()));
        Ok(Simulator { state, requests, addr, server })
    }

    /// The SimpleFIN access URL, credentials included.
    pub fn access_url(&self) -> String {
        format!("http://{USERNAME}:{}@{}{BASE_PATH}", lock(&self.state).password, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies the next step of the script; `false` when the script is over.
    pub fn advance(&self) -> bool {
        lock(&self.state).apply_next(Utc::now())
    }

    /// Queues `faults`: each answers one `/accounts` request instead of the normal answer, in
    /// order; then normal service resumes. A faulted request applies no script step.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).faults.extend(faults);
    }

    /// Whether every step has been applied.
    pub fn finished(&self) -> bool {
        let state = lock(&self.state);
        state.next_step >= state.script.steps.len()
    }

    /// How many account requests have been served.
    pub fn requests(&self) -> u64 {
        *self.requests.borrow()
    }

    /// Follows the number of account requests served, to wait for polls without sleeping.
    pub fn watch_requests(&self) -> tokio::sync::watch::Receiver<u64> {
        self.requests.clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // The state stays consistent between statements, so a panic elsewhere does not spoil it.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn apply_next(&mut self, now: DateTime<Utc>) -> bool {
        let Some(step) = self.script.steps.get(self.next_step).cloned() else {
            return false;
        };
        let step_no = self.next_step;
        self.next_step += 1;
        for (i, event) in step.events.iter().enumerate() {
            let Some(account) = self.accounts.iter_mut().find(|a| a.id == event.account) else {
                continue;
            };
            let id = event.id.clone().unwrap_or_else(|| format!("{}-s{step_no}-{i}", account.id));
            // The same id again is the same transaction changed: what it was leaves the balance.
            if let Some(at) = account.transactions.iter().position(|t| t.id == id) {
                let was = account.transactions.remove(at);
                if !was.pending {
                    account.balance -= was.amount;
                }
            }
            if !event.pending {
                account.balance += event.amount;
            }
            account.transactions.push(SimTransaction {
                id,
                posted: now - TimeDelta::minutes(event.minutes_ago),
                amount: event.amount,
                payee: event.payee.clone(),
                description: event.description.clone(),
                pending: event.pending,
            });
        }
        true
    }
}
