//! `[daemon] metrics_listen`: a running daemon serves its counters in Prometheus' text format.

use crate::support;

use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};

/// Only guards against a hang.
const BOUND: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_running_daemon_serves_its_counters() {
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // A port that was free a moment ago; the daemon binds it again.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let config = support::sim_config_text(dir.path(), &sim.access_url(), "* * * * * *", "")
        .replace("[daemon]\n", &format!("[daemon]\nmetrics_listen = \"127.0.0.1:{port}\"\n"));
    let path = dir.path().join("payguard.toml");
    std::fs::write(&path, config).expect("write the config");
    let mut daemon = support::daemon(&path).spawn().expect("start payguard run");

    // A second request means the first poll is done: a source's polls never overlap.
    let mut requests = sim.watch_requests();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= 2)).await.expect("two polls in time").expect("watch");
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = response.text().await.expect("the body");
    support::signal(&daemon, "TERM");
    let _ = tokio::task::spawn_blocking(move || daemon.wait()).await;

    let value = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    assert!(value(r#"payguard_polls_total{source="sim-bank",outcome="ok"}"#) >= 1);
    assert!(value(r#"payguard_last_successful_poll_timestamp_seconds{source="sim-bank"}"#) > 1_700_000_000);
    assert!(text.contains("# TYPE payguard_deliveries_total counter"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("payguard_outbox_depth ")), "{text}");
    assert!(!text.contains("demo:demo"), "no credentials in metrics");
}
