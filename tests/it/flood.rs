//! A flood on the control socket, against the real daemon with few file descriptors
//! (`ulimit -n 64`): idle connections are capped and timed out, a failed accept (no descriptors
//! left) pauses instead of spinning, the warnings stay few, and afterwards `payguard status`
//! answers and the polls go on.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};
use support::daemon_log::Logged;
use tokio::io::AsyncReadExt as _;
use tokio::net::UnixStream;

/// Only guards against a hang; the idle timeout is 5 s.
const BOUND: Duration = Duration::from_secs(60);
/// The open-files limit the daemon runs with.
const NOFILE: u64 = 64;

/// Opens `count` connections at once and sends nothing on them.
async fn flood(socket: &Path, count: usize) -> Vec<UnixStream> {
    let mut connecting = tokio::task::JoinSet::new();
    for _ in 0..count {
        let socket = socket.to_path_buf();
        connecting.spawn(async move { UnixStream::connect(socket).await });
    }
    let mut open = Vec::new();
    while let Some(connected) = connecting.join_next().await {
        // A full backlog refuses a connection; the ones that got in are the flood.
        if let Ok(stream) = connected.expect("join") {
            open.push(stream);
        }
    }
    open
}

/// What the daemon said on each connection before it closed it, waiting for every one to close.
async fn until_closed(connections: Vec<UnixStream>) -> Vec<String> {
    let mut reading = tokio::task::JoinSet::new();
    for mut stream in connections {
        reading.spawn(async move {
            let mut said = Vec::new();
            // A reset after the daemon's line still ends the connection.
            let _ = stream.read_to_end(&mut said).await;
            String::from_utf8_lossy(&said).into_owned()
        });
    }
    tokio::time::timeout(BOUND, reading.join_all()).await.expect("the daemon closes every idle connection")
}

fn set_open_files(pid: u32, soft: u64) {
    let status = Command::new("prlimit")
        .args([format!("--pid={pid}"), format!("--nofile={soft}:{NOFILE}")])
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit --pid {pid} --nofile={soft}:{NOFILE}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_idle_connections_leaves_status_polls_and_the_log_intact() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("control.sock");
    let config = support::sim_config(dir.path(), &sim.access_url(), "* * * * * *", "");
    let text = std::fs::read_to_string(&config).expect("read config");
    let with_socket = format!("[daemon]\ncontrol_socket = \"{}\"\n", socket.display());
    std::fs::write(&config, text.replacen("[daemon]\n", &with_socket, 1)).expect("write config");
    let mut command = Command::new("sh");
    command
        .args(["-c", &format!("ulimit -n {NOFILE} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_payguard")])
        .arg("--config")
        .arg(&config)
        .arg("run");
    let mut daemon = Logged::spawn(command);
    daemon.wait_for(&["control socket listening"], BOUND);
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= 1)).await.expect("a first poll").expect("watch");

    // 1,100 idle connections: a few are held until the idle timeout, the rest are told at once.
    let connections = flood(&socket, 1100).await;
    assert!(connections.len() >= 1000, "only {} connections got in", connections.len());
    let said = until_closed(connections).await;
    let busy = said.iter().filter(|s| s.contains("try again in a few seconds")).count();
    let idle = said.iter().filter(|s| s.is_empty()).count();
    assert_eq!(busy + idle, said.len(), "each connection is refused or timed out");
    // A quarter of the 64 descriptors at most, whatever the flood.
    assert!((1..=16).contains(&idle), "{idle} connections were held at once");
    let status = support::run(&config, &["status"]).await;
    assert!(support::status_report(&status).contains("ACT-1"));
    let before = *requests.borrow();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= before + 2))
        .await
        .expect("the polls go on")
        .expect("watch");

    // No descriptor left to accept with: the loop pauses instead of spinning on the error.
    let pid = daemon.child.id();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("the daemon's descriptors").count() as u64;
    set_open_files(pid, open);
    let waiting = flood(&socket, 200).await;
    daemon.wait_for(&["cannot accept a control connection"], BOUND);
    // Two scheduled runs later (done, failed or skipped: a second apart), a spinning loop would
    // have written thousands of lines.
    for _ in 0..2 {
        daemon.wait_for(&["source=sim-bank", "poll "], BOUND);
    }
    set_open_files(pid, NOFILE);
    until_closed(waiting).await;
    let status = support::run(&config, &["status", "--json"]).await;
    support::status_report(&status);

    support::signal(&daemon.child, "TERM");
    assert_eq!(daemon.wait_exit(BOUND), Some(0));
    let log = daemon.drain().to_vec();
    let count = |words: &str| log.iter().filter(|l| l.contains(words)).count();
    assert_eq!(count("cannot accept a control connection"), 1, "rate-limited: {log:#?}");
    assert_eq!(count("too many control connections at once"), 1, "rate-limited: {log:#?}");
    assert!(daemon.bytes() < 64 * 1024 && daemon.lines() < 300, "{} bytes, {} lines", daemon.bytes(), daemon.lines());
}
