//! Channel faults (issue 7): a message owed is delivered when its channel recovers, none is lost,
//! none is retried forever, and none goes out again after a success. Real receivers on loopback: a
//! mail server that turns messages away for now or for good (mailin), one that hangs up
//! mid-conversation, a port nobody listens on, and HTTP receivers answering 429, 5xx and 4xx for
//! the Twilio and webhook channels. Each test owes one message per channel through the store's
//! outbox, works it with the real `Deliverer`, and checks what a person would see: what the
//! receiver got (how often, with the alert id), the delivery log, the outbox and the round reports.
//!
//! Time is never waited for: each test calls `Deliverer::round` itself, as the worker's `run` loop
//! does, at the due times the rounds report, on a manual clock: a paused tokio clock jumps ahead
//! to the next timer whenever the runtime waits on I/O (a mail server's thread, a loopback HTTP
//! answer, sled's flush), which moved time past a due date on a loaded CI machine.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::alert::outbox::{Delivery, DeliveryRecord, Outcome, backoff};
use payguard::alert::{Alert, NoticeEvent};
use payguard::config::Config;
use payguard::daemon::{Clock, Engine, RoundReport};
use payguard::model::{AccountRef, Finding, FindingKind};
use payguard::notify::Stream;
use payguard::store::Store;
use support::logs::Logs;
use support::smtp::{Answer, Cut, Cutter, Smtp, free_port};
use support::{Fixture, Reply, Seen};

/// A guard against a hang, never a wait for timing.
const LIMIT: Duration = Duration::from_secs(60);
const SID: &str = "AC0123456789";
const TWILIO_PATH: &str = "/2010-04-01/Accounts/AC0123456789/Messages.json";
const HOOK: &str = "/hook";
const PHONE: &str = "+15005550010";

// ---------------------------------------------------------------------------------------------
// The world: an engine with the channels under test, and messages owed through its outbox

fn email_channel(port: u16) -> String {
    format!(
        "[[channel]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:{port}\"\ntls = \"none\"\n\
         from = \"payguard@example.org\"\nto = [\"me@example.org\"]\ntimeout = \"10s\"\n"
    )
}

/// Twilio at `base` (a loopback receiver standing in for api.twilio.com), one recipient.
fn sms_channel(base: &str) -> String {
    format!(
        "[[channel]]\nname = \"sms\"\nkind = \"sms\"\nprovider = \"twilio\"\naccount_sid = \"{SID}\"\n\
         auth_token = \"tw-token-0123456789\"\nfrom = \"+15005550006\"\napi_base = \"{base}\"\nto = [\"{PHONE}\"]\n"
    )
}

fn webhook_channel(url: &str) -> String {
    format!("[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n")
}

struct Desk {
    engine: Arc<Engine>,
    clock: Clock,
    text: String,
    dir: tempfile::TempDir,
}

impl Desk {
    /// An engine whose only business here is its outbox and `channels`, on `clock`. Its source is
    /// never polled.
    fn new(channels: &str, clock: Clock) -> Desk {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = support::sim_config_text(dir.path(), "http://u:p@127.0.0.1:9/simplefin", "0 * * * *", channels);
        let engine = Arc::new(Desk::engine(&text, clock.clone()));
        Desk { engine, clock, text, dir }
    }

    fn engine(text: &str, clock: Clock) -> Engine {
        let config = Config::parse(text, Path::new("channel_faults.toml")).expect("config");
        std::fs::create_dir_all(&config.daemon.state_dir).expect("state dir");
        let store = Store::open(&config.daemon.state_dir).expect("store");
        Engine::new(config, store, Stream::Stderr, clock).expect("engine")
    }

    /// The same state directory and config in a new engine, as after a restart.
    async fn restart(self) -> Desk {
        self.engine.store().flush().await.expect("flush");
        let Desk { engine, clock, text, dir } = self;
        drop(Arc::into_inner(engine).expect("no one else holds the engine"));
        let engine = Arc::new(Desk::engine(&text, clock.clone()));
        Desk { engine, clock, text, dir }
    }

    fn store(&self) -> &Store {
        self.engine.store()
    }

