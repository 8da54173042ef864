//! The `[[notice]]` sources against a real HTTP server on loopback, serving answers in the shapes
//! the platforms really send: Atlassian Statuspage's v2 lists, an RSS 2.0 and an Atom feed, and a
//! platform's own JSON read through pointers. Every mapped field is checked, the filters keep what
//! they should, and bad answers fail with a clear, non-retryable error instead of a panic.

use crate::support;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::config::{Config, HttpAuth, NoticeConfig, Schedule, Secret};
use payguard::model::{Notice, NoticeKind, Phase};
use payguard::source::SourceError;
use payguard::source::notices::NoticeSource;
use payguard::source::notices::NoticeSourceKind;
use payguard::source::notices::feed::FeedConfig;
use payguard::source::notices::http_json::{NoticeHttpJsonConfig, NoticeMapping};
use payguard::source::notices::statuspage::StatuspageConfig;
use support::{Fixture, Reply, limits};

/// 2026-09-21T14:13:20Z: after every update in the fixtures, before every maintenance window.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time").with_timezone(&Utc)
}

fn notice_config(name: &str, kind: NoticeSourceKind) -> NoticeConfig {
    NoticeConfig {
        name: name.into(),
        schedule: Schedule::parse("*/10 * * * *").expect("schedule"),
        http: limits(),
        lead_time: TimeDelta::hours(24),
        kind,
    }
}

async fn poll(config: &NoticeConfig) -> Result<Vec<Notice>, SourceError> {
    NoticeSource::new(config).expect("a notice source").poll(now()).await
}

fn find<'a>(notices: &'a [Notice], id: &str) -> &'a Notice {
    notices.iter().find(|n| n.id == id).unwrap_or_else(|| panic!("no notice {id} in {notices:#?}"))
}

fn ids(notices: &[Notice]) -> Vec<&str> {
    notices.iter().map(|n| n.id.as_str()).collect()
}

fn xml(content_type: &str, body: &str) -> Reply {
    Reply::Full { status: 200, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
}

// ---------------------------------------------------------------------------------------------
// Statuspage
// ---------------------------------------------------------------------------------------------

const PAGE: &str = r#""page": {
    "id": "y2j98763l56x",
    "name": "PayFast",
    "url": "https://status.payfast.example",
    "time_zone": "Asia/Shanghai",
    "updated_at": "2026-09-21T21:55:12.304+08:00"
  }"#;

fn upcoming() -> String {
    format!(
        r#"{{
  {PAGE},
  "scheduled_maintenances": [
    {{
      "id": "k7lm2qw9x0ab",
      "name": "Card network upgrade",
      "status": "scheduled",
      "created_at": "2026-09-18T10:02:11.421+08:00",
      "updated_at": "2026-09-18T10:02:11.540+08:00",
      "monitoring_at": null,
      "resolved_at": null,
      "impact": "maintenance",
      "shortlink": "https://stspg.io/k7lm2qw9",
      "started_at": "2026-09-18T10:02:11.411+08:00",
      "page_id": "y2j98763l56x",
      "incident_updates": [
        {{
          "id": "b2k4d8f0h2j4",
          "status": "scheduled",
          "body": "Card payments will be unavailable for up to two hours while we upgrade the card network.",
          "incident_id": "k7lm2qw9x0ab",
          "created_at": "2026-09-18T10:02:11.530+08:00",
          "updated_at": "2026-09-18T10:02:11.530+08:00",
          "display_at": "2026-09-18T10:02:11.530+08:00",
          "affected_components": [
            {{"code": "x1y2z3", "name": "Card payments", "old_status": "operational", "new_status": "operational"}}
          ],
          "deliver_notifications": true,
          "custom_tweet": null,
          "tweet_id": null
        }}
      ],
      "components": [
        {{
          "id": "x1y2z3",
          "name": "Card payments",
          "status": "operational",
          "created_at": "2024-01-02T09:00:00.000+08:00",
          "updated_at": "2026-09-18T10:02:11.600+08:00",
          "position": 1,
          "description": null,
          "showcase": true,
          "start_date": null,
          "group_id": null,
          "page_id": "y2j98763l56x",
          "group": false,
          "only_show_if_degraded": false
        }}
      ],
      "scheduled_for": "2026-09-26T02:00:00.000+08:00",
      "scheduled_until": "2026-09-26T04:00:00.000+08:00",
      "scheduled_remind_prior": true,
      "scheduled_reminded_at": null,
      "scheduled_auto_in_progress": true,
      "scheduled_auto_completed": true
    }},
    {{
      "id": "d4shb0ard777",
      "name": "Merchant dashboard maintenance",
      "status": "scheduled",
      "created_at": "2026-09-19T09:00:00.000+08:00",
      "updated_at": "2026-09-19T09:00:00.000+08:00",
      "impact": "none",
      "shortlink": "https://stspg.io/d4shb0ar",
      "incident_updates": [],
      "components": [{{"id": "m1m2m3", "name": "Merchant dashboard", "status": "operational"}}],
      "scheduled_for": "2026-09-27T01:00:00.000+08:00",
      "scheduled_until": "2026-09-27T01:30:00.000+08:00"
    }},
    {{
      "id": "ab12cd34ef56",
      "name": "Database failover test",
      "status": "scheduled",
      "created_at": "2026-09-15T12:00:00.000+08:00",
      "updated_at": "2026-09-15T12:00:00.000+08:00",
      "impact": "minor",
      "shortlink": "https://stspg.io/ab12cd34",
      "incident_updates": [
        {{"id": "u0", "status": "scheduled", "body": "We will test the database failover.", "created_at": "2026-09-15T12:00:00.000+08:00"}}
      ],
      "components": [],
      "scheduled_for": "2026-09-21T20:00:00.000+08:00",
      "scheduled_until": "2026-09-21T23:00:00.000+08:00"
    }}
  ]
}}"#
    )
}

