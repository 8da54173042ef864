//! The alert stream on the control socket: after a `subscribe` request the daemon keeps the
//! connection open and writes one JSON line ([`StreamEvent`]) per message that becomes owed, so a
//! process in a person's session (`payguard agent`) can show alerts that a system service, with no
//! way onto that session's D-Bus, cannot show itself.
//!
//! The lines are rendered here by the same `notify::render::alert_message` the delivery worker
//! uses, so the desktop says what every other channel says. The stream is a live view, not a
//! delivery: what happens while no one listens is not replayed (`payguard alerts` lists it), and a
//! subscriber too slow for the broadcast buffer is told how many messages it missed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::VERSION;
use crate::alert::{Alert, NoticeEvent};
use crate::config::{Language, Support};
use crate::daemon::Engine;
use crate::model::Severity;
use crate::notify::Message;
use crate::notify::render::{alert_message, missed_words};

/// One line of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Wire", try_from = "Wire")]
pub enum StreamEvent {
    /// The first line: the subscription is live, and every message owed from now on follows.
    Subscribed,
    /// A message became owed.
    Alert(AlertLine),
    /// The subscriber fell behind and `count` messages were dropped for it.
    Missed { count: u64, subject: String, text: String },
    /// An event a newer daemon sends that this release does not know; subscribers skip it.
    Other(String),
}

/// A message about one alert, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLine {
    pub alert_id: String,
    /// The incident it belongs to, when alerts are grouped; an older daemon sends none.
    pub incident: Option<String>,
    /// Why it is said: firing, repeat or resolved.
    pub notice: NoticeEvent,
    /// The finding's kind (`balance_drop`, …), as text so a kind added later still reaches an
    /// older agent.
    pub kind: String,
    pub severity: Severity,
    pub subject: String,
    pub text: String,
}

impl StreamEvent {
    /// The line for a subscriber that fell `count` messages behind, in the config's language.
    pub fn missed(count: u64, language: Language) -> StreamEvent {
        let (subject, text) = missed_words(count, language);
        StreamEvent::Missed { count, subject, text }
    }

    /// The message a desktop shows for this line, if it is one to show.
    pub fn message(&self) -> Option<Message> {
        match self {
            StreamEvent::Alert(line) => Some(line.message()),
            StreamEvent::Missed { count, subject, text } => Some(bare_message(
                format!("missed.{count}"),
                Vec::new(),
                Severity::Warning,
                subject.clone(),
                text.clone(),
            )),
            StreamEvent::Subscribed | StreamEvent::Other(_) => None,
        }
    }
}

impl AlertLine {
    /// The line for `alert` as of `notice`, in the words every channel uses.
    pub fn render(alert: &Alert, notice: NoticeEvent, language: Language, support: &Support) -> AlertLine {
        let id = format!("{}.{}.stream", alert.id, notice.as_str());
        let message = alert_message(&id, alert, notice, language, support);
        AlertLine {
            alert_id: alert.id.clone(),
            incident: alert.incident.clone(),
            notice,
            kind: alert.kind().as_str().to_owned(),
            severity: message.severity,
            subject: message.subject,
            text: message.text,
        }
    }

    /// A [`Message`] for the desktop channel, which shows the subject, the text and the severity.
    pub fn message(&self) -> Message {
        bare_message(
            format!("{}.{}.agent", self.alert_id, self.notice.as_str()),
            vec![self.alert_id.clone()],
            self.severity,
            self.subject.clone(),
            self.text.clone(),
        )
    }
}

/// A message with only what a notification shows (subject, text, severity); its other forms belong
/// to channels the stream does not feed.
fn bare_message(id: String, alert_ids: Vec<String>, severity: Severity, subject: String, text: String) -> Message {
    Message {
        id,
        alert_ids,
        severity,
        html: String::new(),
        short: subject.clone(),
        subject,
        text,
        json: serde_json::Value::Null,
    }
}

