//! The crash suite (issue 7): the real `payguard run` against the simulated bank and a recording
//! webhook receiver, killed with SIGKILL at random moments of ingest and delivery and restarted,
//! round after round. After every kill it checks what a crash must never do: a store that will not
//! open, a broken audit chain, a transaction stored twice, wrong or lost once it was durable, a
//! message owed that vanished, a message sent before the poll owing it was durable, or a message
//! repeated without a crash between its send and its record. A final clean run then polls once
//! more and must leave every served transaction stored once, every event alert the story makes
//! certain delivered, and the outbox empty.
//!
//! Kill moments are chosen by events (the start itself, the n-th poll served, the m-th delivery
//! attempt received, or the m-th attempt taken while the receiver holds its answer) plus a jitter
//! of 0–50 ms drawn from the seed. The receiver answers 503 now and then, so messages are retried
//! within a run and across restarts. Everything random comes from
//! one seed, printed at the start and in every failure; `PAYGUARD_CRASH_SEED` replays it. The CI
//! test makes 20 kills; `cargo test --test crash -- --ignored` makes 200 (see RELIABILITY.md).
//!
//! `crash/story.rs` draws the simulator's script, `crash/receiver.rs` the receiver's answers and
//! reads what it got, `crash/rng.rs` is the seeded generator; this file drives the rounds and keeps
//! the ledger the checks compare against.
//!
//! Its own test binary, not a module of `tests/it/`: its kill moments are timed to the
//! millisecond, which the other tests' load in the same process would skew, and
//! `cargo test --test crash` (with `PAYGUARD_CRASH_SEED` to replay) is how it is run and replayed.

// Test code: a failed unwrap is a failed test, and clippy's allow-unwrap-in-tests does not
// reach the helper functions outside `#[test]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/support/mod.rs"]
mod support;

mod crash {
    pub mod receiver;
    pub mod rng;
    pub mod story;
}

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use payguard::alert::NoticeEvent;
use payguard::alert::outbox::Outcome;
use payguard::model::AccountRef;
use payguard::sim::{Advance, Simulator};
use payguard::store::{AuditEvent, Store};

use crash::receiver::{self, Answers, Hit};
use crash::rng::{self, Rng};
use crash::story::{self, Story};
use support::Fixture;
use support::reopen::reopened;

/// Only guards against a hang: every wait here ends on an event that comes within seconds.
const GUARD: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_loses_nothing_and_repeats_only_what_a_crash_cut_short() {
    crash_suite(20).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "the long run, a few minutes: cargo test --test crash -- --ignored --nocapture"]
async fn two_hundred_sigkills() {
    crash_suite(200).await;
}