fn active() -> String {
    format!(
        r#"{{
  {PAGE},
  "scheduled_maintenances": [
    {{
      "id": "ab12cd34ef56",
      "name": "Database failover test",
      "status": "in_progress",
      "created_at": "2026-09-15T12:00:00.000+08:00",
      "updated_at": "2026-09-21T20:00:04.120+08:00",
      "monitoring_at": null,
      "resolved_at": null,
      "impact": "minor",
      "shortlink": "https://stspg.io/ab12cd34",
      "started_at": "2026-09-21T20:00:00.000+08:00",
      "page_id": "y2j98763l56x",
      "incident_updates": [
        {{"id": "u1", "status": "in_progress", "body": "Scheduled maintenance is currently in progress. We will provide updates as necessary.", "created_at": "2026-09-21T20:00:04.100+08:00", "display_at": "2026-09-21T20:00:04.100+08:00"}},
        {{"id": "u0", "status": "scheduled", "body": "We will test the database failover.", "created_at": "2026-09-15T12:00:00.000+08:00", "display_at": "2026-09-15T12:00:00.000+08:00"}}
      ],
      "components": [],
      "scheduled_for": "2026-09-21T20:00:00.000+08:00",
      "scheduled_until": "2026-09-21T23:00:00.000+08:00"
    }},
    {{
      "id": "c0mp1et3d999",
      "name": "Bank transfer gateway patch",
      "status": "completed",
      "created_at": "2026-09-20T08:00:00.000+08:00",
      "updated_at": "2026-09-21T03:01:00.000+08:00",
      "impact": "maintenance",
      "shortlink": "https://stspg.io/c0mp1et3",
      "incident_updates": [
        {{"id": "v1", "status": "in_progress", "body": "Patching has started.", "created_at": "2026-09-21T02:00:00.000+08:00"}},
        {{"id": "v2", "status": "completed", "body": "The scheduled maintenance has been completed.", "created_at": "2026-09-21T03:00:00.000+08:00"}},
        {{"id": "v0", "status": "scheduled", "body": "We will patch the bank transfer gateway.", "created_at": "2026-09-20T08:00:00.000+08:00"}}
      ],
      "components": [{{"id": "b1b2b3", "name": "Bank transfers", "status": "operational"}}],
      "scheduled_for": "2026-09-21T02:00:00.000+08:00",
      "scheduled_until": "2026-09-21T04:00:00.000+08:00"
    }}
  ]
}}"#
    )
}

fn unresolved() -> String {
    format!(
        r#"{{
  {PAGE},
  "incidents": [
    {{
      "id": "inc1nv3st1ga",
      "name": "Elevated card payment failures",
      "status": "identified",
      "created_at": "2026-09-21T21:40:00.000+08:00",
      "updated_at": "2026-09-21T21:55:12.304+08:00",
      "monitoring_at": null,
      "resolved_at": null,
      "impact": "major",
      "shortlink": "https://stspg.io/inc1nv3s",
      "started_at": "2026-09-21T21:40:00.000+08:00",
      "page_id": "y2j98763l56x",
      "incident_updates": [
        {{"id": "w2", "status": "identified", "body": "The issue has been identified and a fix is being implemented.", "created_at": "2026-09-21T21:55:12.290+08:00", "affected_components": null}},
        {{"id": "w1", "status": "investigating", "body": "We are investigating elevated failures for card payments.", "created_at": "2026-09-21T21:40:00.000+08:00"}}
      ],
      "components": [
        {{"id": "x1y2z3", "name": "Card payments", "status": "partial_outage"}},
        {{"id": "a9a8a7", "name": "API", "status": "degraded_performance"}}
      ],
      "postmortem_body": null,
      "postmortem_body_last_updated_at": null,
      "scheduled_for": null,
      "scheduled_until": null
    }},
    {{
      "id": "inc2r3s0lv3d",
      "name": "Delayed payout notifications",
      "status": "resolved",
      "created_at": "2026-09-21T09:00:00.000+08:00",
      "updated_at": "2026-09-21T10:30:00.000+08:00",
      "resolved_at": "2026-09-21T10:30:00.000+08:00",
      "impact": "minor",
      "shortlink": "https://stspg.io/inc2r3s0",
      "incident_updates": [
        {{"id": "z2", "status": "resolved", "body": "This incident has been resolved.", "created_at": "2026-09-21T10:30:00.000+08:00"}},
        {{"id": "z1", "status": "investigating", "body": "Payout notifications are delayed.", "created_at": "2026-09-21T09:00:00.000+08:00"}}
      ],
      "components": []
    }}
  ]
}}"#
    )
}

fn serve_statuspage(fixture: &Fixture) {
    fixture.reply("/api/v2/scheduled-maintenances/upcoming.json", Reply::json(&upcoming()));
    fixture.reply("/api/v2/scheduled-maintenances/active.json", Reply::json(&active()));
    fixture.reply("/api/v2/incidents/unresolved.json", Reply::json(&unresolved()));
}

fn statuspage(fixture: &Fixture, components: &[&str]) -> NoticeConfig {
    notice_config(
        "payfast-status",
        NoticeSourceKind::Statuspage(Box::new(StatuspageConfig {
            url: fixture.url("/"),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
        })),
    )
}