/// The flat form on the wire: `{"v":1,"event":"alert","alert_id":…,"incident":…,"kind":…,"severity":…,
/// "subject":…,"text":…}`. Flat rather than an internally tagged enum because serde buffers a
/// tagged enum's fields, and with serde_json's `arbitrary_precision` a buffered number no longer
/// reads back as one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Wire {
    v: u32,
    event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incident: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notice: Option<NoticeEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
}

impl From<StreamEvent> for Wire {
    fn from(event: StreamEvent) -> Wire {
        let v = VERSION;
        match event {
            StreamEvent::Subscribed => Wire { v, event: "subscribed".into(), ..Wire::default() },
            StreamEvent::Alert(line) => Wire {
                v,
                event: "alert".into(),
                alert_id: Some(line.alert_id),
                incident: line.incident,
                notice: Some(line.notice),
                kind: Some(line.kind),
                severity: Some(line.severity),
                subject: Some(line.subject),
                text: Some(line.text),
                count: None,
            },
            StreamEvent::Missed { count, subject, text } => Wire {
                v,
                event: "missed".into(),
                count: Some(count),
                subject: Some(subject),
                text: Some(text),
                ..Wire::default()
            },
            StreamEvent::Other(event) => Wire { v, event, ..Wire::default() },
        }
    }
}

impl TryFrom<Wire> for StreamEvent {
    type Error = String;

    fn try_from(wire: Wire) -> Result<StreamEvent, String> {
        if wire.v != VERSION {
            return Err(format!(
                "the daemon streams protocol {}, this payguard reads {VERSION}: use the same payguard release for both",
                wire.v
            ));
        }
        let missing = |field: &str| format!("a {:?} event without {field:?}", wire.event);
        Ok(match wire.event.as_str() {
            "subscribed" => StreamEvent::Subscribed,
            "alert" => StreamEvent::Alert(AlertLine {
                alert_id: wire.alert_id.clone().ok_or_else(|| missing("alert_id"))?,
                incident: wire.incident.clone(),
                notice: wire.notice.unwrap_or(NoticeEvent::Firing),
                kind: wire.kind.clone().unwrap_or_default(),
                severity: wire.severity.ok_or_else(|| missing("severity"))?,
                subject: wire.subject.clone().ok_or_else(|| missing("subject"))?,
                text: wire.text.clone().unwrap_or_default(),
            }),
            "missed" => {
                let count = wire.count.ok_or_else(|| missing("count"))?;
                // A daemon from before the subject was sent said it in English.
                let subject = wire.subject.clone().unwrap_or_else(|| missed_words(count, Language::En).0);
                StreamEvent::Missed { count, subject, text: wire.text.clone().unwrap_or_default() }
            }
            _ => StreamEvent::Other(wire.event),
        })
    }
}

/// What a line is rendered with: the config's language and support lines.
#[derive(Debug, Clone)]
struct Words {
    language: Language,
    support: Support,
}

/// Streams to one subscriber until `shutdown`, until it goes away (end of input on `read`, or a
/// failed write), or until the daemon's last engine is gone.
pub async fn stream<R, W>(engine: Arc<Engine>, read: R, write: W, shutdown: CancellationToken) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Subscribed before the hello is written, so every message owed after the hello reaches us.
    let receiver = engine.subscribe();
    let config = engine.config();
    let words = Words { language: config.daemon.language, support: config.support.clone() };
    // The broadcast outlives a reload; the engine need not: holding it would keep a replaced one
    // (its sources and channels) alive for as long as the agent stays connected.
    drop(engine);
    tracing::info!("an alert subscriber connected");
    let result = serve(receiver, &words, read, write, shutdown).await;
    tracing::info!("an alert subscriber left");
    result
}

async fn serve<R, W>(
    receiver: broadcast::Receiver<(Alert, NoticeEvent)>,
    words: &Words,
    read: R,
    write: W,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    tokio::select! {
        () = shutdown.cancelled() => Ok(()),
        result = pump(receiver, words, read, write) => result,
    }
}

