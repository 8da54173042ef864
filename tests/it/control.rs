//! The control socket: the command line gets the same answers from a running daemon as from the
//! store itself, and the socket shrugs off bad requests.

use crate::support;

use support::run;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};

use payguard::sim::{Advance, Simulator, demo_script};

/// Starts the daemon and returns once it says its socket listens (read from its log, not waited for).
async fn start_daemon(config: &Path) -> Child {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = support::daemon(&config).stderr(Stdio::piped()).spawn().expect("start payguard run");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            if line.expect("read the log").contains("control socket listening") {
                break;
            }
        }
        // Keep draining the log so the daemon never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        child
    })
    .await
    .expect("join")
}

/// One raw exchange on the socket.
fn exchange(socket: &Path, bytes: &[u8]) -> serde_json::Value {
    let mut stream = UnixStream::connect(socket).expect("connect to the socket");
    stream.write_all(bytes).expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    serde_json::from_str(reply.trim()).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {reply}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_answer_the_same_from_the_daemon_and_bad_requests_harm_nothing() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("control.sock");
    let rest = format!("[daemon]\ncontrol_socket = \"{}\"\n", socket.display());
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 0 * * * *", "");
    // `[daemon]` is already in the shared config: add the socket to it.
    let text = std::fs::read_to_string(&config).expect("read config").replacen("[daemon]\n", &rest, 1);
    std::fs::write(&config, text).expect("write config");
    for _ in 0..4 {
        sim.advance();
        assert_eq!(run(&config, &["once"]).await.status.code(), Some(0));
    }
    let questions: [&[&str]; 4] =
        [&["history", "ACT-1", "--format", "csv"], &["alerts"], &["payees", "ACT-1"], &["status", "--json"]];
    let mut direct = Vec::new();
    for q in questions {
        let out = run(&config, q).await;
        assert_eq!(out.status.code(), Some(0), "{q:?}: {}", String::from_utf8_lossy(&out.stderr));
        direct.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }

    let mut daemon = start_daemon(&config).await;
    for (q, expected) in questions.iter().zip(&direct) {
        let out = run(&config, q).await;
        assert_eq!(out.status.code(), Some(0), "{q:?} via the daemon: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(&String::from_utf8_lossy(&out.stdout), expected, "{q:?} answers the same via the daemon");
    }
    // Writes go through the daemon too, while it holds the store.
    let drop_id = direct[1]
        .lines()
        .find(|l| l.contains("balance_drop"))
        .and_then(|l| l.split_whitespace().next())
        .expect("an id");
    let acked = run(&config, &["ack", drop_id]).await;
    assert_eq!(acked.status.code(), Some(0), "{}", String::from_utf8_lossy(&acked.stderr));
    assert!(String::from_utf8_lossy(&run(&config, &["alerts"]).await.stdout).contains("acked"));

    let garbage = exchange(&socket, b"hello daemon\n");
    assert_eq!(garbage["exit"], 1);
    assert!(garbage["stderr"].as_str().unwrap_or_default().contains("not a payguard request"), "{garbage}");
    let mut huge = vec![b'x'; 200 * 1024];
    huge.push(b'\n');
    let oversized = exchange(&socket, &huge);
    assert!(oversized["stderr"].as_str().unwrap_or_default().contains("larger than"), "{oversized}");
    let future = exchange(&socket, b"{\"v\": 99, \"request\": {\"command\": \"alerts\", \"all\": false}}\n");
    assert!(future["stderr"].as_str().unwrap_or_default().contains("protocol 1"), "{future}");
    let unknown = exchange(&socket, b"{\"v\": 1, \"request\": {\"command\": \"format-disk\"}}\n");
    assert_eq!(unknown["exit"], 1);
    // The daemon is unharmed: it still answers.
    let fine = exchange(&socket, b"{\"v\": 1, \"request\": {\"command\": \"verify\"}}\n");
    assert_eq!(fine["exit"], 0, "{fine}");
    assert!(fine["stdout"].as_str().unwrap_or_default().starts_with("audit chain intact"));

    support::signal(&daemon, "TERM");
    let code = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    assert_eq!(code.code(), Some(0));
    assert!(!socket.exists(), "the socket is removed on a clean stop");
}
