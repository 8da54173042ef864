//! A private D-Bus session bus and a recording `org.freedesktop.Notifications` server on it, for
//! the tests that check desktop alerts end to end (`desktop.rs`, `agent.rs`): nothing between
//! payguard and the bus is replaced, so what the recorder sees is what a desktop would have shown.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};

use tokio::sync::watch;
use zbus::export::futures_core::Stream;
use zbus::message::{Header, Type as MessageType};
use zbus::{Connection, Message, MessageStream, OwnedVariant, Variant};

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// A private session bus, killed with the test however the test ends.
pub struct Bus {
    daemon: Child,
    pub address: String,
}

impl Bus {
    pub fn start() -> Bus {
        let spawned = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let daemon = match spawned {
            Ok(daemon) => daemon,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "dbus-daemon is not installed; this test needs a real session bus: install the `dbus` package \
                 (apt-get install dbus)"
            ),
            Err(e) => panic!("cannot start dbus-daemon: {e}"),
        };
        // Owned by the guard before anything can fail, so a failed start still kills the daemon.
        let mut bus = Bus { daemon, address: String::new() };
        let stdout = bus.daemon.stdout.take().expect("dbus-daemon's stdout is piped");
        let mut line = String::new();
        // The daemon prints its address only once it is listening, so the bus is ready after this.
        BufReader::new(stdout).read_line(&mut line).expect("cannot read dbus-daemon's address");
        if line.trim().is_empty() {
            let mut stderr = String::new();
            if let Some(mut pipe) = bus.daemon.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("dbus-daemon printed no address; it said: {stderr}");
        }
        bus.address = line.trim().to_owned();
        bus
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// One `Notify` call as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub urgency: Option<u8>,
    pub expire_timeout: i32,
}

type NotifyArgs = (String, u32, String, String, String, Vec<String>, HashMap<String, OwnedVariant>, i32);

/// Serves `org.freedesktop.Notifications` on `address`, recording each `Notify` into the returned
/// channel, which also lets the test wait for a count without sleeping.
///
/// Written against the raw message stream because zbus's `#[interface]` macro needs the `service`
/// feature, which the dev-dependency does not enable.
pub async fn serve_notifications(address: &str) -> (Connection, watch::Receiver<Vec<Received>>) {
    let connection = zbus::connection::Builder::address(address)
        .name(NAME)
        .build()
        .await
        .expect("cannot connect the notification server to the private bus");
    let stream = MessageStream::from(&connection);
    let (log, received) = watch::channel(Vec::new());
    tokio::spawn(answer_calls(connection.clone(), stream, log));
    (connection, received)
}

async fn answer_calls(connection: Connection, mut stream: MessageStream, log: watch::Sender<Vec<Received>>) {
    while let Some(message) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        let Ok(message) = message else { continue };
        let header = message.header();
        if header.message_type() != MessageType::MethodCall {
            continue;
        }
        let ours =
            header.path().is_some_and(|p| p.as_str() == PATH) && header.interface().is_some_and(|i| i.as_str() == NAME);
        let member = header.member().map(|m| m.as_str().to_owned()).unwrap_or_default();
        let replied = match member.as_str() {
            "Notify" if ours => notify(&connection, &header, &message, &log).await,
            "GetCapabilities" if ours => connection.reply(&header, &vec!["body".to_owned()]).await,
            "GetServerInformation" if ours => {
                connection.reply(&header, &("payguard-test", "payguard", "0", "1.2")).await
            }
            "CloseNotification" if ours => connection.reply(&header, &()).await,
            _ => {
                let error = zbus::fdo::Error::UnknownMethod(format!("no method {member} here"));
                connection.reply_dbus_error(&header, error).await
            }
        };
        replied.expect("cannot reply on the private bus");
    }
}

async fn notify(
    connection: &Connection,
    header: &Header<'_>,
    message: &Message,
    log: &watch::Sender<Vec<Received>>,
) -> zbus::Result<()> {
    let args: NotifyArgs = match message.body().deserialize() {
        Ok(args) => args,
        Err(e) => {
            let error = zbus::fdo::Error::InvalidArgs(format!("Notify: {e}"));
            return connection.reply_dbus_error(header, error).await;
        }
    };
    let (app_name, _replaces_id, _icon, summary, body, _actions, hints, expire_timeout) = args;
    let urgency = hints.get("urgency").and_then(|v| match &**v {
        Variant::U8(byte) => Some(*byte),
        _ => None,
    });
    let mut id = 0;
    // Recorded before the reply: the client waits for the reply, so once a sender has finished
    // every notification it sent is already in the log.
    log.send_modify(|all| {
        all.push(Received { app_name, summary, body, urgency, expire_timeout });
        id = u32::try_from(all.len()).expect("fewer than 4 billion notifications");
    });
    connection.reply(header, &id).await
}