/// Runs `kills` rounds of start, kill, check, then a clean run, and prints the figures.
async fn crash_suite(kills: usize) {
    let started = Instant::now();
    let seed = rng::seed();
    eprintln!("crash suite: {kills} kills, seed {seed} (replay with PAYGUARD_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);
    let (mut story_rng, answer_rng, mut kill_rng) = (rng.fork(), rng.fork(), rng.fork());

    let story = story::story(kills * 2 + 5, &mut story_rng);
    let sim = Simulator::start(story.script.clone(), Advance::OnRequest).await.expect("start the simulator");
    let receiver = Fixture::start().await;
    let mut answers = Answers::new(&receiver, 30, answer_rng);
    // Kept on failure for a post-mortem; removed at the end of a run that passed.
    let dir = tempfile::Builder::new().prefix("payguard-crash-").tempdir().expect("temp dir").keep();
    let config = write_config(&dir, &sim.access_url(), &receiver.url(receiver::PATH));
    let mut suite = Suite {
        seed,
        config,
        log: dir.join("daemon.log"),
        dir,
        ledger: Ledger::new(story),
        figures: Figures { kills, ..Figures::default() },
    };

    let mut deck = Vec::new();
    for round in 1..=kills {
        let moment = Moment::draw(&mut deck, &mut kill_rng);
        let (answer, gate) = tokio::sync::watch::channel(false);
        answers.next_round(&receiver, moment.held().map(|m| (m, gate)));
        let (requests, hits) = (sim.requests(), receiver::hits(&receiver.seen()).len());
        let mut daemon = suite.start(&format!("round {round}: kill {moment:?}"));
        let trigger = moment.arrive(&sim, &receiver, requests, hits, &suite).await;
        suite.figures.count(trigger);
        suite.figures.rounds = round;
        daemon.sigkill();
        // A held message is answered only now, to a daemon that is gone.
        answer.send_replace(true);
        let cut_before = suite.figures.cut_short;
        suite.after_stop(round, &answers.read(&receiver), true).await;
        if !matches!(trigger, Trigger::Held) {
            suite.figures.cut_short_unheld += suite.figures.cut_short - cut_before;
        }
    }

    // The clean run: the rest of the story at once, a receiver that takes everything, two polls (a
    // poll is served only after the one before it is stored), every message owed sent, SIGTERM.
    while sim.advance() {}
    answers.stop_failing(&receiver);
    let requests = sim.requests();
    let daemon = suite.start("clean run");
    let mut served = sim.watch_requests();
    let polled = tokio::time::timeout(GUARD, served.wait_for(|n| *n >= requests + 2)).await.is_ok_and(|r| r.is_ok());
    suite.require(polled, "the clean run polled twice in time");
    let deadline = Instant::now() + GUARD;
    loop {
        let owed = suite.owed_now().await;
        if owed == 0 {
            break;
        }
        suite.require(Instant::now() < deadline, &format!("the clean run still owes {owed} messages after a minute"));
        let seen = receiver.seen().len();
        let now = sim.requests();
        tokio::select! {
            () = receiver.wait_for("a delivery of the clean run", |s| s.len() > seen) => {}
            _ = served.wait_for(|n| *n > now) => {}
        }
    }
    let term = Command::new("kill").args(["-TERM", &daemon.0.id().to_string()]).status().expect("run kill");
    suite.require(term.success(), "SIGTERM reached the daemon");
    let exit = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join");
    suite.require(exit.code() == Some(0), &format!("the clean run exits 0, not {exit:?}"));
    suite.figures.rounds = kills + 1;
    suite.after_stop(kills + 1, &answers.read(&receiver), false).await;
    suite.final_checks(sim.requests());

    suite.figures.runtime = started.elapsed();
    eprintln!("crash suite: seed {seed}\n{}", suite.figures);
    let problems = std::mem::take(&mut suite.ledger.problems);
    if !problems.is_empty() {
        suite.fail(&format!("{} problems:\n  {}", problems.len(), problems.join("\n  ")));
    }
    // A run that never caught a message between its send and its record tested less than it says.
    suite.require(suite.figures.cut_short > 0, "some kill caught a message taken but not yet recorded");
    let _ = std::fs::remove_dir_all(&suite.dir);
}

/// When a round's daemon is killed: after an event, then a jitter.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Right after the start: in the store's recovery, the socket, the first delivery round.
    Start { jitter_ms: u64 },
    /// After the simulator served this round's n-th poll: in the ingest of that poll.
    Poll { n: u64, jitter_ms: u64 },
    /// After the receiver got this round's m-th delivery attempt: between a send and its record.
    /// A round with nothing to deliver is killed after its third poll instead.
    Delivery { m: usize, jitter_ms: u64 },
    /// While the receiver holds its answer to this round's m-th delivery attempt, having taken the
    /// message: a send whose record can never come before the kill.
    Held { m: usize, jitter_ms: u64 },
}

/// What actually set a kill off.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Start,
    Poll,
    Delivery,
    Held,
    /// A delivery moment that never came within three polls.
    NoDelivery,
}

