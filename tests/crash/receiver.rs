//! The webhook receiver's side of the crash suite: the answers it gives (drawn from the seed: mostly
//! 200, sometimes 503, half of those with `Retry-After: 1` so the retry comes within the same run
//! and the other half left to a restart; and, for some rounds, one message taken but answered only
//! after the kill), and what it got, read back as messages with the answer each one received.
//!
//! The support `Fixture` records a request and takes its queued answer under one lock, and each
//! round's answers are queued while no daemon runs, so the n-th request on the hook path got the
//! n-th answer planned.

use tokio::sync::watch;

use super::rng::Rng;
use crate::support::{Fixture, Reply, Seen};

pub const PATH: &str = "/hook";

/// A message the receiver got about one alert: the JSON payguard's generic webhook sends for it, or
/// its entry in an incident's message.
#[derive(Clone, Debug)]
pub struct Message {
    /// The delivery's id: one per message owed, the same on every attempt.
    pub message_id: String,
    pub alert_id: String,
    /// `firing`, `repeat` or `resolved`.
    pub event: String,
    pub kind: String,
    pub transaction_ids: Vec<String>,
}

/// One request on the hook path and the status it was answered with.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Its place among all requests on the hook path.
    pub index: usize,
    pub status: u16,
    /// What the request said, one per alert (several for an incident); none for a body that is not
    /// a message (a request cut off by the kill).
    pub messages: Vec<Message>,
}

impl Hit {
    /// What the receiver took: a person would have seen it.
    pub fn delivered(&self) -> &[Message] {
        if (200..300).contains(&self.status) { &self.messages } else { &[] }
    }
}

/// The receiver's answers, planned round by round while no daemon runs.
pub struct Answers {
    rng: Rng,
    failure_percent: u64,
    /// The status each request on the hook path got or will get, by its place; 200 past the end.
    statuses: Vec<u16>,
}

/// Answers planned per round; past them the receiver takes everything.
const PER_ROUND: usize = 64;

impl Answers {
    /// Answers 503 `failure_percent` times in a hundred, 200 otherwise.
    pub fn new(receiver: &Fixture, failure_percent: u64, rng: Rng) -> Answers {
        receiver.reply(PATH, Reply::json("{}"));
        Answers { rng, failure_percent, statuses: Vec::new() }
    }

    /// Plans the next round's answers. With `hold` (m, gate), the round's m-th request is taken
    /// (answered 200) only once `gate` opens: the daemon is killed while it waits for the answer.
    pub fn next_round(&mut self, receiver: &Fixture, hold: Option<(usize, watch::Receiver<bool>)>) {
        self.statuses.truncate(hits(&receiver.seen()).len());
        let mut replies = Vec::with_capacity(PER_ROUND);
        for place in 1..=PER_ROUND {
            let reply = match &hold {
                Some((m, gate)) if *m == place => {
                    Reply::Gated { gate: gate.clone(), then: Box::new(Reply::json("{}")) }
                }
                _ if self.rng.chance(self.failure_percent) => {
                    let busy = Reply::status(503, "busy");
                    if self.rng.chance(50) { busy.with_header("retry-after", "1") } else { busy }
                }
                _ => Reply::json("{}"),
            };
            self.statuses.push(match &reply {
                Reply::Full { status, .. } => *status,
                _ => 200,
            });
            replies.push(reply);
        }
        receiver.reply_sequence(PATH, replies);
    }

    /// From now on every request is answered 200 (call it while no daemon runs).
    pub fn stop_failing(&mut self, receiver: &Fixture) {
        self.statuses.truncate(hits(&receiver.seen()).len());
        receiver.reply_sequence(PATH, Vec::new());
    }

    pub fn status_of(&self, index: usize) -> u16 {
        self.statuses.get(index).copied().unwrap_or(200)
    }

    /// Every request on the hook path so far, with its answer.
    pub fn read(&self, receiver: &Fixture) -> Vec<Hit> {
        hits(&receiver.seen())
            .into_iter()
            .enumerate()
            .map(|(index, seen)| Hit { index, status: self.status_of(index), messages: parse(&seen.body) })
            .collect()
    }
}

/// The requests on the hook path, in arrival order.
pub fn hits(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter().filter(|s| s.path == PATH).collect()
}

/// The alerts a body says: an incident's each with the message id owed for it, or the one alert.
fn parse(body: &str) -> Vec<Message> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else { return Vec::new() };
    match json["alerts"].as_array() {
        Some(alerts) => alerts.iter().filter_map(message).collect(),
        None => message(&json).into_iter().collect(),
    }
}

fn message(json: &serde_json::Value) -> Option<Message> {
    let text = |key: &str| json[key].as_str().map(str::to_owned);
    Some(Message {
        message_id: text("message_id")?,
        alert_id: text("alert_id")?,
        event: text("event")?,
        kind: text("kind")?,
        transaction_ids: json["transaction_ids"]
            .as_array()
            .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
    })
}
