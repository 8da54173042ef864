//! Desktop alerts from a daemon that cannot reach the desktop itself: a real `payguard run` (with
//! only a console channel, as a system service would have) streams its alerts on the control
//! socket, and a real `payguard agent` shows them through a private D-Bus session bus to a
//! recording notification server. The agent outlives a restart of the daemon. The stream itself
//! is checked on the raw socket too: a subscriber gets its hello line, then the alerts as JSON.
//!
//! Nothing waits on time: each step waits for an event (a log line, a poll served, a
//! notification recorded), with a generous bound only as a guard against a hang.

use crate::support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use payguard::sim::{Advance, Event, Script, Simulator, Step, demo_script};
use rust_decimal::Decimal;
use support::dbus::{Bus, Received, serve_notifications};
use tokio::sync::mpsc;

/// Only guards against a hang; a passing run takes a few seconds.
const BOUND: Duration = Duration::from_secs(60);

/// A baseline, then one payment to a payee never seen before per step: one `new_payee`
/// alert each, named after its payee.
fn script() -> Script {
    let posted = |payee: &str, cents: i64| Event {
        account: "ACT-1".into(),
        amount: Decimal::new(cents, 2),
        payee: payee.into(),
        description: "Card payment".into(),
        minutes_ago: 1,
        pending: false,
        id: None,
    };
    // The demo's account, with a story of our own.
    Script {
        steps: vec![
            // A deposit, not a debit: the shared config fires `velocity` at three debits an hour.
            Step { caption: "baseline".into(), events: vec![posted("ACME Corp Payroll", 100_000)] },
            Step { caption: "first new payee".into(), events: vec![posted("Alpha Gifts", -1_234)] },
            Step { caption: "second new payee".into(), events: vec![posted("Beta Gifts", -2_345)] },
        ],
        ..demo_script()
    }
}

/// The shared simulated-bank config, polled every second, with a console channel only and the
/// control socket at `socket`.
/// The console, with incidents said a second after they open (not 30 s): the daemon polls every
/// second and its request budget would run out while a test waits.
const CHANNELS: &str = "[[channel]]\nname = \"console\"\nkind = \"console\"\n\n[alerts]\ngroup_wait = \"1s\"\n";

fn write_config(dir: &Path, access_url: &str, socket: &Path) -> PathBuf {
    let config = support::sim_config(dir, access_url, "* * * * * *", CHANNELS);
    let text = std::fs::read_to_string(&config).expect("read the config");
    // `[daemon]` is already in the shared config: add the socket to it.
    let text = text.replacen("[daemon]\n", &format!("[daemon]\ncontrol_socket = \"{}\"\n", socket.display()), 1);
    std::fs::write(&config, text).expect("write the config");
    config
}

/// A child process whose stdout and stderr lines arrive on channels, killed when dropped.
struct Process {
    /// Taken by [`Process::stop`]; what is left is killed on drop.
    child: Option<Child>,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
}

impl Process {
    fn spawn(command: &mut Command) -> Process {
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let stderr = lines_of(child.stderr.take().expect("piped stderr"));
        Process { child: Some(child), stdout, stderr }
    }

