//! Desktop alerts reach a real notification server over a real D-Bus session bus.
//!
//! The test starts a private `dbus-daemon`, serves a recording `org.freedesktop.Notifications` on
//! it, and runs the real `payguard once` binary against the built-in simulated bank with that bus
//! as its session bus. Nothing between payguard and the bus is replaced: what the recorder sees is
//! what a desktop would have shown.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};
use support::dbus::{Bus, serve_notifications};

/// Only guards against a hang; a passing run takes a fraction of it.
const BOUND: Duration = Duration::from_secs(30);

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
    // The theft's alerts are one incident: one notification names them all.
    let incidents: std::collections::HashSet<String> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["incident"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(incidents.len(), 1, "each JSON line carries the one incident:\n{stdout}");
    let got = tokio::time::timeout(BOUND, received.wait_for(|all| !all.is_empty()))
        .await
        .expect("the notifications did not arrive in time")
        .expect("the notification server stopped")
        .clone();

    assert_eq!(got.len(), 1, "one notification for the incident; got {got:#?}\nalerts:\n{stdout}");
    let ids: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["alert_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), fired);
    assert!(ids.iter().all(|id| got[0].body.contains(id.as_str())), "the body names every alert: {got:#?}");
    for n in &got {
        assert_eq!(n.app_name, "payguard", "{n:#?}");
        assert!(n.body.contains("What to do"), "the body lacks the advice: {n:#?}");
    }
    // Its most severe findings are critical, so the notification is: it never expires.
    let theft = &got[0];
    assert!(theft.body.contains("Balance dropped"), "the balance drop is among them: {theft:#?}");
    assert_eq!(theft.urgency, Some(2), "a balance drop is critical: {theft:#?}");
    assert_eq!(theft.expire_timeout, 0, "a critical alert never expires: {theft:#?}");
    assert!(theft.body.contains("new payee: GiftCard Hub"), "the new payee GiftCard Hub is among them: {theft:#?}");
}