#[tokio::test]
async fn statuspage_maintenance_and_incidents_are_mapped_field_by_field() {
    let fixture = Fixture::start().await;
    serve_statuspage(&fixture);
    let notices = poll(&statuspage(&fixture, &[])).await.expect("poll");

    // In the order the lists were read; the failover test is in two lists and reported once.
    assert_eq!(
        ids(&notices),
        ["k7lm2qw9x0ab", "d4shb0ard777", "ab12cd34ef56", "c0mp1et3d999", "inc1nv3st1ga", "inc2r3s0lv3d"]
    );

    let upgrade = find(&notices, "k7lm2qw9x0ab");
    assert_eq!(
        upgrade,
        &Notice {
            source: "payfast-status".into(),
            id: "k7lm2qw9x0ab".into(),
            kind: NoticeKind::Maintenance,
            phase: Phase::Upcoming,
            status: "scheduled".into(),
            title: "Card network upgrade".into(),
            impact: Some("maintenance".into()),
            starts_at: Some(utc("2026-09-25T18:00:00Z")),
            ends_at: Some(utc("2026-09-25T20:00:00Z")),
            updated_at: Some(utc("2026-09-18T02:02:11.540Z")),
            url: Some("https://stspg.io/k7lm2qw9".into()),
            update: "Card payments will be unavailable for up to two hours while we upgrade the card network.".into(),
            components: vec!["Card payments".into()],
        }
    );

    // An empty update list is no update, not an error.
    let dashboard = find(&notices, "d4shb0ard777");
    assert_eq!((dashboard.phase, dashboard.update.as_str()), (Phase::Upcoming, ""));
    assert_eq!(dashboard.impact.as_deref(), Some("none"));

    // Seen as scheduled in upcoming.json and in progress in active.json: the later state wins.
    let failover = find(&notices, "ab12cd34ef56");
    assert_eq!(
        (failover.kind, failover.phase, failover.status.as_str()),
        (NoticeKind::Maintenance, Phase::Active, "in_progress")
    );
    assert_eq!(
        failover.update,
        "Scheduled maintenance is currently in progress. We will provide updates as necessary."
    );
    assert_eq!(failover.updated_at, Some(utc("2026-09-21T12:00:04.120Z")));
    assert_eq!(failover.starts_at, Some(utc("2026-09-21T12:00:00Z")));
    assert!(failover.components.is_empty());

    // Completed, and its updates out of order: the newest by created_at is the update.
    let patch = find(&notices, "c0mp1et3d999");
    assert_eq!((patch.kind, patch.phase, patch.status.as_str()), (NoticeKind::Maintenance, Phase::Over, "completed"));
    assert_eq!(patch.update, "The scheduled maintenance has been completed.");
    assert_eq!(patch.components, ["Bank transfers"]);

    let failures = find(&notices, "inc1nv3st1ga");
    assert_eq!(
        failures,
        &Notice {
            source: "payfast-status".into(),
            id: "inc1nv3st1ga".into(),
            kind: NoticeKind::Incident,
            phase: Phase::Active,
            status: "identified".into(),
            title: "Elevated card payment failures".into(),
            impact: Some("major".into()),
            starts_at: None,
            ends_at: None,
            updated_at: Some(utc("2026-09-21T13:55:12.304Z")),
            url: Some("https://stspg.io/inc1nv3s".into()),
            update: "The issue has been identified and a fix is being implemented.".into(),
            components: vec!["Card payments".into(), "API".into()],
        }
    );

    let payouts = find(&notices, "inc2r3s0lv3d");
    assert_eq!((payouts.kind, payouts.phase, payouts.status.as_str()), (NoticeKind::Incident, Phase::Over, "resolved"));
    assert_eq!(payouts.update, "This incident has been resolved.");
    assert_eq!(payouts.impact.as_deref(), Some("minor"));

    // One GET per list, each asking for JSON.
    let mut paths: Vec<String> = fixture.seen().iter().map(|s| s.path.clone()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/v2/incidents/unresolved.json",
            "/api/v2/scheduled-maintenances/active.json",
            "/api/v2/scheduled-maintenances/upcoming.json"
        ]
    );
    assert!(fixture.seen().iter().all(|s| s.headers.get("accept").map(String::as_str) == Some("application/json")));
}

#[tokio::test]
async fn statuspage_url_may_be_given_with_its_api_path() {
    let fixture = Fixture::start().await;
    serve_statuspage(&fixture);
    let mut config = statuspage(&fixture, &[]);
    config.kind = NoticeSourceKind::Statuspage(Box::new(StatuspageConfig {
        url: fixture.url("/api/v2/"),
        components: Vec::new(),
    }));
    assert_eq!(poll(&config).await.expect("poll").len(), 6);
}

#[tokio::test]
async fn statuspage_component_filter_keeps_named_and_unnamed_notices() {
    let fixture = Fixture::start().await;
    serve_statuspage(&fixture);
    // Any case; "Card payments" is named by the upgrade and the failures; the failover and the
    // payout incident name no component, so they may concern anything and are kept.
    let notices = poll(&statuspage(&fixture, &["card PAYMENTS", "Refunds"])).await.expect("poll");
    assert_eq!(ids(&notices), ["k7lm2qw9x0ab", "ab12cd34ef56", "inc1nv3st1ga", "inc2r3s0lv3d"]);
    let notices = poll(&statuspage(&fixture, &["Bank transfers"])).await.expect("poll");
    assert_eq!(ids(&notices), ["ab12cd34ef56", "c0mp1et3d999", "inc2r3s0lv3d"]);
}

/// Polls a statuspage whose `path` answers `body` (the others answer well) and returns the error.
async fn statuspage_error(path: &str, body: Reply) -> SourceError {
    let fixture = Fixture::start().await;
    serve_statuspage(&fixture);
    fixture.reply(path, body);
    poll(&statuspage(&fixture, &[])).await.expect_err("the poll should fail")
}