    /// One message owed to `channel` for a new alert `alert_id`, due now.
    fn owe(&self, channel: &str, alert_id: &str) -> Delivery {
        let now = self.clock.now();
        let delivery = Delivery::new(&alert(alert_id, now), NoticeEvent::Firing, channel, now, now);
        self.store().save_delivery(&delivery).expect("owe a message");
        delivery
    }

    /// One round of the delivery worker, as `run` does it; `retry_now` as its first round after a
    /// start does.
    async fn round(&self, retry_now: bool) -> RoundReport {
        let now = self.clock.now();
        let round = self.engine.deliverer().round(self.store(), now, retry_now);
        tokio::time::timeout(LIMIT, round).await.expect("the round finished in time").expect("round")
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves the (manual) clock to `at`.
    async fn move_to(&self, at: DateTime<Utc>) {
        self.clock.set(at);
    }

    fn log(&self) -> Vec<DeliveryRecord> {
        self.store().delivery_log(self.now() - TimeDelta::days(30)).expect("delivery log")
    }

    fn outbox(&self) -> Vec<Delivery> {
        self.store().pending_deliveries().expect("outbox")
    }

    /// The one row owed, with the number of attempts made at it.
    fn owed(&self) -> Delivery {
        let mut rows = self.outbox();
        assert_eq!(rows.len(), 1, "one message owed: {rows:?}");
        rows.remove(0)
    }
}

fn alert(id: &str, now: DateTime<Utc>) -> Alert {
    let finding = Finding {
        detail: "A debit of 950.00 USD is at or above your large_debit limit of 500.00 USD.".into(),
        currency: "USD".into(),
        amount: Some("950.00".parse().expect("a decimal")),
        balance: Some("120.00".parse().expect("a decimal")),
        payees: vec!["ACME".into()],
        transaction_ids: vec![format!("tx-{id}")],
        key: id.into(),
        ..Finding::new(FindingKind::LargeDebit, AccountRef::new("sim-bank", "ACT-1"), "Large debit to ACME", now)
    };
    Alert { id: id.into(), ..Alert::firing(finding, now) }
}

/// A report of a round that did nothing but note `pending` rows owed, the next due at `next_due`.
fn waiting(pending: usize, next_due: DateTime<Utc>) -> RoundReport {
    RoundReport { pending, next_due: Some(next_due), ..RoundReport::default() }
}

/// A report of a round that tried `rescheduled` rows and will try again at `next_due`.
fn retrying(rescheduled: usize, next_due: DateTime<Utc>) -> RoundReport {
    RoundReport { rescheduled, pending: rescheduled, next_due: Some(next_due), ..RoundReport::default() }
}

fn delivered(delivered: usize) -> RoundReport {
    RoundReport { delivered, ..RoundReport::default() }
}

fn given_up(failed: usize) -> RoundReport {
    RoundReport { failed, ..RoundReport::default() }
}

/// After a delivery is finished nothing more goes out for it: not in the next round, not in a
/// restart's first round (which ignores backoff), not a day later.
async fn assert_nothing_more(desk: &Desk) {
    assert_eq!(desk.round(false).await, RoundReport::default(), "a round right after");
    assert_eq!(desk.round(true).await, RoundReport::default(), "a round that retries everything owed");
    desk.move_to(desk.now() + TimeDelta::days(1)).await;
    assert_eq!(desk.round(true).await, RoundReport::default(), "a day later");
    assert!(desk.outbox().is_empty(), "nothing owed: {:?}", desk.outbox());
}

/// The one record in the delivery log.
fn only_record(desk: &Desk) -> DeliveryRecord {
    let mut log = desk.log();
    assert_eq!(log.len(), 1, "one outcome recorded: {log:?}");
    log.remove(0)
}

// ---------------------------------------------------------------------------------------------
// 1. A mail server that turns the message away

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_smtp_refusal_is_retried_with_backoff_until_the_server_accepts() {
    let smtp = Smtp::start();
    smtp.answer(Answer::Rcpt(451));
    let desk = Desk::new(&email_channel(smtp.port), Clock::manual(Utc::now()));
    let owed = desk.owe("mail", "c0ffee000101");
    let t1 = desk.now();

    // 451 at RCPT: not now. Tried again after the first backoff step, the reason kept.
    let due1 = t1 + backoff(1, &owed.id);
    assert_eq!(desk.round(false).await, retrying(1, due1));
    assert_eq!(smtp.transactions(), 1);
    let row = desk.owed();
    assert_eq!((row.attempts, row.not_before), (1, due1));
    let error = row.last_error.expect("the reason is kept");
    assert!(error.contains("451") && error.contains(&format!("127.0.0.1:{}", smtp.port)), "{error}");
    assert!(desk.log().is_empty(), "no outcome yet");

    // Not before the backoff is over.
    desk.move_to(due1 - TimeDelta::seconds(1)).await;
    assert_eq!(desk.round(false).await, waiting(1, due1));
    assert_eq!(smtp.transactions(), 1, "not tried early");

    // 452 at DATA: not now either; the next step is longer.
    smtp.answer(Answer::Data(452));
    desk.move_to(due1).await;
    let due2 = due1 + backoff(2, &owed.id);
    assert_eq!(desk.round(false).await, retrying(1, due2));
    assert!(due2 - due1 > due1 - t1, "the backoff grows");
    assert_eq!(smtp.transactions(), 2);
    assert!(desk.owed().last_error.is_some_and(|e| e.contains("452")));

    // The server takes mail again: delivered on the third attempt, once.
    smtp.answer(Answer::Accept);
    desk.move_to(due2).await;
    assert_eq!(desk.round(false).await, delivered(1));
    let received = smtp.received();
    assert_eq!(received.len(), 1, "one message");
    assert_eq!(received[0].header("x-payguard-alert").as_deref(), Some("c0ffee000101"));
    assert!(received[0].text().contains("c0ffee000101"), "the alert id in the body");
    assert_eq!(received[0].to, ["me@example.org"]);
    let record = only_record(&desk);
    assert_eq!(
        (record.id.as_str(), &record.outcome, record.attempts, record.finished_at),
        (owed.id.as_str(), &Outcome::Delivered, 3, due2)
    );

    assert_nothing_more(&desk).await;
    assert_eq!((smtp.transactions(), smtp.received().len()), (3, 1), "never sent again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_smtp_refusal_is_given_up_recorded_and_logged() {
    let smtp = Smtp::start();
    let desk = Desk::new(&email_channel(smtp.port), Clock::manual(Utc::now()));
    let (logs, _guard) = Logs::capture();

    for (answer, code, alert_id) in
        [(Answer::Rcpt(550), "550", "c0ffee000201"), (Answer::Data(554), "554", "c0ffee000202")]
    {
        smtp.answer(answer);
        let before = smtp.transactions();
        let owed = desk.owe("mail", alert_id);
        assert_eq!(desk.round(false).await, given_up(1), "{answer:?}");
        assert_eq!(smtp.transactions(), before + 1, "{answer:?}: tried once");
        assert!(desk.outbox().is_empty(), "{answer:?}: nothing owed any more");

        let record = desk.log().into_iter().find(|r| r.id == owed.id).expect("the outcome is recorded");
        assert_eq!((record.alert_id.as_str(), record.attempts), (alert_id, 1));
        let Outcome::Failed { error } = &record.outcome else { panic!("{answer:?}: {record:?}") };
        assert!(error.contains(code) && error.contains("refused the message"), "{answer:?}: {error}");
        assert_eq!(record.outcome.as_str(), "failed");

        // The log says so, naming the alert and the server's code.
        let said = logs.lines_with(&["delivery given up", alert_id, code]);
        assert_eq!(said.len(), 1, "{answer:?}: {}", logs.text());
        assert!(said[0].contains("ERROR"), "{}", said[0]);
    }

    // Even once the server would accept, the refused messages stay refused.
    smtp.answer(Answer::Accept);
    let transactions = smtp.transactions();
    assert_nothing_more(&desk).await;
    assert_eq!(smtp.transactions(), transactions, "never retried");
    assert!(smtp.received().is_empty());
    assert_eq!(desk.log().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 2. A mail server that hangs up mid-conversation

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_server_hanging_up_mid_message_is_retried_and_the_message_arrives_once() {
    // Two connections: one hung up right after the greeting, one while the message is coming in.
    let cutter = Cutter::start(vec![Cut::AfterGreeting, Cut::MidData { after: 64 }]).await;
    let port = cutter.port;
    let desk = Desk::new(&email_channel(port), Clock::manual(Utc::now()));
    let owed = desk.owe("mail", "c0ffee000301");

    let t1 = desk.now();
    let due1 = t1 + backoff(1, &owed.id);
    assert_eq!(desk.round(false).await, retrying(1, due1), "hung up after the greeting");
    desk.move_to(due1).await;
    let due2 = due1 + backoff(2, &owed.id);
    assert_eq!(desk.round(false).await, retrying(1, due2), "hung up during the message");
    let error = desk.owed().last_error.expect("the reason is kept");
    assert!(error.contains(&format!("127.0.0.1:{port} hung up in the middle")), "{error}");

    let sessions = cutter.finish().await;
    assert_eq!(sessions.len(), 2);
    let verbs: Vec<String> = sessions[1]
        .commands
        .iter()
        .map(|c| c.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase())
        .collect();
    assert_eq!(verbs, ["EHLO", "MAIL", "RCPT", "DATA"], "the second connection got as far as the message");
    assert!(!sessions[1].partial.is_empty(), "and part of it was sent");

    // A well-behaved server on the same port: the third attempt delivers it, once.
    let smtp = Smtp::on(std::net::TcpListener::bind(("127.0.0.1", port)).expect("take over the port"));
    desk.move_to(due2).await;
    assert_eq!(desk.round(false).await, delivered(1));
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("x-payguard-alert").as_deref(), Some("c0ffee000301"));
    let record = only_record(&desk);
    assert_eq!((&record.outcome, record.attempts), (&Outcome::Delivered, 3));

    assert_nothing_more(&desk).await;
    assert_eq!((smtp.transactions(), smtp.received().len()), (1, 1), "never sent again");
}

// ---------------------------------------------------------------------------------------------
// 3. A mail server that is down

/// The attempt times `outbox::backoff` alone gives a delivery first tried at `start`: each next one
/// as long as `until` accepts it.
fn schedule(id: &str, start: DateTime<Utc>, until: impl Fn(DateTime<Utc>) -> bool) -> Vec<DateTime<Utc>> {
    let mut times = vec![start];
    loop {
        let last = times[times.len() - 1];
        let next = last + backoff(times.len() as u32, id);
        if !until(next) {
            return times;
        }
        times.push(next);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_server_down_for_an_hour_gets_the_message_once_it_is_back() {
    let port = free_port();
    let desk = Desk::new(&email_channel(port), Clock::manual(Utc::now()));
    let owed = desk.owe("mail", "c0ffee000401");
    let t1 = desk.now();
    let back = t1 + TimeDelta::hours(1);

    // Down for an hour: every attempt fails, each waits out the next backoff step, and the
    // message stays owed.
    let mut attempts = Vec::new();
    loop {
        let now = desk.now();
        let expected_next = now + backoff(attempts.len() as u32 + 1, &owed.id);
        assert_eq!(desk.round(false).await, retrying(1, expected_next), "attempt {}", attempts.len() + 1);
        attempts.push(now);
        let row = desk.owed();
        assert_eq!((row.attempts as usize, row.not_before), (attempts.len(), expected_next));
        assert!(row.last_error.is_some_and(|e| e.contains(&format!("cannot reach 127.0.0.1:{port}"))));
        // Halfway to the next attempt, nothing is tried.
        desk.move_to(now + (expected_next - now) / 2).await;
        assert_eq!(desk.round(false).await, waiting(1, expected_next));
        assert_eq!(desk.owed().attempts as usize, attempts.len(), "not tried early");
        if expected_next >= back {
            break;
        }
        desk.move_to(expected_next).await;
    }
    assert_eq!(attempts, schedule(&owed.id, t1, |t| t < back), "attempts spaced as outbox::backoff says");
    assert!((7..=8).contains(&attempts.len()), "30 s doubling for an hour: {} attempts", attempts.len());
    assert!(desk.log().is_empty(), "no outcome while it is down");

    // The server is back; the next attempt delivers, once.
    let smtp = Smtp::on(std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the reserved port"));
    let due = desk.owed().not_before;
    desk.move_to(due).await;
    assert_eq!(desk.round(false).await, delivered(1));
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.received()[0].header("x-payguard-alert").as_deref(), Some("c0ffee000401"));
    let record = only_record(&desk);
    assert_eq!(
        (&record.outcome, record.attempts as usize, record.finished_at),
        (&Outcome::Delivered, attempts.len() + 1, due)
    );

    assert_nothing_more(&desk).await;
    assert_eq!(smtp.transactions(), 1, "never sent again");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_outage_longer_than_max_delivery_age_expires_the_message() {
    let port = free_port();
    let desk = Desk::new(&email_channel(port), Clock::manual(Utc::now()));
    let max_age = desk.engine.config().max_delivery_age;
    assert_eq!(max_age, TimeDelta::hours(24), "the default max_delivery_age");
    let (logs, _guard) = Logs::capture();
    let owed = desk.owe("mail", "c0ffee000501");
    let t1 = desk.now();

    // Rounds whenever something is due, until the message is given up.
    let mut attempts = Vec::new();
    let last = loop {
        assert!(attempts.len() < 100, "given up in time");
        attempts.push(desk.now());
        let report = desk.round(false).await;
        if report.failed == 1 {
            assert_eq!(report, given_up(1));
            break desk.now();
        }
        assert_eq!(report.rescheduled, 1);
        desk.move_to(report.next_due.expect("another attempt")).await;
    };
    // Tried on the backoff schedule for as long as the next attempt would still fall within a day.
    assert_eq!(attempts, schedule(&owed.id, t1, |t| t - t1 <= max_age));
    assert!(
        last - t1 <= max_age && last - t1 > max_age - TimeDelta::hours(2),
        "expired near the day's end: {}",
        last - t1
    );

    let record = only_record(&desk);
    assert_eq!((record.attempts as usize, record.finished_at), (attempts.len(), last));
    let Outcome::Expired { error } = &record.outcome else { panic!("{record:?}") };
    assert!(error.contains(&format!("cannot reach 127.0.0.1:{port}")), "{error}");
    assert!(desk.outbox().is_empty());
    assert_eq!(logs.lines_with(&["delivery given up", "c0ffee000501", "Expired"]).len(), 1, "{}", logs.text());

    // The server coming back later changes nothing: the message is not sent a day late.
    let smtp = Smtp::on(std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the reserved port"));
    assert_nothing_more(&desk).await;
    assert_eq!(smtp.transactions(), 0);
}

// ---------------------------------------------------------------------------------------------
// 4. Twilio and webhooks: 429 with Retry-After, then 5xx, then success; 4xx for good

fn twilio_created() -> Reply {
    Reply::Full {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"sid": "SM0001", "status": "queued"}"#.to_vec(),
    }
}

/// A form body as name → value, decoded the way a server would.
fn form(body: &str) -> std::collections::HashMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://x/?{body}")).expect("a form body makes a query");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The requests `fixture` has seen on `path`.
fn requests(fixture: &Fixture, path: &str) -> Vec<Seen> {
    fixture.seen().into_iter().filter(|s| s.path == path).collect()
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_after_retry_after_and_delivered_once() {
    let fixture = Fixture::start().await;
    let faults = |retry_after: &str| {
        vec![
            Reply::status(429, "slow down").with_header("retry-after", retry_after),
            Reply::status(500, "oops"),
            Reply::status(502, "bad gateway"),
            Reply::status(503, "maintenance"),
        ]
    };
    fixture.reply_sequence(TWILIO_PATH, faults("300"));
    fixture.reply(TWILIO_PATH, twilio_created());
    fixture.reply_sequence(HOOK, faults("120"));
    fixture.reply(HOOK, Reply::json("{}"));
    let channels = format!("{}{}", sms_channel(&fixture.url("")), webhook_channel(&fixture.url(HOOK)));
    let desk = Desk::new(&channels, Clock::manual(Utc::now()));
    let sms = desk.owe("sms", "c0ffee000601");
    let hook = desk.owe("hook", "c0ffee000602");

    // Rounds as the worker runs them: whenever something is due, and once a second before, when
    // nothing may go out. Each attempt is noted with the time of its round.
    let mut attempts: Vec<(String, DateTime<Utc>)> = Vec::new();
    let mut report = desk.round(false).await;
    let mut seen = fixture.seen().len();
    attempts.extend(fixture.seen().into_iter().map(|s| (s.path, desk.now())));
    assert_eq!(report, retrying(2, desk.now() + TimeDelta::seconds(120)), "both refused, the webhook due first");
    while let Some(due) = report.next_due {
        assert!(attempts.len() < 20, "delivered in time");
        desk.move_to(due - TimeDelta::seconds(1)).await;
        let early = desk.round(false).await;
        assert_eq!((early.delivered, early.failed, early.rescheduled, early.next_due), (0, 0, 0, Some(due)));
        assert_eq!(fixture.seen().len(), seen, "nothing tried before it is due");
        desk.move_to(due).await;
        report = desk.round(false).await;
        let now = fixture.seen();
        attempts.extend(now[seen..].iter().map(|s| (s.path.clone(), desk.now())));
        seen = now.len();
    }
    assert_eq!(report.pending, 0);

    for (path, owed, retry_after, success) in [(TWILIO_PATH, &sms, 300, 201), (HOOK, &hook, 120, 200)] {
        let at: Vec<DateTime<Utc>> = attempts.iter().filter(|(p, _)| p == path).map(|(_, t)| *t).collect();
        assert_eq!(at.len(), 5, "{path}: 429, 500, 502, 503, then {success}");
        // Retry-After is honoured to the second: the receiver asked for more than the backoff.
        assert_eq!(at[1] - at[0], TimeDelta::seconds(retry_after), "{path}");
        // Then the backoff after attempts 2, 3 and 4.
        for k in 2..=4usize {
            assert_eq!(at[k] - at[k - 1], backoff(k as u32, &owed.id), "{path}: after attempt {k}");
        }
        let alert_id = &owed.alert.id;
        for request in requests(&fixture, path) {
            if path == TWILIO_PATH {
                let form = form(&request.body);
                assert_eq!(form.get("To").map(String::as_str), Some(PHONE));
                assert!(form.get("Body").is_some_and(|b| b.ends_with(&format!("#{alert_id}"))), "{form:?}");
            } else {
                let json: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
                assert_eq!(json["alert_id"], alert_id.as_str());
                assert_eq!(json["message_id"], owed.id.as_str(), "every attempt carries the same message id");
            }
        }
        let record = desk.log().into_iter().find(|r| r.id == owed.id).expect("recorded");
        assert_eq!((&record.outcome, record.attempts, record.finished_at), (&Outcome::Delivered, 5, at[4]), "{path}");
    }
    assert_eq!(desk.log().len(), 2);
    assert_nothing_more(&desk).await;
    assert_eq!(
        (requests(&fixture, TWILIO_PATH).len(), requests(&fixture, HOOK).len()),
        (5, 5),
        "none after the success"
    );
}

#[tokio::test]
async fn a_receiver_asking_to_retry_at_once_is_not_hammered_and_the_message_expires() {
    // A receiver (a misconfigured proxy, say) that answers every request with 429 and
    // `Retry-After: 0`. The worker sleeps until the next due time, so a due time of "now" would
    // send again at once, for as long as `max_delivery_age` lasts.
    let fixture = Fixture::start().await;
    fixture.reply(HOOK, Reply::status(429, "slow down").with_header("retry-after", "0"));
    let desk = Desk::new(&webhook_channel(&fixture.url(HOOK)), Clock::manual(Utc::now()));
    let max_age = desk.engine.config().max_delivery_age;
    let owed = desk.owe("hook", "c0ffee000701");
    let t1 = desk.now();

    let mut attempts = Vec::new();
    loop {
        assert!(attempts.len() < 100, "given up in time");
        attempts.push(desk.now());
        let report = desk.round(false).await;
        if report.failed == 1 {
            break;
        }
        let due = report.next_due.expect("another attempt");
        let k = attempts.len() as u32;
        assert!(
            due - desk.now() >= backoff(k, &owed.id),
            "attempt {} is due {} after attempt {k}",
            k + 1,
            due - desk.now()
        );
        desk.move_to(due).await;
    }
    assert_eq!(attempts, schedule(&owed.id, t1, |t| t - t1 <= max_age), "the backoff schedule");
    assert_eq!(requests(&fixture, HOOK).len(), attempts.len());
    let record = only_record(&desk);
    assert!(matches!(&record.outcome, Outcome::Expired { error } if error.contains("HTTP 429")), "{record:?}");
    assert_nothing_more(&desk).await;
    assert_eq!(requests(&fixture, HOOK).len(), attempts.len());
}

#[tokio::test]
async fn a_retry_after_beyond_the_calendar_expires_the_message_without_a_panic() {
    // 10^14 seconds is a valid `Retry-After` on the wire, and far past any date chrono can hold.
    let fixture = Fixture::start().await;
    fixture.reply(HOOK, Reply::status(429, "slow down").with_header("retry-after", "100000000000000"));
    let desk = Desk::new(&webhook_channel(&fixture.url(HOOK)), Clock::manual(Utc::now()));
    desk.owe("hook", "c0ffee000751");
    assert_eq!(desk.round(false).await, given_up(1), "it cannot be delivered within max_delivery_age");
    let record = only_record(&desk);
    assert!(matches!(&record.outcome, Outcome::Expired { error } if error.contains("HTTP 429")), "{record:?}");
    assert_nothing_more(&desk).await;
    assert_eq!(requests(&fixture, HOOK).len(), 1);
}

/// An HTTP date `seconds` from now on the system clock, as a server would write it.
fn http_date(seconds: i64) -> String {
    (Utc::now() + TimeDelta::seconds(seconds)).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let fixture = Fixture::start().await;
    fixture.reply_sequence(HOOK, vec![Reply::status(503, "maintenance").with_header("retry-after", &http_date(600))]);
    fixture.reply(HOOK, Reply::json("{}"));
    let desk = Desk::new(&webhook_channel(&fixture.url(HOOK)), Clock::manual(Utc::now()));
    desk.owe("hook", "c0ffee000801");
    let t1 = desk.now();

    let report = desk.round(false).await;
    assert_eq!(report.rescheduled, 1);
    let due = report.next_due.expect("a retry");
    // The date is read against the system clock, a moment after it was written.
    assert!(due - t1 > TimeDelta::seconds(590) && due - t1 <= TimeDelta::seconds(600), "waits {}", due - t1);
    desk.move_to(due - TimeDelta::seconds(1)).await;
    assert_eq!(desk.round(false).await, waiting(1, due));
    assert_eq!(fixture.seen().len(), 1, "not tried before the date");
    desk.move_to(due).await;
    assert_eq!(desk.round(false).await, delivered(1));
    assert_eq!(fixture.seen().len(), 2);
    assert_nothing_more(&desk).await;
    assert_eq!(fixture.seen().len(), 2);
}

#[tokio::test]
async fn a_client_error_other_than_429_is_given_up_for_sms_and_webhook() {
    let fixture = Fixture::start().await;
    let channels = format!("{}{}", sms_channel(&fixture.url("")), webhook_channel(&fixture.url(HOOK)));
    let desk = Desk::new(&channels, Clock::manual(Utc::now()));
    let (logs, _guard) = Logs::capture();
    let twilio_refusal = r#"{"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}"#;

    for (n, code) in [400u16, 401].into_iter().enumerate() {
        fixture.reply(TWILIO_PATH, Reply::Full { status: code, headers: vec![], body: twilio_refusal.into() });
        fixture.reply(HOOK, Reply::status(code, "no"));
        let sms = desk.owe("sms", &format!("c0ffee0009{n}1"));
        let hook = desk.owe("hook", &format!("c0ffee0009{n}2"));

        assert_eq!(desk.round(false).await, given_up(2), "HTTP {code}");
        assert!(desk.outbox().is_empty(), "HTTP {code}: nothing owed");
        for owed in [&sms, &hook] {
            let record = desk.log().into_iter().find(|r| r.id == owed.id).expect("recorded");
            let Outcome::Failed { error } = &record.outcome else { panic!("{record:?}") };
            assert!(error.contains(&format!("HTTP {code}")), "{error}");
            assert_eq!(record.attempts, 1);
            assert_eq!(logs.lines_with(&["delivery given up", &owed.alert.id]).len(), 1, "{}", logs.text());
        }
        assert_nothing_more(&desk).await;
    }
    let count = |path: &str| fixture.seen().iter().filter(|s| s.path == path).count();
    assert_eq!((count(TWILIO_PATH), count(HOOK)), (2, 2), "each refused message was tried once");
    let twilio = fixture.seen().into_iter().find(|s| s.path == TWILIO_PATH).expect("a Twilio request");
    assert!(form(&twilio.body).get("Body").is_some_and(|b| b.contains("c0ffee000901")));
}

// ---------------------------------------------------------------------------------------------
// 5. No second send after a success

#[tokio::test(flavor = "multi_thread")]
async fn a_delivered_message_is_not_sent_again_by_later_rounds_or_a_restart() {
    let smtp = Smtp::start();
    let fixture = Fixture::start().await;
    fixture.reply(TWILIO_PATH, twilio_created());
    fixture.reply(HOOK, Reply::json("{}"));
    let channels =
        format!("{}{}{}", email_channel(smtp.port), sms_channel(&fixture.url("")), webhook_channel(&fixture.url(HOOK)));
    let desk = Desk::new(&channels, Clock::manual(Utc::now()));
    desk.owe("mail", "c0ffee001001");
    desk.owe("sms", "c0ffee001002");
    desk.owe("hook", "c0ffee001003");
    let sent = || {
        let seen = fixture.seen();
        let count = |path: &str| seen.iter().filter(|s| s.path == path).count();
        (smtp.received().len(), count(TWILIO_PATH), count(HOOK))
    };

    assert_eq!(desk.round(false).await, delivered(3));
    assert_eq!(sent(), (1, 1, 1));
    assert_nothing_more(&desk).await;
    assert_eq!(sent(), (1, 1, 1));

    // A restart: a new engine on the same store, whose first round retries everything owed.
    let desk = desk.restart().await;
    assert_eq!(desk.round(true).await, RoundReport::default());
    assert_eq!(sent(), (1, 1, 1), "nothing sent again after the restart");
    let log = desk.log();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r.outcome == Outcome::Delivered && r.attempts == 1), "{log:?}");
}

#[tokio::test]
async fn a_send_whose_outcome_was_lost_repeats_with_the_same_ids() {
    // The one window at-least-once leaves: a crash after the receiver took the message and before
    // the outcome was written. A process cannot be killed in here, so the row is put back as the
    // crash would have left it; the repeat must be recognisable as one.
    let fixture = Fixture::start().await;
    fixture.reply(HOOK, Reply::json("{}"));
    let desk = Desk::new(&webhook_channel(&fixture.url(HOOK)), Clock::manual(Utc::now()));
    let owed = desk.owe("hook", "c0ffee001101");
    assert_eq!(desk.round(false).await, delivered(1));
    desk.store().save_delivery(&owed).expect("the row as a crash would have left it");
    assert_eq!(desk.round(true).await, delivered(1));

    let bodies: Vec<serde_json::Value> =
        fixture.seen().iter().map(|s| serde_json::from_str(&s.body).expect("JSON")).collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["message_id"], bodies[1]["message_id"]);
    assert_eq!(bodies[0]["alert_id"], "c0ffee001101");
    assert_eq!(bodies[1]["alert_id"], "c0ffee001101");
    assert_nothing_more(&desk).await;
    assert_eq!(fixture.seen().len(), 2);
}
