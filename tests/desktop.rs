//! Desktop alerts reach a real notification server over a real D-Bus session bus.
//!
//! The test starts a private `dbus-daemon`, serves a recording `org.freedesktop.Notifications` on
//! it, and runs the real `payguard once` binary against the built-in simulated bank with that bus
//! as its session bus. Nothing between payguard and the bus is replaced: what the recorder sees is
//! what a desktop would have shown.

mod support;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};
use tokio::sync::watch;
use zbus::export::futures_core::Stream;
use zbus::message::{Header, Type as MessageType};
use zbus::{Connection, Message, MessageStream, OwnedVariant, Variant};

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// Only guards against a hang; a passing run takes a fraction of it.
const BOUND: Duration = Duration::from_secs(30);

/// A private session bus, killed with the test however the test ends.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    fn start() -> Bus {
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
struct Received {
    app_name: String,
    summary: String,
    body: String,
    urgency: Option<u8>,
    expire_timeout: i32,
}

type NotifyArgs = (String, u32, String, String, String, Vec<String>, HashMap<String, OwnedVariant>, i32);

/// Serves `org.freedesktop.Notifications` on `address`, recording each `Notify` into the returned
/// channel, which also lets the test wait for a count without sleeping.
///
/// Written against the raw message stream because zbus's `#[interface]` macro needs the `service`
/// feature, which the dev-dependency does not enable.
async fn serve_notifications(address: &str) -> (Connection, watch::Receiver<Vec<Received>>) {
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
    // Recorded before the reply: the client waits for the reply, so once `payguard once` has
    // exited every notification it sent is already in the log.
    log.send_modify(|all| {
        all.push(Received { app_name, summary, body, urgency, expire_timeout });
        id = u32::try_from(all.len()).expect("fewer than 4 billion notifications");
    });
    connection.reply(header, &id).await
}

fn write_config(dir: &Path, access_url: &str) -> std::path::PathBuf {
    support::sim_config(dir, access_url, "0 0 * * * *", "[[channel]]\nname = \"desktop\"\nkind = \"desktop\"\n")
}

/// Runs `payguard once` with the private bus as its session bus, and checks it succeeded.
async fn once(config: &Path, bus: &str, json: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.arg("--config").arg(config).arg("once");
    if json {
        command.arg("--json");
    }
    command.env("DBUS_SESSION_BUS_ADDRESS", bus).stdin(Stdio::null());
    // tokio's `process` feature is not enabled in this crate, so the blocking wait gets its own
    // thread while the runtime keeps answering D-Bus calls and serving the simulated bank.
    let output = tokio::time::timeout(BOUND, tokio::task::spawn_blocking(move || command.output()))
        .await
        .expect("payguard once did not finish in time")
        .expect("the thread running payguard panicked")
        .expect("cannot run payguard");
    assert!(
        output.status.success(),
        "payguard once failed with {}; stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_reach_a_notification_server_over_dbus() {
    let bus = Bus::start();
    let (_server, mut received) = serve_notifications(&bus.address).await;
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("cannot start the simulated bank");
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let config = write_config(dir.path(), &sim.access_url());

    // The baseline, normal spending and a quiet interval: nothing to tell anyone.
    for step in ["baseline", "normal spending", "quiet interval"] {
        assert!(sim.advance(), "the script ended before the {step} step");
        let output = once(&config, &bus.address, false).await;
        let got = received.borrow().clone();
        assert!(
            got.is_empty(),
            "the {step} step sent notifications: {got:#?}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    assert!(sim.advance(), "the script ended before the theft step");
    let output = once(&config, &bus.address, true).await;
    let stdout = String::from_utf8(output.stdout).expect("payguard's JSON is UTF-8");
    let fired = stdout.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(fired > 0, "the theft fired no alerts; stderr:\n{}", String::from_utf8_lossy(&output.stderr));
    let got = tokio::time::timeout(BOUND, received.wait_for(|all| all.len() >= fired))
        .await
        .expect("the notifications did not arrive in time")
        .expect("the notification server stopped")
        .clone();

    assert_eq!(got.len(), fired, "one notification per alert; got {got:#?}\nalerts:\n{stdout}");
    for n in &got {
        assert_eq!(n.app_name, "payguard", "{n:#?}");
        assert!(n.body.contains("What to do"), "the body lacks the advice: {n:#?}");
    }
    let drop = got
        .iter()
        .find(|n| n.summary.contains("Balance dropped"))
        .unwrap_or_else(|| panic!("no balance-drop notification among {got:#?}"));
    assert_eq!(drop.urgency, Some(2), "a balance drop is critical: {drop:#?}");
    assert_eq!(drop.expire_timeout, 0, "a critical alert never expires: {drop:#?}");
    assert!(
        got.iter().any(|n| n.summary.contains("new payee")
            && (n.summary.contains("GiftCard Hub") || n.body.contains("GiftCard Hub"))),
        "no new-payee notification for GiftCard Hub among {got:#?}"
    );
}