#[tokio::test]
async fn statuspage_answers_that_are_not_its_json_are_malformed() {
    let cases: [(&str, String, &[&str]); 7] = [
        (
            "/api/v2/scheduled-maintenances/upcoming.json",
            "<html><body>Service Unavailable</body></html>".into(),
            &["upcoming.json", "not JSON"],
        ),
        (
            "/api/v2/incidents/unresolved.json",
            format!("{{{PAGE}, \"status\": {{\"indicator\": \"none\"}}}}"),
            &["unresolved.json", "no \"incidents\" list", "Atlassian Statuspage"],
        ),
        (
            "/api/v2/incidents/unresolved.json",
            r#"{"incidents": {"id": "x"}}"#.into(),
            &["\"incidents\" should be an array, found an object"],
        ),
        (
            "/api/v2/incidents/unresolved.json",
            r#"{"incidents": [{"id": "x", "name": {"en": "Outage"}, "status": "investigating"}]}"#.into(),
            &["incidents[0]", "name should be text, found an object"],
        ),
        (
            "/api/v2/scheduled-maintenances/active.json",
            r#"{"scheduled_maintenances": [{"id": "m", "name": "M", "status": "in_progress", "scheduled_for": "next tuesday"}]}"#.into(),
            &["active.json", "scheduled_maintenances[0]", "scheduled_for should be a time", "next tuesday"],
        ),
        (
            "/api/v2/scheduled-maintenances/active.json",
            r#"{"scheduled_maintenances": [{"id": "m", "name": "M", "status": "in_progress", "components": "API"}]}"#.into(),
            &["components should be an array, found a string"],
        ),
        (
            "/api/v2/incidents/unresolved.json",
            r#"{"incidents": [{"id": "i", "name": "I", "status": "investigating", "incident_updates": [{"body": true}]}]}"#.into(),
            &["incidents[0]", "incident_updates[0]", "body should be text, found a boolean"],
        ),
    ];
    for (path, body, expected) in cases {
        let error = statuspage_error(path, Reply::json(&body)).await;
        let message = error.to_string();
        assert!(matches!(error, SourceError::Malformed { .. }), "{path}: {message}");
        assert!(!error.is_retryable(), "malformed answers do not fix themselves: {message}");
        for part in expected {
            assert!(message.contains(part), "{message:?} should contain {part:?}");
        }
    }
    // A missing id is an error too: without it a notice cannot be followed from poll to poll.
    let error = statuspage_error(
        "/api/v2/incidents/unresolved.json",
        Reply::json(r#"{"incidents": [{"name": "I", "status": "investigating"}]}"#),
    )
    .await;
    assert!(error.to_string().contains("nothing at \"/id\" for the id"), "{error}");
}

#[tokio::test]
async fn a_server_error_is_retryable_and_a_missing_page_is_not() {
    let error =
        statuspage_error("/api/v2/incidents/unresolved.json", Reply::status(500, "internal server error")).await;
    assert!(matches!(error, SourceError::Status { status: 500, .. }), "{error}");
    assert!(error.is_retryable(), "{error}");
    let error = statuspage_error("/api/v2/scheduled-maintenances/active.json", Reply::status(404, "not found")).await;
    assert!(matches!(error, SourceError::Status { status: 404, .. }), "{error}");
    assert!(!error.is_retryable(), "{error}");

    let fixture = Fixture::start().await;
    fixture.reply("/history.rss", Reply::status(503, "maintenance"));
    let error = poll(&feed(&fixture, "/history.rss", &[])).await.expect_err("503");
    assert!(error.is_retryable(), "{error}");
    let error = poll(&feed(&fixture, "/gone.rss", &[])).await.expect_err("404");
    assert!(matches!(error, SourceError::Status { status: 404, .. }) && !error.is_retryable(), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Feeds
// ---------------------------------------------------------------------------------------------

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>PayFast Status - Incident History</title>
    <link>https://status.payfast.example</link>
    <description>Statuspage</description>
    <pubDate>Mon, 21 Sep 2026 22:00:00 +0800</pubDate>
    <atom:link href="https://status.payfast.example/history.rss" rel="self" type="application/rss+xml"/>
    <item>
      <title>Elevated card payment failures</title>
      <description>&lt;p&gt;&lt;small&gt;Sep &lt;var data-var='date'&gt;21&lt;/var&gt;, &lt;var data-var='time'&gt;21:40&lt;/var&gt; CST&lt;/small&gt;&lt;br&gt;&lt;strong&gt;Investigating&lt;/strong&gt; - We are seeing elevated failures for card payments.&lt;/p&gt;</description>
      <pubDate>Mon, 21 Sep 2026 21:40:00 +0800</pubDate>
      <link>https://status.payfast.example/incidents/inc1nv3st1ga</link>
      <guid>https://status.payfast.example/incidents/inc1nv3st1ga</guid>
    </item>
    <item>
      <title>Delayed payout notifications</title>
      <description>&lt;p&gt;&lt;strong&gt;Resolved&lt;/strong&gt; - This incident has been resolved.&lt;/p&gt;&lt;p&gt;&lt;strong&gt;Investigating&lt;/strong&gt; - Payout notifications are delayed.&lt;/p&gt;</description>
      <pubDate>Mon, 21 Sep 2026 10:30:00 +0800</pubDate>
      <link>https://status.payfast.example/incidents/inc2r3s0lv3d</link>
      <guid>https://status.payfast.example/incidents/inc2r3s0lv3d</guid>
    </item>
    <item>
      <title>Scheduled maintenance: card network upgrade</title>
      <description><![CDATA[<p>Card payments will be unavailable on Sep 26 from 02:00 to 04:00 CST.</p>]]></description>
      <pubDate>Fri, 18 Sep 2026 10:02:11 +0800</pubDate>
      <link>https://status.payfast.example/incidents/k7lm2qw9x0ab</link>
    </item>
    <item>
      <title>系统维护公告</title>
      <description>为提升服务质量，我们将于9月27日凌晨进行系统维护，届时提现功能暂停。</description>
      <pubDate>Sat, 19 Sep 2026 09:00:00 +0800</pubDate>
    </item>
    <item>
      <title>支付服务异常</title>
      <description>部分用户支付失败，目前服务已恢复。</description>
      <guid isPermaLink="false">notice-20260920-01</guid>
      <dc:date>2026-09-20T16:00:00+08:00</dc:date>
    </item>
    <item>
      <title>API latency still unresolved</title>
      <description>We have not found the cause yet.</description>
      <guid isPermaLink="false">notice-20260921-02</guid>
    </item>
  </channel>
</rss>
"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xml:lang="en-US" xmlns="http://www.w3.org/2005/Atom">
  <id>tag:status.payfast.example,2005:/history</id>
  <link rel="alternate" type="text/html" href="https://status.payfast.example"/>
  <link rel="self" type="application/atom+xml" href="https://status.payfast.example/history.atom"/>
  <title>PayFast Status - Incident History</title>
  <updated>2026-09-21T22:00:00+08:00</updated>
  <author><name>PayFast</name></author>
  <entry>
    <id>tag:status.payfast.example,2005:Incident/1234567</id>
    <published>2026-09-21T21:40:00+08:00</published>
    <updated>2026-09-21T21:55:12+08:00</updated>
    <link rel="alternate" type="text/html" href="https://status.payfast.example/incidents/inc1nv3st1ga"/>
    <title>Elevated card payment failures</title>
    <content type="html">&lt;p&gt;&lt;strong&gt;Identified&lt;/strong&gt; - The issue has been identified &amp;amp; a fix is being rolled out.&lt;/p&gt;</content>
  </entry>
  <entry>
    <id>tag:status.payfast.example,2005:Incident/1234500</id>
    <published>2026-09-21T03:01:00+08:00</published>
    <link rel="self" type="application/atom+xml" href="https://status.payfast.example/incidents/c0mp1et3d999.atom"/>
    <link rel="alternate" type="text/html" href="https://status.payfast.example/incidents/c0mp1et3d999"/>
    <title type="text">Bank transfer gateway maintenance</title>
    <summary type="text">Scheduled maintenance completed. Transfers &lt; 5 minutes again.</summary>
  </entry>
</feed>
"#;

fn feed(fixture: &Fixture, path: &str, keywords: &[&str]) -> NoticeConfig {
    notice_config(
        "payfast-feed",
        NoticeSourceKind::Feed(Box::new(FeedConfig {
            url: fixture.url(path),
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            maintenance_keywords: vec!["maintenance".into(), "维护".into()],
        })),
    )
}

#[tokio::test]
async fn rss_items_are_mapped_field_by_field() {
    let fixture = Fixture::start().await;
    fixture.reply("/history.rss", xml("application/rss+xml; charset=utf-8", RSS));
    let notices = poll(&feed(&fixture, "/history.rss", &[])).await.expect("poll");
    assert_eq!(notices.len(), 6, "{notices:#?}");

    assert_eq!(
        notices[0],
        Notice {
            source: "payfast-feed".into(),
            id: "https://status.payfast.example/incidents/inc1nv3st1ga".into(),
            kind: NoticeKind::Incident,
            phase: Phase::Active,
            status: String::new(),
            title: "Elevated card payment failures".into(),
            impact: None,
            starts_at: None,
            ends_at: None,
            updated_at: Some(utc("2026-09-21T13:40:00Z")),
            url: Some("https://status.payfast.example/incidents/inc1nv3st1ga".into()),
            update: "Sep 21, 21:40 CST Investigating - We are seeing elevated failures for card payments.".into(),
            components: Vec::new(),
        }
    );

    // The history says "Resolved": over.
    assert_eq!(
        (notices[1].kind, notices[1].phase, notices[1].status.as_str()),
        (NoticeKind::Incident, Phase::Over, "resolved")
    );
    assert!(notices[1].update.starts_with("Resolved - This incident has been resolved."), "{}", notices[1].update);

    // Maintenance announced for a future time stays active: the time is prose, not parsed.
    let upgrade = &notices[2];
    assert_eq!((upgrade.kind, upgrade.phase), (NoticeKind::Maintenance, Phase::Active));
    assert_eq!(upgrade.id, "https://status.payfast.example/incidents/k7lm2qw9x0ab", "no guid: the link is the id");
    assert_eq!(upgrade.update, "Card payments will be unavailable on Sep 26 from 02:00 to 04:00 CST.");
    assert_eq!((upgrade.starts_at, upgrade.ends_at), (None, None));
    assert_eq!(upgrade.updated_at, Some(utc("2026-09-18T02:02:11Z")));

    // Neither guid nor link: a derived id, the same on every poll.
    let chinese = &notices[3];
    assert_eq!(
        (chinese.kind, chinese.phase, chinese.title.as_str()),
        (NoticeKind::Maintenance, Phase::Active, "系统维护公告")
    );
    assert!(chinese.id.starts_with("derived:"), "{}", chinese.id);
    assert_eq!(chinese.url, None);
    let again = poll(&feed(&fixture, "/history.rss", &[])).await.expect("poll");
    assert_eq!(again[3].id, chinese.id);

    let recovered = &notices[4];
    assert_eq!(
        (recovered.id.as_str(), recovered.kind, recovered.phase, recovered.status.as_str()),
        ("notice-20260920-01", NoticeKind::Incident, Phase::Over, "已恢复")
    );
    assert_eq!(recovered.updated_at, Some(utc("2026-09-20T08:00:00Z")));

    // "unresolved" is not "resolved".
    let latency = &notices[5];
    assert_eq!((latency.phase, latency.updated_at), (Phase::Active, None));
}

#[tokio::test]
async fn atom_entries_are_mapped_field_by_field() {
    let fixture = Fixture::start().await;
    fixture.reply("/history.atom", xml("application/atom+xml", ATOM));
    let notices = poll(&feed(&fixture, "/history.atom", &[])).await.expect("poll");
    assert_eq!(
        notices,
        [
            Notice {
                source: "payfast-feed".into(),
                id: "tag:status.payfast.example,2005:Incident/1234567".into(),
                kind: NoticeKind::Incident,
                phase: Phase::Active,
                status: String::new(),
                title: "Elevated card payment failures".into(),
                impact: None,
                starts_at: None,
                ends_at: None,
                // `updated` wins over `published`.
                updated_at: Some(utc("2026-09-21T13:55:12Z")),
                url: Some("https://status.payfast.example/incidents/inc1nv3st1ga".into()),
                // Escaped twice in the XML: `&amp;amp;` is an HTML `&amp;`, which is `&`.
                update: "Identified - The issue has been identified & a fix is being rolled out.".into(),
                components: Vec::new(),
            },
            Notice {
                source: "payfast-feed".into(),
                id: "tag:status.payfast.example,2005:Incident/1234500".into(),
                kind: NoticeKind::Maintenance,
                phase: Phase::Over,
                status: "completed".into(),
                title: "Bank transfer gateway maintenance".into(),
                impact: None,
                starts_at: None,
                ends_at: None,
                updated_at: Some(utc("2026-09-20T19:01:00Z")),
                // The alternate link, not the first (self) one.
                url: Some("https://status.payfast.example/incidents/c0mp1et3d999".into()),
                // Plain text stays as written: `<` is not the start of a tag here.
                update: "Scheduled maintenance completed. Transfers < 5 minutes again.".into(),
                components: Vec::new(),
            },
        ]
    );
}

#[tokio::test]
async fn feed_keywords_keep_matching_items_in_any_case() {
    let fixture = Fixture::start().await;
    fixture.reply("/history.rss", xml("application/rss+xml", RSS));
    // "CARD" is in two titles and one more summary-only match would count too.
    let notices = poll(&feed(&fixture, "/history.rss", &["CARD"])).await.expect("poll");
    let titles: Vec<&str> = notices.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, ["Elevated card payment failures", "Scheduled maintenance: card network upgrade"]);
    // Matched in the summary only.
    let notices = poll(&feed(&fixture, "/history.rss", &["提现", "PAYOUT NOTIFICATIONS"])).await.expect("poll");
    let titles: Vec<&str> = notices.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, ["Delayed payout notifications", "系统维护公告"]);
    assert!(poll(&feed(&fixture, "/history.rss", &["no such word"])).await.expect("poll").is_empty());
}

#[tokio::test]
async fn feed_maintenance_keywords_decide_the_kind() {
    let fixture = Fixture::start().await;
    fixture.reply("/history.atom", xml("application/atom+xml", ATOM));
    let mut config = feed(&fixture, "/history.atom", &[]);
    config.kind = NoticeSourceKind::Feed(Box::new(FeedConfig {
        url: fixture.url("/history.atom"),
        keywords: Vec::new(),
        maintenance_keywords: vec!["FIX IS BEING".into()],
    }));
    let kinds: Vec<NoticeKind> = poll(&config).await.expect("poll").iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NoticeKind::Maintenance, NoticeKind::Incident]);
}

