//! payguard as a systemd service: the unit file passes `systemd-analyze verify` and scores at most
//! 1.5 on `systemd-analyze security`; the daemon speaks sd_notify to a real NOTIFY_SOCKET.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};

fn systemd_analyze(args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze").args(args).output().unwrap_or_else(|e| {
        panic!("systemd-analyze is needed to check the unit file ({e}): install the systemd package")
    })
}

/// The shipped unit with ExecStart pointing at the binary under test, which verify insists exists.
fn unit_under_test(dir: &Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/payguard.service"))
        .expect("read systemd/payguard.service");
    let path = dir.join("payguard.service");
    std::fs::write(&path, shipped.replace("/usr/bin/payguard", env!("CARGO_BIN_EXE_payguard"))).expect("write unit");
    path
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = unit_under_test(dir.path());
    let unit = unit.to_str().expect("a UTF-8 path");
    let verify = systemd_analyze(&["verify", unit]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let security = systemd_analyze(&["security", "--offline=yes", unit]);
    let text = String::from_utf8_lossy(&security.stdout);
    let line = text.lines().find(|l| l.contains("Overall exposure level")).expect("an overall exposure line");
    let score: String = line
        .split(':')
        .nth(1)
        .unwrap_or_default()
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    // Compared in tenths, so no float is needed: "1.2" → 12.
    let tenths: u32 = score.replace('.', "").parse().unwrap_or_else(|_| panic!("a score in {line:?}"));
    assert!(tenths <= 15, "exposure {score} is above 1.5: {line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_says_ready_with_a_status_and_stopping() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 0 * * * *", "");
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).expect("bind NOTIFY_SOCKET");
    // Only a guard against a hang: each datagram arrives within moments.
    socket.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let daemon = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("NOTIFY_SOCKET", &notify_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start payguard run");
    let next = move |socket: &UnixDatagram| {
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a datagram from the daemon");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let (ready, socket) = tokio::task::spawn_blocking(move || (next(&socket), socket)).await.expect("join");
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(ready.contains("STATUS=1 accounts, 0 firing, next poll "), "{ready}");
    let status = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let stopping = tokio::task::spawn_blocking(move || next(&socket)).await.expect("join");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
    let exit = tokio::task::spawn_blocking(move || daemon.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(exit.status.code(), Some(0));
}