impl Moment {
    /// The next round's moment. The kinds come from `deck`, refilled in shuffled blocks of ten
    /// (one at the start, four after a poll, three after a delivery attempt, two while an answer
    /// is held), so the short run too kills at every kind of moment.
    fn draw(deck: &mut Vec<u8>, rng: &mut Rng) -> Moment {
        if deck.is_empty() {
            *deck = vec![0, 1, 1, 1, 1, 2, 2, 2, 3, 3];
            for i in (1..deck.len()).rev() {
                deck.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        // Most jitters are none or short, because the windows that matter (between a commit and
        // its flush, between a send and its record) last a few milliseconds.
        let jitter_ms = match rng.below(10) {
            0..4 => 0,
            4..7 => rng.between(1, 5),
            _ => rng.between(0, 50),
        };
        match deck.pop() {
            Some(0) => Moment::Start { jitter_ms },
            Some(1) => Moment::Poll { n: rng.between(1, 2), jitter_ms },
            Some(2) => Moment::Delivery { m: rng.between(1, 4) as usize, jitter_ms },
            _ => Moment::Held { m: rng.between(1, 3) as usize, jitter_ms },
        }
    }

    /// Which attempt of the round the receiver holds, if any.
    fn held(self) -> Option<usize> {
        match self {
            Moment::Held { m, .. } => Some(m),
            _ => None,
        }
    }

    /// Waits for the moment's event (`requests` and `hits` are the counts at the round's start),
    /// then the jitter.
    async fn arrive(self, sim: &Simulator, receiver: &Fixture, requests: u64, hits: usize, suite: &Suite) -> Trigger {
        let mut served = sim.watch_requests();
        let (trigger, jitter_ms) = match self {
            Moment::Start { jitter_ms } => (Trigger::Start, jitter_ms),
            Moment::Poll { n, jitter_ms } => {
                let polled = tokio::time::timeout(GUARD, served.wait_for(|r| *r >= requests + n)).await;
                suite.require(polled.is_ok_and(|r| r.is_ok()), &format!("poll {n} of the round was served in time"));
                (Trigger::Poll, jitter_ms)
            }
            Moment::Delivery { m, jitter_ms } | Moment::Held { m, jitter_ms } => {
                let attempt = receiver.wait_for("a delivery attempt", |seen| receiver::hits(seen).len() >= hits + m);
                let polls = tokio::time::timeout(GUARD, served.wait_for(|r| *r >= requests + 3));
                let reached = if self.held().is_some() { Trigger::Held } else { Trigger::Delivery };
                tokio::select! {
                    () = attempt => (reached, jitter_ms),
                    polled = polls => {
                        suite.require(polled.is_ok(), "three polls or a delivery attempt in time");
                        (Trigger::NoDelivery, jitter_ms)
                    }
                }
            }
        };
        // A kill jitter, not a wait for something to happen: it moves the kill moment at random
        // within the few milliseconds after the event, which is the point of a crash test.
        if jitter_ms > 0 {
            tokio::time::sleep(Duration::from_millis(jitter_ms)).await;
        }
        trigger
    }
}

/// The suite's fixed parts and its running figures.
struct Suite {
    seed: u64,
    dir: PathBuf,
    config: PathBuf,
    /// Every run's stderr, one after another, each headed by its round.
    log: PathBuf,
    ledger: Ledger,
    figures: Figures,
}

impl Suite {
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn start(&self, heading: &str) -> Daemon {
        use std::io::Write as _;
        let mut log =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open the daemon log");
        writeln!(log, "\n── {heading}").expect("write the daemon log");
        let child =
            payguard(&self.config).arg("run").stdout(Stdio::null()).stderr(log).spawn().expect("start payguard run");
        Daemon(child)
    }

    /// How many messages the running daemon still owes, asked over its control socket.
    async fn owed_now(&self) -> u64 {
        let output = self.command(&["status", "--json"]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        self.require(output.status.success(), &format!("payguard status answers: {stdout}"));
        let status: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
        let pending = status["pending_deliveries"].as_u64();
        self.require(pending.is_some(), &format!("payguard status --json counts pending deliveries: {stdout}"));
        pending.unwrap_or_default()
    }

    /// Runs a payguard command off the async workers, so the servers keep answering meanwhile.
    async fn command(&self, args: &[&str]) -> std::process::Output {
        let mut command = payguard(&self.config);
        command.args(args);
        tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run payguard")
    }

    /// Everything checked after a daemon stopped (`crashed`: by SIGKILL).
    async fn after_stop(&mut self, round: usize, hits: &[Hit], crashed: bool) {
        let verify = self.command(&["verify"]).await;
        if verify.status.code() != Some(0) {
            self.ledger.problem(
                round,
                format!(
                    "payguard verify failed ({:?}): {}{}",
                    verify.status,
                    String::from_utf8_lossy(&verify.stdout),
                    String::from_utf8_lossy(&verify.stderr)
                ),
            );
        }
        let store = match reopened(|| Store::open(&self.state())) {
            Ok(store) => store,
            Err(e) => self.fail(&format!("round {round}: the store does not open after the stop: {e}")),
        };
        self.ledger.check_store(round, &store, hits, crashed, &mut self.figures);
    }

    /// The checks only the end can make: everything served stored, everything owed delivered.
    fn final_checks(&mut self, polls: u64) {
        // The round's checks closed their handle on the store a moment ago.
        let store = reopened(|| Store::open(&self.state()))
            .unwrap_or_else(|e| self.fail(&format!("the store does not open: {e}")));
        self.figures.polls = polls;
        self.ledger.check_end(&store, &mut self.figures);
    }

    fn require(&self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }

    /// Fails with the seed, the figures so far and the end of the daemon's log; keeps the state
    /// directory for a post-mortem.
    fn fail(&self, what: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        panic!(
            "crash suite failed with seed {seed} (replay: PAYGUARD_CRASH_SEED={seed} cargo test --test crash …):\n{what}\n\n\
             figures so far:\n{figures}\nstate and log in {dir}\nlast lines of the daemon log:\n{log}",
            seed = self.seed,
            figures = self.figures,
            dir = self.dir.display(),
            log = tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        );
    }
}

/// A running `payguard run`; one left running by a failing test is killed with it.
struct Daemon(Child);

impl Daemon {
    fn sigkill(&mut self) {
        self.0.kill().expect("SIGKILL the daemon");
        self.0.wait().expect("reap the daemon");
    }

    /// Waits for it to exit on its own.
    fn wait(mut self) -> std::process::ExitStatus {
        self.0.wait().expect("wait for the daemon")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The payguard binary on `config`, isolated from a service manager around the test.
fn payguard(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
    command
        .arg("--config")
        .arg(config)
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("RUST_LOG");
    command
}

/// The shared simulator config, polling every second without the daily budget a real SimpleFIN
/// bridge needs, and the receiver as the one channel.
fn write_config(dir: &Path, access_url: &str, hook: &str) -> PathBuf {
    // Incidents as configured by default, but without the 30 s wait: the daemon polls every second.
    let channel = format!(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n\n[alerts]\ngroup_wait = \"1s\"\ngroup_interval = \"2s\"\n"
    );
    let every_second = "schedule = \"* * * * * *\"";
    let text = support::sim_config_text(dir, access_url, "* * * * * *", &channel).replacen(
        every_second,
        &format!("{every_second}\nmax_requests_per_day = 1000000"),
        1,
    );
    assert!(text.contains("max_requests_per_day"), "the shared config no longer has the schedule line:\n{text}");
    let path = dir.join("payguard.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// What the checks remember from round to round, and the problems they found.
struct Ledger {
    story: Story,
    account: AccountRef,
    /// Reads start here: before anything the story posted.
    since: DateTime<Utc>,
    /// Transactions seen stored after some stop: durable, so never to be lost.
    durable: HashSet<String>,
    /// Deliveries seen in the outbox or the delivery log: never to vanish.
    known_deliveries: HashSet<String>,
    /// Deliveries seen in the delivery log: never to leave it.
    finished: HashSet<String>,
    /// Requests of the receiver already accounted for.
    hits_read: usize,
    /// Message id → how often the receiver took it.
    delivered: HashMap<String, u32>,
    /// Message id → the alert and kind it carries, for the per-alert counts.
    carries: HashMap<String, (String, String)>,
    /// Messages taken by the receiver but not recorded at the last crash: each may come once more.
    cut_short: HashSet<String>,
    /// (kind, transaction ids) of every firing message the receiver took.
    firing: Vec<(String, Vec<String>)>,
    /// Messages already reported as sent before they were durable.
    phantoms: HashSet<String>,
    problems: Vec<String>,
}

/// Kinds that are said once: a second message about one of them is a repeat, never a re-fire.
const EVENT_KINDS: [&str; 5] = ["new_payee", "duplicate_charge", "velocity", "large_debit", "unexplained_change"];

impl Ledger {
    fn new(story: Story) -> Ledger {
        Ledger {
            story,
            account: AccountRef::new("sim-bank", story::ACCOUNT),
            since: Utc::now() - TimeDelta::days(2),
            durable: HashSet::new(),
            known_deliveries: HashSet::new(),
            finished: HashSet::new(),
            hits_read: 0,
            delivered: HashMap::new(),
            carries: HashMap::new(),
            cut_short: HashSet::new(),
            firing: Vec::new(),
            phantoms: HashSet::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, round: usize, what: String) {
        self.problems.push(format!("round {round}: {what}"));
    }

    /// The checks after every stop, crash or clean.
    fn check_store(&mut self, round: usize, store: &Store, hits: &[Hit], crashed: bool, figures: &mut Figures) {
        self.check_transactions(round, store);
        let outbox: HashSet<String> = match store.pending_deliveries() {
            Ok(rows) => rows.into_iter().map(|d| d.id).collect(),
            Err(e) => return self.problem(round, format!("the outbox cannot be read: {e}")),
        };
        let log = match store.delivery_log(self.since) {
            Ok(log) => log,
            Err(e) => return self.problem(round, format!("the delivery log cannot be read: {e}")),
        };
        for record in log.iter().filter(|r| r.outcome != Outcome::Delivered) {
            self.problem(round, format!("delivery {} ended {:?}, not delivered", record.id, record.outcome));
        }
        let logged: HashSet<String> = log.into_iter().map(|r| r.id).collect();
        let vanished: Vec<&String> =
            self.known_deliveries.iter().filter(|id| !outbox.contains(*id) && !logged.contains(*id)).collect();
        if !vanished.is_empty() {
            let what = format!("deliveries once owed are neither owed nor logged any more: {vanished:?}");
            self.problem(round, what);
        }
        let unlogged: Vec<&String> = self.finished.iter().filter(|id| !logged.contains(*id)).collect();
        if !unlogged.is_empty() {
            self.problem(round, format!("finished deliveries left the delivery log: {unlogged:?}"));
        }
        self.known_deliveries.extend(outbox.iter().cloned());
        self.known_deliveries.extend(logged.iter().cloned());
        self.finished.extend(logged.iter().cloned());

        self.read_hits(round, hits, figures);
        // What the receiver took must be owed or logged by now: a message about a poll whose write
        // was lost was announced before it was durable.
        let mut phantoms: Vec<String> = self
            .delivered
            .keys()
            .filter(|id| !outbox.contains(*id) && !logged.contains(*id) && !self.phantoms.contains(*id))
            .cloned()
            .collect();
        phantoms.sort();
        for id in phantoms {
            let (alert, kind) = self.carries.get(&id).cloned().unwrap_or_default();
            self.problem(
                round,
                format!(
                    "message {id} ({kind}, alert {alert}) reached the receiver, but the store after the stop holds no trace of it: it was sent before the poll owing it was flushed"
                ),
            );
            self.phantoms.insert(id);
        }
        if crashed {
            for id in self.delivered.keys().filter(|id| outbox.contains(*id)) {
                if self.cut_short.insert(id.clone()) {
                    figures.cut_short += 1;
                }
            }
        }
    }

    /// Stored once each, as served, and nothing durable lost.
    fn check_transactions(&mut self, round: usize, store: &Store) {
        let stored = match store.transactions_between(&self.account, self.since, None) {
            Ok(stored) => stored,
            Err(e) => return self.problem(round, format!("the transactions cannot be read: {e}")),
        };
        let mut ids = HashSet::new();
        for tx in &stored {
            if !ids.insert(tx.id.clone()) {
                self.problem(round, format!("transaction {} is stored more than once", tx.id));
            }
            match self.story.transactions.get(&tx.id) {
                Some((amount, payee)) if *amount == tx.amount && *payee == tx.payee => {}
                Some(served) => {
                    self.problem(round, format!("transaction {} is stored as {tx:?}, served as {served:?}", tx.id))
                }
                None => self.problem(round, format!("transaction {} was never served: {tx:?}", tx.id)),
            }
        }
        let mut lost: Vec<&String> = self.durable.iter().filter(|id| !ids.contains(*id)).collect();
        lost.sort();
        if !lost.is_empty() {
            let what = format!("transactions seen stored after an earlier stop are gone: {lost:?}");
            self.problem(round, what);
        }
        self.durable.extend(ids);
    }

    /// Takes the receiver's new requests into account: a message taken again must have been cut
    /// short by a crash since it was last taken.
    fn read_hits(&mut self, round: usize, hits: &[Hit], figures: &mut Figures) {
        for hit in hits.iter().skip(self.hits_read) {
            figures.attempts += 1;
            if hit.status == 503 {
                figures.refused += 1;
            }
            // An incident's message owes one delivery per alert, each taken once.
            if hit.delivered().len() > 1 {
                figures.grouped += 1;
            }
            for message in hit.delivered() {
                figures.deliveries += 1;
                let id = &message.message_id;
                let count = {
                    let count = self.delivered.entry(id.clone()).or_default();
                    *count += 1;
                    *count
                };
                if count > 1 {
                    figures.repeats += 1;
                    if !self.cut_short.remove(id) {
                        let what = format!(
                            "message {id} ({}, alert {}) was taken {} times, but no crash cut it short since the last time (request {})",
                            message.kind, message.alert_id, count, hit.index
                        );
                        self.problem(round, what);
                    }
                }
                if count == 1 && message.event == "firing" {
                    self.firing.push((message.kind.clone(), message.transaction_ids.clone()));
                }
                figures.most_takes = figures.most_takes.max(count);
                self.carries.insert(id.clone(), (message.alert_id.clone(), message.kind.clone()));
            }
        }
        self.hits_read = hits.len();
    }

    /// After the clean run: the whole story stored, every alert said, nothing owed.
    fn check_end(&mut self, store: &Store, figures: &mut Figures) {
        let end = figures.rounds;
        let missing: Vec<&String> = self.story.transactions.keys().filter(|id| !self.durable.contains(*id)).collect();
        if !missing.is_empty() {
            let what = format!("{} served transactions are not stored after the clean run: {missing:?}", missing.len());
            self.problem(end, what);
        }
        figures.transactions = self.durable.len();
        figures.steps = self.story.script.steps.len();
        figures.large_drops = self.story.large_drops;

        match store.pending_deliveries() {
            Ok(owed) if owed.is_empty() => {}
            Ok(owed) => {
                let ids: Vec<String> = owed.into_iter().map(|d| d.id).collect();
                self.problem(end, format!("still owed after the clean run: {ids:?}"));
            }
            Err(e) => self.problem(end, format!("the outbox cannot be read: {e}")),
        }
        let log = store.delivery_log(self.since).unwrap_or_default();
        figures.messages = log.len();
        for record in &log {
            if !self.delivered.contains_key(&record.id) {
                self.problem(
                    end,
                    format!("delivery {} is logged as delivered, but the receiver never took it", record.id),
                );
            }
        }

        // Every alert the store holds was said, and its resolution too.
        let alerts = store.alerts_of(&self.account).unwrap_or_default();
        figures.alerts = alerts.len();
        for alert in &alerts {
            let said = |event: NoticeEvent| {
                log.iter().any(|r| r.alert_id == alert.id && r.event == event && r.outcome == Outcome::Delivered)
            };
            if !said(NoticeEvent::Firing) {
                self.problem(end, format!("alert {} ({}) was never delivered as firing", alert.id, alert.kind()));
            }
            if alert.resolved_at.is_some() && !said(NoticeEvent::Resolved) {
                self.problem(end, format!("alert {} ({}) resolved without saying so", alert.id, alert.kind()));
            }
        }

        // The event alerts the story makes certain, independent of what the store says.
        let (baseline, ingests) = ingests(store, &self.account);
        figures.polls_stored = ingests;
        for owed in self.story.owed_after(&baseline) {
            let found = self
                .firing
                .iter()
                .any(|(kind, ids)| kind == owed.kind && owed.transaction_ids.iter().all(|id| ids.contains(id)));
            figures.story_alerts += 1;
            if !found {
                let what = format!("no {} alert for {:?} reached the receiver", owed.kind, owed.transaction_ids);
                self.problem(end, what);
            }
        }

        // Per alert, events said once: a second message is a repeat of the same delivery.
        let mut per_alert: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (id, (alert, kind)) in &self.carries {
            if EVENT_KINDS.contains(&kind.as_str()) {
                per_alert.entry(alert.as_str()).or_default().insert(id.as_str());
            }
        }
        let mut twice: Vec<String> =
            per_alert.iter().filter(|(_, ids)| ids.len() > 1).map(|(alert, ids)| format!("{alert}: {ids:?}")).collect();
        twice.sort();
        if !twice.is_empty() {
            self.problem(end, format!("event alerts owed more than one message: {twice:?}"));
        }
        figures.over_two = self.delivered.values().filter(|n| **n > 2).count();
    }
}

/// The transactions of the account's first stored poll (its past, which raises no events), and how
/// many polls of it were stored.
fn ingests(store: &Store, account: &AccountRef) -> (HashSet<String>, u64) {
    let mut baseline = None;
    let mut count = 0;
    for entry in store.audit_log().unwrap_or_default() {
        if let AuditEvent::Ingest { account: a, new_transactions, .. } = entry.event
            && &a == account
        {
            count += 1;
            baseline.get_or_insert(new_transactions);
        }
    }
    (baseline.unwrap_or_default().into_iter().collect(), count)
}

/// The figures RELIABILITY.md reports.
#[derive(Default)]
struct Figures {
    kills: usize,
    rounds: usize,
    killed_at_start: usize,
    killed_in_poll: usize,
    killed_in_delivery: usize,
    killed_holding_an_answer: usize,
    killed_with_nothing_to_deliver: usize,
    polls: u64,
    /// Polls whose ingest is in the audit log: served and made durable before any kill.
    polls_stored: u64,
    steps: usize,
    large_drops: usize,
    transactions: usize,
    alerts: usize,
    story_alerts: usize,
    /// Delivery rows the store logged (one per message owed).
    messages: usize,
    attempts: usize,
    refused: usize,
    deliveries: usize,
    /// Messages taken that carried several alerts' deliveries (an incident).
    grouped: usize,
    /// Deliveries of a message the receiver had already taken.
    repeats: usize,
    /// Times a crash found a message taken but not recorded.
    cut_short: usize,
    /// Of those, in rounds where the receiver held no answer: the daemon's own window between a
    /// send and the flush of its record.
    cut_short_unheld: usize,
    most_takes: u32,
    over_two: usize,
    runtime: Duration,
}

impl Figures {
    fn count(&mut self, trigger: Trigger) {
        match trigger {
            Trigger::Start => self.killed_at_start += 1,
            Trigger::Poll => self.killed_in_poll += 1,
            Trigger::Delivery => self.killed_in_delivery += 1,
            Trigger::Held => self.killed_holding_an_answer += 1,
            Trigger::NoDelivery => self.killed_with_nothing_to_deliver += 1,
        }
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  kills {} (at start {}, after a poll {}, after a delivery attempt {}, while an answer was held {}, after 3 polls with nothing to deliver {}); rounds {}",
            self.kills,
            self.killed_at_start,
            self.killed_in_poll,
            self.killed_in_delivery,
            self.killed_holding_an_answer,
            self.killed_with_nothing_to_deliver,
            self.rounds
        )?;
        writeln!(
            f,
            "  polls served {} (stored {}, lost to a kill {}); script steps {} ({} large drops); transactions stored {}",
            self.polls,
            self.polls_stored,
            self.polls.saturating_sub(self.polls_stored),
            self.steps,
            self.large_drops,
            self.transactions
        )?;
        writeln!(
            f,
            "  alerts {} ({} event alerts the story makes certain); messages owed {}",
            self.alerts, self.story_alerts, self.messages
        )?;
        writeln!(
            f,
            "  delivery attempts {} (503 {}); deliveries taken {} ({} messages of several); repeats after a crash {}; cut short by a crash {} ({} with no answer held); most takes of one message {} ({} taken 3+ times)",
            self.attempts,
            self.refused,
            self.deliveries,
            self.grouped,
            self.repeats,
            self.cut_short,
            self.cut_short_unheld,
            self.most_takes,
            self.over_two
        )?;
        write!(f, "  runtime {:.1} s", self.runtime.as_secs_f64())
    }
}
