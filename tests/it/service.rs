//! payguard as a systemd service: the unit file passes `systemd-analyze verify` and scores at most
//! 1.5 on `systemd-analyze security`; the daemon speaks sd_notify to a real NOTIFY_SOCKET. On a
//! system without CA certificates payguard says what to install and exits 78, which the units do
//! not restart.

use crate::support;

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
    let security = systemd_analyze(&["security", "--offline=yes", "--threshold=15", unit]);
    let text = String::from_utf8_lossy(&security.stdout);
    assert!(security.status.success(), "exposure above the threshold of 1.5:\n{text}");
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

/// Only guards against a hang.
const BOUND: Duration = Duration::from_secs(30);
/// The watchdog interval the test's "service manager" sets; payguard must ping within it.
const WATCHDOG: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_tells_the_service_manager_ready_watchdog_reloading_and_stopping() {
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // New Year's midnight only: nothing is polled until a reload brings a faster schedule.
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 0 1 1 *", "");
    let good = std::fs::read_to_string(&config).expect("read the config");
    let mut manager = support::notify_socket::Manager::listen(&dir.path().join("notify.sock"));
    let daemon = support::daemon(&config)
        .env("NOTIFY_SOCKET", dir.path().join("notify.sock"))
        .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start payguard run");

    let ready = manager.next_saying("READY=1");
    assert!(ready.contains("STATUS=1 accounts, 0 firing, next poll 00:00"), "{ready}");
    manager.wait_for_pings(3);

    // A config with a typo: the daemon says so and keeps the one it runs.
    std::fs::write(&config, good.replace("schedule =", "shedule =")).expect("write a bad config");
    support::signal(&daemon, "HUP");
    let reloading = manager.next_saying("RELOADING=1");
    assert!(reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")), "{reloading}");
    let kept = manager.next_saying("READY=1");
    assert!(kept.contains("reload failed, running the previous config"), "{kept}");
    assert!(kept.contains("payguard.toml:8:1"), "the status names where the error is: {kept}");

    // A good config with a schedule of every second: it runs at once.
    std::fs::write(&config, good.replace("0 0 1 1 *", "* * * * * *")).expect("write a good config");
    assert_eq!(*sim.watch_requests().borrow(), 0, "nothing was polled on the yearly schedule");
    support::signal(&daemon, "HUP");
    manager.next_saying("RELOADING=1");
    let reloaded = manager.next_saying("READY=1");
    assert!(!reloaded.contains("reload failed"), "{reloaded}");
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= 2))
        .await
        .expect("polls on the new schedule")
        .expect("watch");
    manager.wait_for_pings(manager.pings.len() + 1);

    support::signal(&daemon, "TERM");
    manager.next_saying("STOPPING=1");
    let exit = tokio::task::spawn_blocking(move || daemon.wait_with_output()).await.expect("join").expect("wait");
    let stderr = String::from_utf8_lossy(&exit.stderr);
    assert_eq!(exit.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("payguard.toml:8:1") && stderr.contains("shedule"), "the bad config is logged: {stderr}");
    assert!(stderr.contains("configuration reloaded"), "{stderr}");

    // The service manager would have restarted a daemon that left a gap of a whole interval.
    let gaps: Vec<Duration> = manager.pings.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(manager.pings.len() >= 4, "{gaps:?}");
    assert!(gaps.iter().all(|gap| *gap < WATCHDOG), "a ping gap reached WatchdogSec: {gaps:?}");
}

/// A user unit as shipped, with ExecStart pointing at the binary under test, written to `dir`.
fn user_unit_under_test(dir: &Path, name: &str) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd").join(name))
        .unwrap_or_else(|e| panic!("read systemd/{name}: {e}"));
    let path = dir.join(name);
    std::fs::write(&path, shipped.replace("/usr/bin/payguard", env!("CARGO_BIN_EXE_payguard"))).expect("write unit");
    path
}

#[test]
fn the_user_units_verify_in_a_user_manager() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `verify --user` sets up a user manager's paths from $XDG_RUNTIME_DIR, which a test run (a CI
    // job, a root shell) may lack: a private one stands in, and no running user manager is needed.
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).expect("runtime dir");
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    for name in ["payguard-agent.service", "payguard-user.service"] {
        let unit = user_unit_under_test(dir.path(), name);
        let verify = Command::new("systemd-analyze")
            .args(["verify", "--user"])
            .arg(&unit)
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .unwrap_or_else(|e| panic!("systemd-analyze is needed to check the unit files ({e}): install systemd"));
        let stderr = String::from_utf8_lossy(&verify.stderr);
        assert!(verify.status.success(), "{name}: {stderr}");
        // verify succeeds despite unknown keys and bad values, which it only warns about.
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
        assert!(warnings.is_empty(), "{name} has problems:\n{}", warnings.join("\n"));
    }
}

#[test]
fn without_ca_certificates_payguard_says_what_to_install_and_is_not_restarted() {
    let dir = tempfile::tempdir().expect("temp dir");
    // An empty bundle and no directory: what rustls-native-certs reads on a system without the
    // ca-certificates package.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let config = support::sim_config(dir.path(), "https://bridge.example.com/simplefin", "0 * * * *", "");
    let without_roots = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_payguard"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("SSL_CERT_FILE", &empty)
            .env_remove("SSL_CERT_DIR")
            .env_remove("NOTIFY_SOCKET")
            .output()
            .expect("run payguard")
    };
    let advice = format!(
        "no CA certificates found in SSL_CERT_FILE={}, so no https server can be verified: install them (`apt install ca-certificates` on Debian and Ubuntu)",
        empty.display()
    );
    for command in ["run", "once"] {
        let output = without_roots(&[command]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{command}: {stderr}");
        assert!(stderr.contains(&advice), "{command}: {stderr}");
    }
    // Where a client is built without the check first, its error says the same (here the POST of
    // a setup token; the token is base64 of https://example.com/claim, never reached).
    let out = dir.path().join("simplefin-url");
    let out = out.to_str().expect("a UTF-8 path");
    let claim = without_roots(&["simplefin-claim", "aHR0cHM6Ly9leGFtcGxlLmNvbS9jbGFpbQ==", "--out", out]);
    let stderr = String::from_utf8_lossy(&claim.stderr);
    assert!(stderr.contains(&advice) && !stderr.contains("builder error"), "{stderr}");
    for unit in ["payguard.service", "payguard-user.service"] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd").join(unit))
            .expect("read the unit");
        assert!(text.lines().any(|l| l == "RestartPreventExitStatus=78"), "{unit} restarts after a setup error");
    }
}
