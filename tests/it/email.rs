//! The e-mail channel against a real SMTP server in this process (`support::smtp`, mailin-embedded
//! on loopback, no TLS): what a message looks like on the wire, which refusals are worth retrying,
//! and how the durable outbox carries alerts through a mail server that is down.
//!
//! mailin-embedded serves on a std thread (its error type is not `Send`) and cannot be stopped; each
//! test starts its own on its own port, and the threads end with the test binary.

use crate::support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use chrono::DateTime;
use payguard::alert::{Alert, NoticeEvent};
use payguard::config::{Language, Secret, Support};
use payguard::model::{AccountRef, Finding, FindingKind, Severity};
use payguard::notify::email::{EmailConfig, Tls};
use payguard::notify::render::{Said, alert_message, digest_message};
use payguard::notify::{DeliveryError, Email, Message};
use payguard::sim::{Advance, Simulator, demo_script};
use payguard::store::Store;
use support::smtp::{Answer, Smtp, free_port};

/// Every wait in this file is bounded by this: a hung server or binary fails the test, not the run.
const LIMIT: Duration = Duration::from_secs(60);
const USERNAME: &str = "alerts-login-7f3e";
const PASSWORD: &str = "pw-s3cret-91c2";

// ---------------------------------------------------------------------------------------------
// Reading a message back: just enough MIME for lettre's output