    /// SIGTERM, then the exit code.
    async fn stop(mut self) -> Option<i32> {
        let mut child = self.child.take().expect("a running process");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let waited = tokio::time::timeout(BOUND, tokio::task::spawn_blocking(move || child.wait()))
            .await
            .expect("the process did not stop in time")
            .expect("join")
            .expect("wait");
        waited.code()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Forwards each line of `pipe` to a channel, on a thread of its own (the pipes are blocking).
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// Waits for a line containing `needle`, and returns it; the lines before it are passed over.
async fn wait_for_line(lines: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> String {
    let found = tokio::time::timeout(BOUND, async {
        while let Some(line) = lines.recv().await {
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => line,
        Ok(None) => panic!("the process ended without saying {needle:?}"),
        Err(_) => panic!("timed out waiting for {needle:?}"),
    }
}

/// `payguard run` with `config`, returned once its control socket listens.
async fn start_daemon(config: &Path) -> Process {
    let mut daemon = Process::spawn(Command::new(env!("CARGO_BIN_EXE_payguard")).arg("--config").arg(config).args([
        "--log-level",
        "info",
        "run",
    ]));
    wait_for_line(&mut daemon.stderr, "control socket listening").await;
    daemon
}

/// Waits until the simulated bank has served `count` polls in all.
async fn polls_served(sim: &Simulator, count: u64) {
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= count))
        .await
        .expect("the daemon did not poll in time")
        .expect("the simulator stopped");
}

/// Waits until the recorder holds a notification about `payee`, and returns it.
async fn notified_about(received: &mut tokio::sync::watch::Receiver<Vec<Received>>, payee: &str) -> Received {
    let mentions = |n: &Received| n.summary.contains(payee) || n.body.contains(payee);
    let all = tokio::time::timeout(BOUND, received.wait_for(|all| all.iter().any(mentions)))
        .await
        .unwrap_or_else(|_| panic!("no notification about {payee} arrived in time"))
        .expect("the notification server stopped")
        .clone();
    all.into_iter().find(mentions).expect("found above")
}

/// The id of the firing `new_payee` alert about `payee`, as `payguard alerts` lists it.
async fn alert_id(config: &Path, payee: &str) -> String {
    let listed = support::stdout_of(&support::run(config, &["alerts", "--all"]).await);
    listed
        .lines()
        .find(|l| l.contains("new_payee") && l.contains(payee))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no new_payee alert about {payee} in:\n{listed}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_shows_the_daemons_alerts_and_outlives_a_restart() {
    let bus = Bus::start();
    let (_server, mut received) = serve_notifications(&bus.address).await;
    let sim = Simulator::start(script(), Advance::Manual).await.expect("cannot start the simulated bank");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("control.sock");
    let config = write_config(dir.path(), &sim.access_url(), &socket);

    assert!(sim.advance(), "the baseline step");
    let daemon = start_daemon(&config).await;
    // The baseline is read before anything new happens, so the next payment is news.
    polls_served(&sim, 1).await;
    let mut agent = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_payguard"))
            .args(["--log-level", "info", "agent", "--socket"])
            .arg(&socket)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env_remove("PAYGUARD_SOCKET"),
    );
    wait_for_line(&mut agent.stderr, "subscribed to the daemon's alerts").await;

    assert!(sim.advance(), "the first new payee");
    let first = notified_about(&mut received, "Alpha Gifts").await;
    let id = alert_id(&config, "Alpha Gifts").await;
    assert_eq!(first.app_name, "payguard", "{first:#?}");
    assert!(first.summary.contains("new payee"), "the summary says what happened: {first:#?}");
    assert!(first.body.contains(&id), "the body names the alert {id}: {first:#?}");
    assert!(first.body.contains("What to do"), "the body carries the advice every channel gives: {first:#?}");

    // The daemon goes away; the agent says so and waits for the next one.
    assert_eq!(daemon.stop().await, Some(0), "the daemon stops cleanly with a subscriber connected");
    wait_for_line(&mut agent.stderr, "alert stream ended; reconnecting").await;
    let daemon = start_daemon(&config).await;
    wait_for_line(&mut agent.stderr, "subscribed to the daemon's alerts").await;

    assert!(sim.advance(), "the second new payee");
    let second = notified_about(&mut received, "Beta Gifts").await;
    let id = alert_id(&config, "Beta Gifts").await;
    assert!(second.body.contains(&id), "the body names the alert {id}: {second:#?}");
    assert_eq!(received.borrow().len(), 2, "one notification per alert: {:#?}", received.borrow());

    assert_eq!(daemon.stop().await, Some(0));
    assert_eq!(agent.stop().await, Some(0), "SIGTERM stops the agent cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_gets_a_hello_then_alerts_as_json_lines() {
    let sim = Simulator::start(script(), Advance::Manual).await.expect("cannot start the simulated bank");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("control.sock");
    let config = write_config(dir.path(), &sim.access_url(), &socket);
    assert!(sim.advance(), "the baseline step");
    let mut daemon = start_daemon(&config).await;
    polls_served(&sim, 1).await;

    let path = socket.clone();
    let mut lines = tokio::task::spawn_blocking(move || {
        let mut stream = UnixStream::connect(&path).expect("connect to the control socket");
        stream.write_all(b"{\"v\": 1, \"request\": {\"command\": \"subscribe\"}}\n").expect("send");
        stream.set_read_timeout(Some(BOUND)).expect("a read timeout, as a hang guard");
        // Kept open: closing our side would tell the daemon we left.
        let reader = BufReader::new(stream);
        let mut lines = reader.lines();
        let hello = lines.next().expect("a hello line").expect("read");
        (hello, lines)
    })
    .await
    .map(|(hello, lines)| {
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&hello).expect("JSON"),
            serde_json::json!({"v": 1, "event": "subscribed"})
        );
        lines
    })
    .expect("join");

    assert!(sim.advance(), "the first new payee");
    // The console channel says it on the daemon's stdout; the stream says it to the subscriber.
    wait_for_line(&mut daemon.stdout, "Alpha Gifts").await;
    let (line, lines_back) =
        tokio::task::spawn_blocking(move || (lines.next().expect("an alert line").expect("read"), lines))
            .await
            .expect("join");
    lines = lines_back;
    let alert: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!((alert["v"].as_u64(), alert["event"].as_str()), (Some(1), Some("alert")), "{alert}");
    assert_eq!(alert["kind"], "new_payee", "{alert}");
    assert_eq!(alert["notice"], "firing", "{alert}");
    assert!(matches!(alert["severity"].as_str(), Some("info" | "warning" | "critical")), "{alert}");
    let id = alert["alert_id"].as_str().expect("an alert id");
    assert!(alert["incident"].as_str().is_some_and(|i| i.starts_with("i-")), "the line names its incident: {alert}");
    assert!(alert["text"].as_str().is_some_and(|t| t.contains(id) && t.contains("Alpha Gifts")), "{alert}");
    assert!(alert["subject"].as_str().is_some_and(|s| s.contains("ACT-1")), "{alert}");

    // A stop ends the stream rather than waiting for the subscriber to leave.
    assert_eq!(daemon.stop().await, Some(0));
    let rest = tokio::task::spawn_blocking(move || lines.next()).await.expect("join");
    assert!(rest.is_none(), "the stream ends with the daemon: {rest:?}");
}