#[tokio::test]
async fn bodies_that_are_not_feeds_are_malformed() {
    let fixture = Fixture::start().await;
    let cases = [
        ("/text", "this is not a feed"),
        ("/html", "<!DOCTYPE html><html><head><title>Status</title></head><body>All good</body></html>"),
        ("/json", r#"{"status": "ok"}"#),
        ("/truncated", "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>Outage"),
    ];
    for (path, body) in cases {
        fixture.reply(path, xml("text/xml", body));
        let error = poll(&feed(&fixture, path, &[])).await.expect_err(path);
        assert!(matches!(error, SourceError::Malformed { .. }), "{path}: {error}");
        assert!(!error.is_retryable(), "{path}: {error}");
        assert!(error.to_string().contains("not an RSS or Atom feed"), "{path}: {error}");
    }
}

// ---------------------------------------------------------------------------------------------
// http-json
// ---------------------------------------------------------------------------------------------

const ANNOUNCEMENTS: &str = r#"{
  "code": 0,
  "msg": "success",
  "data": {
    "total": 5,
    "announcements": [
      {
        "noticeId": 9001,
        "type": "MAINTENANCE",
        "headline": "Wallet top-up maintenance",
        "state": "PLANNED",
        "level": "minor",
        "window": {"from": "2026-09-26T01:00:00+08:00", "to": 1790362800},
        "link": "https://pay.example/notice/9001",
        "detail": "Top-ups are paused during the window.",
        "modified": "2026-09-20T12:00:00Z",
        "tags": ["wallet"]
      },
      {
        "noticeId": "9002",
        "type": "incident",
        "headline": "退款延迟",
        "state": "处理中",
        "level": null,
        "window": {"from": "2026-09-21T09:00:00+08:00", "to": null},
        "detail": "部分退款到账延迟，我们正在处理。",
        "modified": 1789990000
      },
      {
        "noticeId": 9003,
        "type": "Maintenance",
        "headline": "Settlement batch maintenance",
        "state": "DONE",
        "window": {"from": "2026-09-20", "to": "2026-09-20T02:00:00Z"}
      },
      {
        "type": "notice",
        "headline": "New settlement cut-off time",
        "window": {"from": "2026-10-01T00:00:00Z"}
      },
      {
        "noticeId": 9005,
        "type": "maintenance",
        "headline": "Ledger migration",
        "state": "paused",
        "window": {"from": "2026-09-19T00:00:00Z", "to": "2026-09-20T00:00:00Z"}
      }
    ]
  }
}"#;