struct Mail {
    headers: Vec<(String, String)>,
    /// (content type, decoded body) of each leaf part.
    parts: Vec<(String, String)>,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let raw = String::from_utf8(raw.to_vec()).expect("the message is ASCII on the wire");
        let (headers, body) = split_entity(&raw);
        let content_type = header(&headers, "content-type").unwrap_or_default();
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_owned())
            .expect("a multipart message with a boundary");
        let parts = body
            .split(&format!("--{boundary}"))
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|part| {
                let (headers, body) = split_entity(part.trim_start_matches("\r\n"));
                let kind = header(&headers, "content-type").unwrap_or_default();
                let body = match header(&headers, "content-transfer-encoding").as_deref() {
                    Some("base64") => utf8(base64(body)),
                    Some("quoted-printable") => utf8(quoted_printable(body)),
                    _ => body.to_owned(),
                };
                (kind, body)
            })
            .collect();
        Mail { headers, parts }
    }

    fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    fn part(&self, kind: &str) -> Option<&str> {
        self.parts.iter().find(|(k, _)| k.starts_with(kind)).map(|(_, body)| body.as_str())
    }

    /// The alert ids in `X-Payguard-Alert`.
    fn alert_ids(&self) -> Vec<String> {
        self.header("x-payguard-alert")
            .map(|v| v.split(',').map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// Headers (unfolded, RFC 2047 decoded) and the body of one MIME entity.
fn split_entity(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        match headers.last_mut() {
            Some((_, value)) if line.starts_with([' ', '\t']) => value.push_str(line),
            _ => {
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
        }
    }
    let headers = headers.into_iter().map(|(name, value)| (name, encoded_words(&value))).collect();
    (headers, body)
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// Decodes `=?utf-8?b?…?=` and `=?utf-8?q?…?=` words; blanks between two words are dropped.
fn encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let word = &rest[start + 2..];
        let mut fields = word.splitn(3, '?');
        let (Some(_charset), Some(encoding), Some(tail)) = (fields.next(), fields.next(), fields.next()) else { break };
        let Some(end) = tail.find("?=") else { break };
        let between = &rest[..start];
        if !(after_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        let text = &tail[..end];
        let bytes =
            if encoding.eq_ignore_ascii_case("b") { base64(text) } else { quoted_printable(&text.replace('_', " ")) };
        out.push_str(&utf8(bytes));
        rest = &tail[end + 2..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base64 character") as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("quoted-printable escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8 text")
}

// ---------------------------------------------------------------------------------------------
// Channel-level tests

fn config(port: u16, login: bool) -> EmailConfig {
    EmailConfig {
        host: "127.0.0.1".into(),
        port,
        tls: Tls::None,
        username: login.then(|| USERNAME.to_owned()),
        password: login.then(|| Secret::new(PASSWORD)),
        from: "payguard@example.org".into(),
        to: vec!["me@example.org".into(), "partner@example.org".into()],
        timeout: Duration::from_secs(10),
    }
}

fn alert(id: &str, kind: FindingKind, title: &str) -> Alert {
    let now = DateTime::from_timestamp(1_790_000_000, 0).expect("a fixed time");
    let finding = Finding {
        severity: Severity::Critical,
        detail: "The balance fell by 2188.10 USD since the last poll.".into(),
        currency: "USD".into(),
        amount: Some("2188.10".parse().expect("amount")),
        balance: Some("311.90".parse().expect("balance")),
        payees: vec!["Crypto Swap Ltd".into()],
        transaction_ids: vec!["tx-1".into()],
        key: id.into(),
        ..Finding::new(kind, AccountRef::new("sim-bank", "ACT-1"), title, now)
    };
    Alert { id: id.into(), fingerprint: format!("test|{id}"), ..Alert::firing(finding, now) }
}

/// A firing alert's message, English, no support line.
fn firing(id: &str, alert_id: &str, kind: FindingKind) -> Message {
    alert_message(id, &alert(alert_id, kind, kind.as_str()), NoticeEvent::Firing, Language::En, &Support::default())
}

async fn send(email: &Email, message: &Message) -> Result<(), DeliveryError> {
    tokio::time::timeout(LIMIT, email.send(message)).await.expect("the send finished in time")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_arrives_as_text_and_html_with_its_id_in_a_header() {
    let smtp = Smtp::start();
    let email = Email::new(&config(smtp.port, false)).expect("channel");
    let alert = alert("a1b2c3d4e5f6", FindingKind::BalanceDrop, "Balance dropped by 2188.10 USD");
    let message = alert_message(
        "a1b2c3d4e5f6.firing.mail.1790000000000",
        &alert,
        NoticeEvent::Firing,
        Language::En,
        &Support::default(),
    );

    send(&email, &message).await.expect("delivered");

    let received = smtp.received();
    assert_eq!(received.len(), 1, "one message");
    let envelope = &received[0];
    assert_eq!(envelope.from, "payguard@example.org");
    assert_eq!(envelope.to, ["me@example.org", "partner@example.org"]);
    let mail = Mail::parse(&envelope.data);
    assert_eq!(mail.header("from").as_deref(), Some("payguard@example.org"));
    let to = mail.header("to").expect("a To header");
    assert!(to.contains("me@example.org") && to.contains("partner@example.org"), "{to}");
    assert_eq!(mail.header("subject"), Some(message.subject.clone()), "the subject, non-ASCII included");
    assert_eq!(mail.header("message-id").as_deref(), Some("<a1b2c3d4e5f6.firing.mail.1790000000000@payguard>"));
    assert_eq!(mail.alert_ids(), ["a1b2c3d4e5f6"]);
    assert!(mail.header("content-type").is_some_and(|t| t.starts_with("multipart/alternative")));
    let text = mail.part("text/plain").expect("a text/plain part");
    let html = mail.part("text/html").expect("a text/html part");
    assert_eq!(text.replace("\r\n", "\n").trim_end(), message.text.trim_end(), "the text as rendered");
    assert!(text.contains("a1b2c3d4e5f6"), "the alert id in the text: {text}");
    assert!(html.contains("a1b2c3d4e5f6") && html.contains("<"), "the alert id in the HTML: {html}");
}

/// A sender and a recipient written with display names (RFC 5322 mailboxes) arrive with the names
/// in the headers, encoded where they are not ASCII, and the bare addresses in the SMTP envelope.
#[tokio::test(flavor = "multi_thread")]
async fn display_names_in_from_and_to_reach_the_headers_and_not_the_envelope() {
    let smtp = Smtp::start();
    let config = EmailConfig {
        from: "Payguard 警报 <payguard@example.org>".into(),
        to: vec!["Li Wei <me@example.org>".into()],
        ..config(smtp.port, false)
    };
    let email = Email::new(&config).expect("channel");

    send(&email, &firing("m1", "d1d1d1d1d1d1", FindingKind::BalanceDrop)).await.expect("delivered");

    let received = smtp.received();
    assert_eq!(received.len(), 1, "one message");
    assert_eq!(received[0].from, "payguard@example.org", "the envelope has the bare address");
    assert_eq!(received[0].to, ["me@example.org"]);
    let mail = Mail::parse(&received[0].data);
    let from = mail.header("from").expect("a From header");
    assert!(from.contains("Payguard 警报") && from.ends_with("<payguard@example.org>"), "{from}");
    let to = mail.header("to").expect("a To header");
    assert!(to.contains("Li Wei") && to.ends_with("<me@example.org>"), "{to}");
}

/// A payee that clears a terminal, reverses text and runs on for a megabyte (RFC 5322 allows a
/// line of 998 bytes) arrives escaped and clipped in the subject, the text and the HTML.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_payee_arrives_escaped_with_a_short_subject_and_lines_within_the_limit() {
    let smtp = Smtp::start();
    let email = Email::new(&config(smtp.port, false)).expect("channel");
    let hostile = format!("\u{1b}[2J\u{1b}[H\u{1b}[32mALL CLEAR \u{202e}oC drolnaL{}", "Z".repeat(1 << 20));
    let shown = "\\u{1b}[2J\\u{1b}[H\\u{1b}[32mALL CLEAR \\u{202e}oC drolnaL";
    let mut alert =
        alert("a1b2c3d4e5f7", FindingKind::NewPayee, &format!("1600.00 USD paid to a new payee: {hostile}"));
    alert.finding.detail = format!("1 payment(s) totalling 1600.00 USD went to {hostile}.");
    alert.finding.payees = vec![hostile.clone()];
    let message = alert_message("m-hostile", &alert, NoticeEvent::Firing, Language::En, &Support::default());

    send(&email, &message).await.expect("delivered");

    let received = smtp.received();
    assert_eq!(received.len(), 1, "one message");
    let longest = received[0].data.split(|b| *b == b'\n').map(<[u8]>::len).max().unwrap_or_default();
    assert!(longest <= 998, "a line of {longest} bytes");
    assert!(received[0].data.len() < 64 * 1024, "{} bytes", received[0].data.len());
    let mail = Mail::parse(&received[0].data);
    let subject = mail.header("subject").expect("a subject");
    assert!(subject.chars().count() <= payguard::text::LINE, "{subject}");
    assert!(subject.starts_with(&format!("[CRITICAL] ACT-1 · 1600.00 USD paid to a new payee: {shown}")), "{subject}");
    let text = mail.part("text/plain").expect("a text/plain part");
    let html = mail.part("text/html").expect("a text/html part");
    for (part, shown_text) in [("subject", subject.as_str()), ("text", text), ("html", html)] {
        let hidden: Vec<char> =
            shown_text.chars().filter(|c| !matches!(c, '\r' | '\n') && payguard::text::is_hidden(*c)).collect();
        assert!(hidden.is_empty(), "the {part} carries {hidden:?}");
        assert!(shown_text.contains(shown), "the {part} shows the payee escaped: {shown_text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_names_every_alert_it_folds_in() {
    let smtp = Smtp::start();
    let email = Email::new(&config(smtp.port, false)).expect("channel");
    let first = alert("aaaaaaaaaaaa", FindingKind::BalanceDrop, "Balance dropped");
    let second = alert("bbbbbbbbbbbb", FindingKind::NewPayee, "New payee: Crypto Swap Ltd");
    let items = [
        Said { alert: &first, event: NoticeEvent::Firing, message_id: "aaaaaaaaaaaa.firing.mail.1" },
        Said { alert: &second, event: NoticeEvent::Firing, message_id: "bbbbbbbbbbbb.firing.mail.1" },
    ];
    let message = digest_message("digest.mail.1790000000000", &items, Language::ZhCn, &Support::default());

    send(&email, &message).await.expect("delivered");

    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let mail = Mail::parse(&received[0].data);
    assert_eq!(mail.alert_ids(), ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
    assert_eq!(mail.header("subject"), Some(message.subject.clone()), "a Chinese subject survives the trip");
    let text = mail.part("text/plain").expect("text part");
    assert!(text.contains("aaaaaaaaaaaa") && text.contains("bbbbbbbbbbbb"), "{text}");
}

fn assert_no_login(error: &DeliveryError) {
    assert!(!error.message.contains(PASSWORD), "password leaked: {}", error.message);
    assert!(!error.message.contains(USERNAME), "username leaked: {}", error.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_refusal_is_retried_and_a_permanent_one_is_not() {
    let smtp = Smtp::start();
    let server = format!("127.0.0.1:{}", smtp.port);
    // mailin offers no login on a plain connection, so these run without one; the login cases are
    // below.
    let email = Email::new(&config(smtp.port, false)).expect("channel");
    let message = firing("m1", "c0ffee000001", FindingKind::Velocity);

    let cases = [
        (Answer::Rcpt(450), true, "450"),
        (Answer::Data(451), true, "451"),
        (Answer::Rcpt(550), false, "550"),
        (Answer::Data(554), false, "554"),
    ];
    for (answer, retryable, code) in cases {
        smtp.answer(answer);
        let error = send(&email, &message).await.expect_err("refused");
        assert_eq!(error.retryable, retryable, "{answer:?}: {}", error.message);
        assert!(error.message.contains(&server) && error.message.contains(code), "{answer:?}: {}", error.message);
        assert_eq!(error.retry_after, None);
        assert_no_login(&error);
    }
    assert!(smtp.received().is_empty(), "nothing was taken");

    // The same channel works again once the server does: a refusal leaves no broken state behind.
    smtp.answer(Answer::Accept);
    send(&email, &message).await.expect("delivered after the refusals");
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_is_retried_and_the_login_stays_secret() {
    let port = free_port();
    let email = Email::new(&config(port, true)).expect("channel");
    let message = firing("m1", "c0ffee000002", FindingKind::BalanceDrop);

    let error = send(&email, &message).await.expect_err("nothing listens");
    assert!(error.retryable, "{}", error.message);
    assert!(error.message.contains(&format!("cannot reach 127.0.0.1:{port}")), "{}", error.message);
    assert_no_login(&error);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_the_server_does_not_offer_is_a_config_error_not_a_retry() {
    // A login over a connection where the server offers none (mailin, like many servers, offers
    // AUTH only after TLS): retrying cannot fix that, the config must change.
    let smtp = Smtp::start();
    let email = Email::new(&config(smtp.port, true)).expect("channel");
    let message = firing("m1", "c0ffee000003", FindingKind::BalanceDrop);

    let error = send(&email, &message).await.expect_err("no login possible");
    assert!(!error.retryable, "{}", error.message);
    assert!(
        error.message.contains(&format!("127.0.0.1:{}", smtp.port)) && error.message.contains("`tls`"),
        "{}",
        error.message
    );
    assert_no_login(&error);
    assert!(smtp.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_is_given_up_on_after_the_timeout_and_retried() {
    // The kernel accepts the connection into the backlog; nobody ever says hello.
    let silent = TcpListener::bind(("127.0.0.1", 0)).expect("bind a silent port");
    let port = silent.local_addr().expect("silent port").port();
    let email = Email::new(&EmailConfig { timeout: Duration::from_secs(1), ..config(port, true) }).expect("channel");
    let message = firing("m1", "c0ffee000004", FindingKind::BalanceDrop);

    let error = send(&email, &message).await.expect_err("no greeting");
    assert!(error.retryable, "{}", error.message);
    assert!(error.message.contains(&format!("127.0.0.1:{port} did not answer within 1s")), "{}", error.message);
    assert_no_login(&error);
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_stall_mid_conversation_the_next_message_goes_over_a_fresh_connection() {
    let smtp = Smtp::start();
    let email =
        Email::new(&EmailConfig { timeout: Duration::from_secs(1), ..config(smtp.port, false) }).expect("channel");
    let first = firing("m1", "c0ffee000005", FindingKind::BalanceDrop);
    let second = firing("m2", "c0ffee000006", FindingKind::Velocity);

    smtp.answer(Answer::StallData);
    let error = send(&email, &first).await.expect_err("the server stalled");
    assert!(error.retryable && error.message.contains("did not answer within 1s"), "{}", error.message);

    // The stalled connection now gets its late "354 go ahead": reusing it would pour the next
    // conversation into the first message's body.
    smtp.answer(Answer::Accept);
    send(&email, &second).await.expect("delivered over a new connection");
    let received = smtp.received();
    assert_eq!(received.len(), 1, "only the second message was taken");
    assert_eq!(Mail::parse(&received[0].data).alert_ids(), ["c0ffee000006"]);
}

// ---------------------------------------------------------------------------------------------
// End to end: the real binary, the durable outbox, a mail server that comes up late

fn write_config(dir: &Path, access_url: &str, smtp_port: u16) -> PathBuf {
    let mail = format!(
        "[[channel]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:{smtp_port}\"\ntls = \"none\"\n\
         from = \"payguard@example.org\"\nto = [\"me@example.org\"]\ntimeout = \"10s\"\n"
    );
    support::sim_config(dir, access_url, "*/5 * * * *", &mail)
}

async fn once(config: &Path) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.arg("--config").arg(config).arg("--log-level").arg("warn").arg("once").arg("--json");
    let run = tokio::task::spawn_blocking(move || command.output().expect("run payguard"));
    tokio::time::timeout(LIMIT, run).await.expect("payguard once finished in time").expect("join")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The alert ids of the notices a run printed on stdout.
fn notified(output: &Output) -> Vec<String> {
    let mut ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .filter_map(|v| v["alert_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// Owed e-mail deliveries in the store, by alert id.
fn owed(state: &Path) -> BTreeMap<String, (u32, Option<String>)> {
    let store = Store::open(state).expect("open the store after payguard exited");
    store
        .pending_deliveries()
        .expect("read the outbox")
        .into_iter()
        .map(|d| {
            assert_eq!(d.channel, "mail");
            (d.alert.id.clone(), (d.attempts, d.last_error.clone()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_owed_while_the_mail_server_is_down_arrive_once_when_it_is_back() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = write_config(dir.path(), &sim.access_url(), port);
    let state = dir.path().join("state");

    // Baseline, normal spending, a quiet step: nothing to say.
    for step in ["baseline", "normal spending", "quiet"] {
        assert!(sim.advance(), "{step} step");
        let run = once(&config).await;
        assert_eq!(run.status.code(), Some(0), "{step}: {}", stderr(&run));
        assert_eq!(notified(&run), Vec::<String>::new(), "{step}");
    }

    // The theft, with the mail server down: the run still succeeds and says what it owes.
    assert!(sim.advance(), "theft step");
    let theft = once(&config).await;
    let said = stderr(&theft);
    assert_eq!(theft.status.code(), Some(0), "{said}");
    let mut alerts = notified(&theft);
    alerts.dedup();
    assert!(alerts.len() >= 3, "the theft raises several alerts: {alerts:?}");
    assert!(said.contains(&format!("delivered 0, {} still owed", alerts.len())), "{said}");
    assert!(said.contains(&format!("cannot reach 127.0.0.1:{port}")), "the log says why: {said}");

    // Nothing is lost across the restart: one owed row per alert, tried once, the reason kept.
    let rows = owed(&state);
    assert_eq!(rows.keys().cloned().collect::<Vec<_>>(), alerts, "one owed e-mail per alert");
    for (id, (attempts, error)) in &rows {
        assert_eq!(*attempts, 1, "{id}");
        assert!(error.as_deref().is_some_and(|e| e.contains(&format!("127.0.0.1:{port}"))), "{id}: {error:?}");
    }

    // The mail server comes up on that port, and the next `once`, without a new poll (the
    // simulator does not advance), sends what is owed: a person running `once` is a good moment to
    // retry, so it does not wait out the backoff.
    let smtp = Smtp::on(TcpListener::bind(("127.0.0.1", port)).expect("rebind the reserved SMTP port"));
    let retry = once(&config).await;
    let said = stderr(&retry);
    assert_eq!(retry.status.code(), Some(0), "{said}");
    assert_eq!(notified(&retry), Vec::<String>::new(), "no new alerts, only the owed ones");
    assert!(said.contains(&format!("delivered {}", alerts.len())) && !said.contains("still owed"), "{said}");

    let received = smtp.received();
    assert_eq!(received.len(), 1, "the theft is one incident: one e-mail with every owed alert");
    let mut arrived: Vec<String> = received.iter().flat_map(|r| Mail::parse(&r.data).alert_ids()).collect();
    arrived.sort();
    assert_eq!(arrived, alerts, "each alert exactly once");
    assert!(received.iter().all(|r| r.to == ["me@example.org"]));

    // And the next run, a restart later, owes and sends nothing more.
    let after = once(&config).await;
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    assert!(!stderr(&after).contains("still owed"), "{}", stderr(&after));
    assert_eq!(smtp.received().len(), 1, "nothing sent twice");
    assert!(owed(&state).is_empty(), "the outbox is empty");
    dir.close().expect("remove the temp dir");
}
