//! Counters for Prometheus (`[daemon] metrics_listen`): polls and failures per source, findings and
//! alerts per kind, deliveries per channel and outcome, the outbox's depth and each source's last
//! good poll, served as the text exposition format on `GET /metrics`.
//!
//! The counters live beside the engine, not in it, so a reload keeps counting from where it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Engine;

/// How a poll of a source ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PollOutcome {
    Ok,
    /// The source, or one of its accounts, could not be read.
    Failed,
    /// Not polled, to keep within the budget or as the platform asked.
    Skipped,
}

impl PollOutcome {
    fn as_str(self) -> &'static str {
        match self {
            PollOutcome::Ok => "ok",
            PollOutcome::Failed => "failed",
            PollOutcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    polls: BTreeMap<(String, &'static str), u64>,
    last_good_poll: BTreeMap<String, DateTime<Utc>>,
    findings: BTreeMap<&'static str, u64>,
    alerts: BTreeMap<(&'static str, &'static str), u64>,
    deliveries: BTreeMap<(String, &'static str), u64>,
}

/// The daemon's counters; cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    pub fn poll(&self, source: &str, outcome: PollOutcome, at: DateTime<Utc>) {
        let mut counts = self.lock();
        *counts.polls.entry((source.to_owned(), outcome.as_str())).or_default() += 1;
        if outcome == PollOutcome::Ok {
            counts.last_good_poll.insert(source.to_owned(), at);
        }
    }

    /// A detector found something (before silences, acks and deduplication).
    pub fn finding(&self, kind: &'static str) {
        *self.lock().findings.entry(kind).or_default() += 1;
    }

    /// A message became owed: an alert fired, repeated or resolved.
    pub fn alert(&self, kind: &'static str, event: &'static str) {
        *self.lock().alerts.entry((kind, event)).or_default() += 1;
    }

    /// A delivery attempt ended: `delivered`, `retry`, `failed` or `expired`.
    pub fn delivery(&self, channel: &str, outcome: &'static str) {
        *self.lock().deliveries.entry((channel.to_owned(), outcome)).or_default() += 1;
    }

    /// The exposition text, with the outbox depth read at the moment of the scrape.
    pub fn render(&self, outbox_depth: Option<usize>) -> String {
        let counts = self.lock();
        let mut out = String::new();
        family(&mut out, "payguard_polls_total", "counter", "Polls of a source, by outcome.");
        for ((source, outcome), n) in &counts.polls {
            sample(&mut out, "payguard_polls_total", &[("source", source), ("outcome", outcome)], *n);
        }
        family(
            &mut out,
            "payguard_last_successful_poll_timestamp_seconds",
            "gauge",
            "When each source was last polled successfully (Unix time).",
        );
        for (source, at) in &counts.last_good_poll {
            sample(&mut out, "payguard_last_successful_poll_timestamp_seconds", &[("source", source)], at.timestamp());
        }
        family(&mut out, "payguard_findings_total", "counter", "What the detectors found, by kind.");
        for (kind, n) in &counts.findings {
            sample(&mut out, "payguard_findings_total", &[("kind", kind)], *n);
        }
        family(&mut out, "payguard_alerts_total", "counter", "Messages owed, by alert kind and event.");
        for ((kind, event), n) in &counts.alerts {
            sample(&mut out, "payguard_alerts_total", &[("kind", kind), ("event", event)], *n);
        }
        family(&mut out, "payguard_deliveries_total", "counter", "Delivery attempts, by channel and outcome.");
        for ((channel, outcome), n) in &counts.deliveries {
            sample(&mut out, "payguard_deliveries_total", &[("channel", channel), ("outcome", outcome)], *n);
        }
        if let Some(depth) = outbox_depth {
            family(&mut out, "payguard_outbox_depth", "gauge", "Messages owed and not yet delivered.");
            sample(&mut out, "payguard_outbox_depth", &[], depth);
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let _ = write!(out, "{{{}}}", labels.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// Label values are names from the config; the format still needs these three escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serves `GET /metrics` on `listener` until `shutdown`, for the engine that runs at each scrape.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engines: watch::Receiver<Arc<Engine>>,
    shutdown: CancellationToken,
) {
    use axum::http::header;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let engine = engines.borrow().clone();
            async move {
                // The outbox lives in sled, whose reads block: off the async workers.
                let depth = {
                    let engine = engine.clone();
                    tokio::task::spawn_blocking(move || engine.store().pending_deliveries().map(|d| d.len()))
                        .await
                        .ok()
                        .and_then(Result::ok)
                };
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], engine.metrics().render(depth))
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}

/// Binds the metrics endpoint, saying where.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics on http://{addr}/metrics");
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exposition_format_with_escaped_labels() {
        let metrics = Metrics::default();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        metrics.poll("bank \"main\"", PollOutcome::Ok, at);
        metrics.poll("bank \"main\"", PollOutcome::Ok, at);
        metrics.poll("bank \"main\"", PollOutcome::Failed, at);
        metrics.finding("new_payee");
        metrics.alert("new_payee", "firing");
        metrics.delivery("mail", "retry");
        metrics.delivery("mail", "delivered");
        let text = metrics.render(Some(3));
        for line in [
            "# TYPE payguard_polls_total counter",
            r#"payguard_polls_total{source="bank \"main\"",outcome="ok"} 2"#,
            r#"payguard_polls_total{source="bank \"main\"",outcome="failed"} 1"#,
            r#"payguard_last_successful_poll_timestamp_seconds{source="bank \"main\""} 1700000000"#,
            r#"payguard_findings_total{kind="new_payee"} 1"#,
            r#"payguard_alerts_total{kind="new_payee",event="firing"} 1"#,
            r#"payguard_deliveries_total{channel="mail",outcome="delivered"} 1"#,
            r#"payguard_deliveries_total{channel="mail",outcome="retry"} 1"#,
            "payguard_outbox_depth 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