fn announcements_config(fixture: &Fixture, auth: HttpAuth) -> NoticeConfig {
    let mut mapping = NoticeMapping::new("/data/announcements", "/headline");
    mapping.id = Some("/noticeId".into());
    mapping.kind = Some("/type".into());
    mapping.status = Some("/state".into());
    mapping.impact = Some("/level".into());
    mapping.starts_at = Some("/window/from".into());
    mapping.ends_at = Some("/window/to".into());
    mapping.updated_at = Some("/modified".into());
    mapping.url = Some("/link".into());
    mapping.update = Some("/detail".into());
    notice_config(
        "wallet-notices",
        NoticeSourceKind::HttpJson(Box::new(NoticeHttpJsonConfig {
            url: fixture.url("/v2/announcements"),
            auth,
            mapping,
        })),
    )
}

#[tokio::test]
async fn http_json_items_are_mapped_by_pointers() {
    let fixture = Fixture::start().await;
    fixture.reply("/v2/announcements", Reply::json(ANNOUNCEMENTS));
    let config = announcements_config(&fixture, HttpAuth::Bearer(Secret::new("tok-777")));
    let notices = poll(&config).await.expect("poll");
    assert_eq!(notices.len(), 5);
    assert_eq!(
        notices[0],
        Notice {
            source: "wallet-notices".into(),
            id: "9001".into(),
            kind: NoticeKind::Maintenance,
            phase: Phase::Upcoming,
            status: "PLANNED".into(),
            title: "Wallet top-up maintenance".into(),
            impact: Some("minor".into()),
            starts_at: Some(utc("2026-09-25T17:00:00Z")),
            ends_at: DateTime::from_timestamp(1_790_362_800, 0),
            updated_at: Some(utc("2026-09-20T12:00:00Z")),
            url: Some("https://pay.example/notice/9001".into()),
            update: "Top-ups are paused during the window.".into(),
            components: Vec::new(),
        }
    );
    assert_eq!(
        notices[1],
        Notice {
            source: "wallet-notices".into(),
            id: "9002".into(),
            kind: NoticeKind::Incident,
            phase: Phase::Active,
            status: "处理中".into(),
            title: "退款延迟".into(),
            impact: None,
            starts_at: Some(utc("2026-09-21T01:00:00Z")),
            ends_at: None,
            updated_at: DateTime::from_timestamp(1_789_990_000, 0),
            url: None,
            update: "部分退款到账延迟，我们正在处理。".into(),
            components: Vec::new(),
        }
    );
    let settlement = &notices[2];
    assert_eq!((settlement.kind, settlement.phase), (NoticeKind::Maintenance, Phase::Over));
    assert_eq!(settlement.starts_at, Some(utc("2026-09-20T00:00:00Z")));
    // No id, no status word: a derived id, and upcoming because the window is ahead.
    let cutoff = &notices[3];
    assert!(cutoff.id.starts_with("derived:"), "{}", cutoff.id);
    assert_eq!((cutoff.kind, cutoff.phase, cutoff.status.as_str()), (NoticeKind::Incident, Phase::Upcoming, ""));
    // A word in no list ("paused") is placed by the times: its window has passed.
    assert_eq!((notices[4].phase, notices[4].status.as_str()), (Phase::Over, "paused"));

    let seen = fixture.seen();
    assert_eq!(seen.len(), 1, "one GET per poll");
    assert_eq!(seen[0].headers.get("authorization").map(String::as_str), Some("Bearer tok-777"));
}