async fn pump<R, W>(
    mut receiver: broadcast::Receiver<(Alert, NoticeEvent)>,
    words: &Words,
    mut read: R,
    mut write: W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    send(&mut write, StreamEvent::Subscribed).await?;
    let mut scratch = [0u8; 512];
    loop {
        let event = tokio::select! {
            received = receiver.recv() => match received {
                Ok((alert, notice)) => StreamEvent::Alert(AlertLine::render(&alert, notice, words.language, &words.support)),
                Err(RecvError::Lagged(count)) => {
                    tracing::warn!(count, "an alert subscriber fell behind; told it how many it missed");
                    StreamEvent::missed(count, words.language)
                }
                // Every engine is gone: the daemon is stopping.
                Err(RecvError::Closed) => return Ok(()),
            },
            // A subscriber says nothing after its request: the end of its input means it is gone,
            // which we would otherwise only learn at the next alert, maybe days later.
            read = read.read(&mut scratch) => match read? {
                0 => return Ok(()),
                _ => continue,
            },
        };
        send(&mut write, event).await?;
    }
}

async fn send<W: AsyncWrite + Unpin>(write: &mut W, event: StreamEvent) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(&event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountRef, Finding, FindingKind};
    use chrono::Utc;
    use tokio::io::{AsyncBufReadExt as _, BufReader};

    fn alert(payee: &str) -> Alert {
        let now = Utc::now();
        let finding = Finding::new(FindingKind::NewPayee, AccountRef::new("bank", "ACT-1"), payee, now);
        Alert { id: format!("id-{payee}"), ..Alert::firing(finding, now) }
    }

    fn words() -> Words {
        Words { language: Language::En, support: Support::default() }
    }

    #[test]
    fn lines_are_flat_json_and_read_back() {
        let mut grouped = alert("GiftCard Hub");
        grouped.incident = Some("i-0123456789".into());
        let line = AlertLine::render(&grouped, NoticeEvent::Firing, Language::En, &Support::default());
        let event = StreamEvent::Alert(line.clone());
        let json: serde_json::Value = serde_json::to_value(&event).expect("serialise");
        assert_eq!(json["v"], 1);
        assert_eq!(json["event"], "alert");
        assert_eq!(json["alert_id"], "id-GiftCard Hub");
        assert_eq!(json["incident"], "i-0123456789");
        assert_eq!(json["kind"], "new_payee");
        assert_eq!(json["notice"], "firing");
        assert!(json["subject"].as_str().is_some_and(|s| s.contains("ACT-1")), "{json}");
        let back: StreamEvent = serde_json::from_value(json).expect("read back");
        assert_eq!(back, event);
        assert_eq!(
            serde_json::to_string(&StreamEvent::Subscribed).expect("serialise"),
            r#"{"v":1,"event":"subscribed"}"#
        );
        let missed = StreamEvent::missed(3, Language::ZhCn);
        let json = serde_json::to_string(&missed).expect("serialise");
        assert_eq!(serde_json::from_str::<StreamEvent>(&json).expect("read back"), missed);
        let older: StreamEvent =
            serde_json::from_str(r#"{"v":1,"event":"missed","count":3,"text":"t"}"#).expect("read");
        let subject = "payguard: alerts were missed".to_owned();
        assert_eq!(older, StreamEvent::Missed { count: 3, subject, text: "t".into() });
    }

    #[test]
    fn unknown_events_are_kept_apart_and_other_versions_refused() {
        let later: StreamEvent = serde_json::from_str(r#"{"v":1,"event":"heartbeat","extra":true}"#).expect("read");
        assert_eq!(later, StreamEvent::Other("heartbeat".into()));
        assert_eq!(later.message(), None);
        let error = serde_json::from_str::<StreamEvent>(r#"{"v":2,"event":"subscribed"}"#).expect_err("v2");
        assert!(error.to_string().contains("protocol 2"), "{error}");
    }

    #[test]
    fn the_desktop_message_keeps_the_words_and_the_severity() {
        let alert = alert("GiftCard Hub");
        let line = AlertLine::render(&alert, NoticeEvent::Firing, Language::En, &Support::default());
        let direct = alert_message("x", &alert, NoticeEvent::Firing, Language::En, &Support::default());
        let message = StreamEvent::Alert(line).message().expect("an alert is shown");
        assert_eq!((message.subject, message.text, message.severity), (direct.subject, direct.text, direct.severity));
        assert_eq!(message.alert_ids, vec![alert.id]);
    }

    /// Reads lines the server wrote, one at a time.
    async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>) -> serde_json::Value {
        let line = lines.next_line().await.expect("read").expect("a line");
        serde_json::from_str(&line).expect("JSON")
    }

    #[tokio::test]
    async fn hello_first_then_alerts_and_a_lag_is_said_not_hidden() {
        let (sender, receiver) = broadcast::channel(1);
        // Three messages into a buffer of one before the subscriber reads: two are lost to it.
        for payee in ["A", "B", "C"] {
            sender.send((alert(payee), NoticeEvent::Firing)).expect("a receiver");
        }
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(server);
        let words = words();
        let task = serve(receiver, &words, read, write, CancellationToken::new());
        let client_side = async {
            let (client_read, client_write) = tokio::io::split(client);
            let mut lines = BufReader::new(client_read).lines();
            assert_eq!(next_line(&mut lines).await, serde_json::json!({"v": 1, "event": "subscribed"}));
            let missed = next_line(&mut lines).await;
            assert_eq!((missed["event"].as_str(), missed["count"].as_u64()), (Some("missed"), Some(2)), "{missed}");
            assert!(missed["text"].as_str().is_some_and(|t| t.contains("payguard alerts")), "{missed}");
            assert_eq!(next_line(&mut lines).await["alert_id"], "id-C");
            sender.send((alert("D"), NoticeEvent::Resolved)).expect("a receiver");
            let resolved = next_line(&mut lines).await;
            assert_eq!((resolved["alert_id"].as_str(), resolved["notice"].as_str()), (Some("id-D"), Some("resolved")));
            // The subscriber goes away: the server notices without waiting for another alert.
            drop(client_write);
            drop(lines);
        };
        let (served, ()) = tokio::join!(task, client_side);
        served.expect("a subscriber leaving is not an error");
    }

    #[tokio::test]
    async fn a_lag_is_said_in_the_configured_language() {
        let (sender, receiver) = broadcast::channel(1);
        for payee in ["A", "B"] {
            sender.send((alert(payee), NoticeEvent::Firing)).expect("a receiver");
        }
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(server);
        let words = Words { language: Language::ZhCn, support: Support::default() };
        let task = serve(receiver, &words, read, write, CancellationToken::new());
        let client_side = async {
            let (client_read, client_write) = tokio::io::split(client);
            let mut lines = BufReader::new(client_read).lines();
            next_line(&mut lines).await;
            let line = next_line(&mut lines).await;
            let missed: StreamEvent = serde_json::from_value(line.clone()).expect("a stream event");
            let shown = missed.message().expect("a lag is shown");
            assert_eq!((shown.subject.as_str(), shown.severity), ("payguard：有警报未能显示", Severity::Warning));
            assert!(shown.text.contains("有 1 条") && shown.text.contains("payguard alerts"), "{line}");
            drop(client_write);
            drop(lines);
        };
        let (served, ()) = tokio::join!(task, client_side);
        served.expect("a subscriber leaving is not an error");
    }

    #[tokio::test]
    async fn shutdown_ends_the_stream() {
        let (_sender, receiver) = broadcast::channel::<(Alert, NoticeEvent)>(4);
        let (_client, server) = tokio::io::duplex(1024);
        let (read, write) = tokio::io::split(server);
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let words = words();
        serve(receiver, &words, read, write, shutdown).await.expect("a clean end");
    }
}