#[tokio::test]
async fn http_json_words_can_be_configured() {
    let fixture = Fixture::start().await;
    fixture.reply("/v2/announcements", Reply::json(ANNOUNCEMENTS));
    let mut config =
        announcements_config(&fixture, HttpAuth::Header { name: "X-Api-Key".into(), value: Secret::new("k") });
    if let NoticeSourceKind::HttpJson(http) = &mut config.kind {
        http.mapping.maintenance_values = vec!["notice".into()];
        http.mapping.active_values = vec!["paused".into()];
    }
    let notices = poll(&config).await.expect("poll");
    let kinds: Vec<NoticeKind> = notices.iter().map(|n| n.kind).collect();
    use NoticeKind::{Incident, Maintenance};
    assert_eq!(kinds, [Incident, Incident, Incident, Maintenance, Incident]);
    assert_eq!(notices[4].phase, Phase::Active);
    assert_eq!(fixture.seen()[0].headers.get("x-api-key").map(String::as_str), Some("k"));
}

#[tokio::test]
async fn http_json_answers_that_do_not_fit_the_mapping_are_malformed() {
    let cases: [(&str, &[&str]); 5] = [
        ("Bad Gateway", &["not JSON"]),
        (
            r#"{"data": {"announcements": {"noticeId": 1}}}"#,
            &["\"/data/announcements\" should be an array of notices, found an object"],
        ),
        (r#"{"data": {}}"#, &["nothing at \"/data/announcements\""]),
        (
            r#"{"data": {"announcements": [{"headline": "ok"}, {"headline": ["not", "text"]}]}}"#,
            &["item 1: title should be text, found an array"],
        ),
        (
            r#"{"data": {"announcements": [{"headline": "ok", "window": {"from": "soon"}}]}}"#,
            &["item 0: starts_at should be a time", "soon"],
        ),
    ];
    for (body, expected) in cases {
        let fixture = Fixture::start().await;
        fixture.reply("/v2/announcements", Reply::json(body));
        let error = poll(&announcements_config(&fixture, HttpAuth::None)).await.expect_err(body);
        assert!(matches!(error, SourceError::Malformed { .. }) && !error.is_retryable(), "{error}");
        for part in expected {
            assert!(error.to_string().contains(part), "{error} should contain {part:?}");
        }
    }
    let fixture = Fixture::start().await;
    fixture.reply("/v2/announcements", Reply::status(401, "bad token"));
    let error = poll(&announcements_config(&fixture, HttpAuth::None)).await.expect_err("401");
    assert!(matches!(error, SourceError::Auth { status: 401, .. }) && !error.is_retryable(), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

#[test]
fn notice_sections_are_read_with_their_defaults() {
    let text = r#"
[[source]]
name = "bank"
kind = "simplefin"
access_url = "https://user:secret@bridge.example.com/simplefin"
schedule = "0 * * * *"

[[notice]]
name = "payfast-status"
kind = "statuspage"
url = "https://status.payfast.example"
schedule = "*/10 * * * *"
components = ["Card payments"]

[[notice]]
name = "payfast-feed"
kind = "feed"
url = "https://status.payfast.example/history.rss"
schedule = "*/15 * * * *"
lead_time = "2d"
keywords = ["card"]
timeout = "5s"

[[notice]]
name = "wallet-notices"
kind = "http-json"
url = "https://api.wallet.example/v2/announcements"
schedule = "*/30 * * * *"
auth = { type = "bearer", token = "tok" }
max_body = "1MiB"

[notice.mapping]
items = "/data/announcements"
id = "/noticeId"
title = "/headline"
kind = "/type"
status = "/state"
over_values = ["DONE", "active"]
starts_at = "/window/from"
"#;
    let config = Config::parse(text, std::path::Path::new("payguard.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.notices.len(), 3);

    let status = &config.notices[0];
    assert_eq!((status.name.as_str(), status.lead_time), ("payfast-status", TimeDelta::hours(24)));
    assert_eq!(status.http.timeout, std::time::Duration::from_secs(30));
    assert!(matches!(
        &status.kind,
        NoticeSourceKind::Statuspage(page) if page.url == "https://status.payfast.example" && page.components == ["Card payments"]
    ));

    let feed = &config.notices[1];
    assert_eq!((feed.lead_time, feed.http.timeout), (TimeDelta::days(2), std::time::Duration::from_secs(5)));
    match &feed.kind {
        NoticeSourceKind::Feed(feed) => {
            assert_eq!(feed.keywords, ["card"]);
            assert_eq!(feed.maintenance_keywords, ["maintenance", "维护"]);
        }
        other => panic!("expected a feed, got {other:?}"),
    }

    let wallet = &config.notices[2];
    assert_eq!(wallet.http.max_body, 1 << 20);
    let NoticeSourceKind::HttpJson(http) = &wallet.kind else { panic!("expected http-json, got {:?}", wallet.kind) };
    assert!(matches!(&http.auth, HttpAuth::Bearer(token) if token.expose() == Ok("tok")));
    let m = &http.mapping;
    assert_eq!(
        (m.items.as_str(), m.id.as_deref(), m.title.as_str()),
        ("/data/announcements", Some("/noticeId"), "/headline")
    );
    assert_eq!(m.over_values, ["DONE", "active"]);
    // "active" was moved to over by the person; the default active words lose it, keep the rest.
    assert!(!m.active_values.iter().any(|w| w == "active") && m.active_values.iter().any(|w| w == "in_progress"));
    assert!(m.upcoming_values.iter().any(|w| w == "scheduled"));
    assert!(m.maintenance_values.iter().any(|w| w == "maintenance"));
}

#[tokio::test]
async fn notice_text_longer_than_payguard_keeps_is_cut() {
    let fixture = Fixture::start().await;
    serve_statuspage(&fixture);
    let long_id = "k".repeat(1 << 20);
    let hostile = upcoming()
        .replace("\"k7lm2qw9x0ab\"", &format!("\"{long_id}\""))
        .replace("https://stspg.io/k7lm2qw9", &format!("https://stspg.io/{}", "u".repeat(1 << 20)))
        .replace("\"impact\": \"maintenance\"", &format!("\"impact\": \"{}\"", "m".repeat(1 << 20)));
    fixture.reply("/api/v2/scheduled-maintenances/upcoming.json", Reply::json(&hostile));
    let mut config = statuspage(&fixture, &[]);
    config.http.max_body = 8 << 20;
    let (logs, _guard) = support::logs::Logs::capture();
    let notices = poll(&config).await.expect("poll");

    let cut = find(&notices, &format!("long:{}", payguard::model::short_hash(&long_id)));
    let limit = payguard::text::STORED;
    assert!(cut.url.as_deref().is_some_and(|u| u.len() == limit && u.starts_with("https://stspg.io/uuu")));
    assert_eq!(cut.impact.as_deref().map(str::len), Some(limit));
    let warned = logs.lines_with(&["WARN", "payfast-status", "id, url, impact"]);
    assert_eq!(warned.len(), 1, "{}", logs.text());
    assert!(!logs.text().contains("uuuuuuuu"));
}
