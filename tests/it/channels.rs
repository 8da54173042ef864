//! The SMS and webhook channels against a real HTTP server on loopback: what each one puts on the
//! wire (path, headers, form or JSON body), how the receiver's answers become retryable or
//! permanent failures, and that no failure ever shows a token, a key or a URL that carries one.

use crate::support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use payguard::alert::{Alert, NoticeEvent};
use payguard::config::{ChannelConfig, Language, Secret, Support};
use payguard::model::{AccountRef, Finding, FindingKind, Severity};
use payguard::notify::ChannelKind;
use payguard::notify::render::{alert_message, test_message};
use payguard::notify::sms::{SmsConfig, SmsProvider};
use payguard::notify::webhook::{WebhookConfig, WebhookPreset};
use payguard::notify::{Channel, DeliveryError, Message, Stream};
use serde_json::Value;
use support::{Fixture, Reply, Seen};

const SID: &str = "AC0123456789";
const TWILIO_TOKEN: &str = "tw-auth-token-s3cr3t";
/// base64("AC0123456789:tw-auth-token-s3cr3t"), worked out once with `base64(1)`.
const TWILIO_BASIC: &str = "QUMwMTIzNDU2Nzg5OnR3LWF1dGgtdG9rZW4tczNjcjN0";
const TWILIO_PATH: &str = "/2010-04-01/Accounts/AC0123456789/Messages.json";
const GATEWAY_KEY: &str = "gw-key-0123456789";
const HEADER_SECRET: &str = "hdr-secret-value";
const WEBHOOK_TOKEN: &str = "wh-token-abcdef";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn alert(severity: Severity) -> Alert {
    let finding = Finding {
        severity,
        detail: "A debit of 950.00 USD is at or above your large_debit limit of 500.00 USD.".into(),
        currency: "USD".into(),
        amount: Some("950.00".parse().expect("a decimal")),
        balance: Some("120.00".parse().expect("a decimal")),
        payees: vec!["ACME".into()],
        transaction_ids: vec!["t-1".into()],
        key: "t-1".into(),
        ..Finding::new(
            FindingKind::LargeDebit,
            AccountRef::new("bank", "checking"),
            "Large debit of 950.00 USD to ACME",
            now(),
        )
    };
    Alert { id: "a1b2c3d4e5f6".into(), ..Alert::firing(finding, now()) }
}

fn alert_msg(severity: Severity) -> Message {
    alert_message("msg-1", &alert(severity), NoticeEvent::Firing, Language::En, &Support::default())
}

fn channel(kind: ChannelKind) -> Channel {
    Channel::new(&ChannelConfig { name: "t".into(), kind, max_per_hour: None }, Stream::Stdout)
        .unwrap_or_else(|e| panic!("the channel should build: {e}"))
}

fn twilio(fixture: &Fixture, to: &[&str]) -> Channel {
    channel(ChannelKind::Sms(Box::new(SmsConfig {
        provider: SmsProvider::Twilio {
            account_sid: SID.into(),
            auth_token: Secret::new(TWILIO_TOKEN),
            from: "+15005550006".into(),
            api_base: fixture.url(""),
        },
        to: to.iter().map(|s| s.to_string()).collect(),
    })))
}

fn gateway(fixture: &Fixture, method: &str, content_type: &str, body: &str, to: &[&str]) -> Channel {
    channel(ChannelKind::Sms(Box::new(SmsConfig {
        provider: SmsProvider::Http {
            url: Secret::new(fixture.url(&format!("/sms/send?api_key={GATEWAY_KEY}"))),
            method: method.into(),
            headers: BTreeMap::from([("X-Auth".to_owned(), Secret::new(HEADER_SECRET))]),
            body: body.into(),
            content_type: content_type.into(),
        },
        to: to.iter().map(|s| s.to_string()).collect(),
    })))
}

fn webhook(fixture: &Fixture, preset: WebhookPreset, path: &str) -> Channel {
    channel(ChannelKind::Webhook(Box::new(WebhookConfig {
        url: Secret::new(fixture.url(path)),
        preset,
        token: Some(Secret::new(WEBHOOK_TOKEN)),
        headers: BTreeMap::from([("X-Extra".to_owned(), Secret::new(HEADER_SECRET))]),
    })))
}

/// A form body as name → value, decoded the way a server would.
fn form(body: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://x/?{body}")).expect("a form body makes a query");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn json(seen: &Seen) -> Value {
    serde_json::from_str(&seen.body).unwrap_or_else(|e| panic!("the body should be JSON ({e}): {}", seen.body))
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers.get(name).map(String::as_str).unwrap_or_else(|| panic!("no {name} header in {:?}", seen.headers))
}

/// Undoes one RFC 2047 `=?UTF-8?B?…?=` word, as ntfy does.
fn decode_encoded_word(value: &str) -> String {
    let Some(data) = value.strip_prefix("=?UTF-8?B?").and_then(|v| v.strip_suffix("?=")) else {
        return value.to_owned();
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in data.bytes().filter(|&c| c != b'=') {
        let index = ALPHABET.iter().position(|&a| a == c).expect("a base64 character");
        bits = (bits << 6) | index as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(bytes).expect("UTF-8 inside the encoded word")
}

/// No secret of any test channel, nor a URL path that carries one, shows in `error`.
fn assert_no_secrets(error: &DeliveryError, paths: &[&str]) {
    for secret in [TWILIO_TOKEN, TWILIO_BASIC, GATEWAY_KEY, HEADER_SECRET, WEBHOOK_TOKEN].iter().chain(paths) {
        assert!(!error.message.contains(secret), "{secret:?} leaked into: {}", error.message);
    }
    assert!(error.message.contains("127.0.0.1"), "the error should name the host: {}", error.message);
}

// ---- Twilio ----

#[tokio::test]
async fn twilio_posts_one_form_per_recipient_with_basic_auth() {
    let fixture = Fixture::start().await;
    fixture.reply(TWILIO_PATH, Reply::json(r#"{"sid": "SM1", "status": "queued"}"#));
    let message = alert_msg(Severity::Warning);
    twilio(&fixture, &["+491701234567", "+15005550010"]).send(&message).await.expect("Twilio accepted both");

    let seen = fixture.seen();
    assert_eq!(seen.len(), 2, "one request per recipient");
    for (request, to) in seen.iter().zip(["+491701234567", "+15005550010"]) {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", TWILIO_PATH));
        assert_eq!(header(request, "authorization"), format!("Basic {TWILIO_BASIC}"));
        assert_eq!(header(request, "content-type"), "application/x-www-form-urlencoded");
        let fields = form(&request.body);
        assert_eq!(fields.get("To").map(String::as_str), Some(to));
        assert_eq!(fields.get("From").map(String::as_str), Some("+15005550006"));
        assert_eq!(fields.get("Body"), Some(&message.short));
    }
}

#[tokio::test]
async fn twilio_429_is_retryable_after_the_time_it_asks() {
    let fixture = Fixture::start().await;
    fixture.reply(
        TWILIO_PATH,
        Reply::status(429, r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#)
            .with_header("Retry-After", "120"),
    );
    let error = twilio(&fixture, &["+491701234567"]).send(&alert_msg(Severity::Critical)).await.expect_err("429");
    assert!(error.retryable, "{error:?}");
    assert_eq!(error.retry_after, Some(Duration::from_secs(120)));
    assert!(error.message.contains("20429"), "{}", error.message);
}

#[tokio::test]
async fn twilio_400_is_permanent_and_gives_twilios_code_and_message() {
    let fixture = Fixture::start().await;
    fixture.reply(
        TWILIO_PATH,
        Reply::status(
            400,
            r#"{"code": 21211, "message": "The 'To' number +4917 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
        ),
    );
    let error = twilio(&fixture, &["+4917"]).send(&alert_msg(Severity::Warning)).await.expect_err("400");
    assert!(!error.retryable, "{error:?}");
    assert_eq!(error.retry_after, None);
    assert!(error.message.contains("21211"), "{}", error.message);
    assert!(error.message.contains("is not a valid phone number"), "{}", error.message);
    assert!(error.message.contains("SMS to +4917"), "the error names the recipient: {}", error.message);
}

#[tokio::test]
async fn twilio_500_is_retryable_and_shows_no_credential() {
    let fixture = Fixture::start().await;
    fixture.reply(TWILIO_PATH, Reply::status(500, "Internal Server Error"));
    let error = twilio(&fixture, &["+491701234567"]).send(&alert_msg(Severity::Warning)).await.expect_err("500");
    assert!(error.retryable, "{error:?}");
    assert_no_secrets(&error, &[]);
}

#[tokio::test]
async fn twilio_refusing_one_recipient_fails_the_message_and_names_that_one() {
    let fixture = Fixture::start().await;
    fixture.reply_sequence(
        TWILIO_PATH,
        vec![
            Reply::json(r#"{"sid": "SM1"}"#),
            Reply::status(
                400,
                r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}"#,
            ),
        ],
    );
    let error = twilio(&fixture, &["+491700000001", "+491700000002"])
        .send(&alert_msg(Severity::Warning))
        .await
        .expect_err("one failed");
    assert_eq!(fixture.seen().len(), 2, "both recipients were tried");
    assert!(!error.retryable, "{error:?}");
    assert!(
        error.message.contains("+491700000002") && !error.message.contains("+491700000001 failed"),
        "{}",
        error.message
    );
    assert!(error.message.contains("1 of 2"), "{}", error.message);
}

// ---- HTTP gateway ----

#[tokio::test]
async fn gateway_fills_a_json_template_with_escaped_values() {
    let fixture = Fixture::start().await;
    fixture.reply("/sms/send", Reply::status(204, ""));
    let mut message = alert_msg(Severity::Warning);
    message.subject = "He said \"stop\"\nthen left · {to}".into();
    let template =
        r#"{"to": "{to}", "text": "{message}", "title": "{title}", "level": "{severity}", "ref": "{alert_id}"}"#;
    gateway(&fixture, "PUT", "application/json; charset=utf-8", template, &["+491701234567"])
        .send(&message)
        .await
        .expect("the gateway accepted it");

    let seen = fixture.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("PUT", "/sms/send"));
    assert_eq!(request.query, format!("api_key={GATEWAY_KEY}"));
    assert_eq!(header(request, "x-auth"), HEADER_SECRET);
    assert_eq!(header(request, "content-type"), "application/json; charset=utf-8");
    let body = json(request);
    assert_eq!(body["to"], "+491701234567");
    assert_eq!(body["text"].as_str(), Some(message.short.as_str()));
    assert_eq!(body["title"].as_str(), Some(message.subject.as_str()), "quotes, newline and braces survive");
    assert_eq!(body["level"], "warning");
    assert_eq!(body["ref"], "a1b2c3d4e5f6");
}

#[tokio::test]
async fn gateway_fills_a_form_template_with_encoded_values() {
    let fixture = Fixture::start().await;
    fixture.reply("/sms/send", Reply::status(200, "OK"));
    let mut message = test_message("phone", now(), Language::En, &Support::default());
    message.subject = "a&b=c + d · ü".into();
    let template = "to={to}&text={message}&title={title}&sev={severity}&ref={alert_id}";
    gateway(&fixture, "POST", "application/x-www-form-urlencoded", template, &["+491700000001", "+491700000002"])
        .send(&message)
        .await
        .expect("the gateway accepted both");

    let seen = fixture.seen();
    assert_eq!(seen.len(), 2, "one request per recipient");
    for (request, to) in seen.iter().zip(["+491700000001", "+491700000002"]) {
        let fields = form(&request.body);
        assert_eq!(fields.len(), 5, "no value split the form: {}", request.body);
        assert_eq!(fields["to"], to);
        assert_eq!(fields["text"], message.short);
        assert_eq!(fields["title"], "a&b=c + d · ü");
        assert_eq!(fields["sev"], "info");
        assert_eq!(fields["ref"], message.id, "a message without alerts is referred to by its own id");
    }
}

#[tokio::test]
async fn gateway_fills_other_templates_as_is() {
    let fixture = Fixture::start().await;
    fixture.reply("/sms/send", Reply::status(200, "OK"));
    let message = alert_msg(Severity::Critical);
    gateway(&fixture, "POST", "text/plain", "{to}: {message} [{severity}] {unknown}", &["+1 555"])
        .send(&message)
        .await
        .expect("the gateway accepted it");
    assert_eq!(fixture.seen()[0].body, format!("+1 555: {} [critical] {{unknown}}", message.short));
}

#[tokio::test]
async fn gateway_errors_name_the_host_only() {
    let fixture = Fixture::start().await;
    fixture.reply("/sms/send", Reply::status(503, "gateway overloaded").with_header("Retry-After", "30"));
    let channel = gateway(&fixture, "POST", "application/x-www-form-urlencoded", "to={to}", &["+1"]);
    let error = channel.send(&alert_msg(Severity::Warning)).await.expect_err("503");
    assert!(error.retryable && error.retry_after == Some(Duration::from_secs(30)), "{error:?}");
    assert_no_secrets(&error, &["/sms/send"]);

    // A gateway that echoes what it was sent: the echo is cut out too.
    fixture.reply("/sms/send", Reply::status(401, &format!("bad key {GATEWAY_KEY} with X-Auth {HEADER_SECRET}")));
    let error = channel.send(&alert_msg(Severity::Warning)).await.expect_err("401");
    assert!(!error.retryable, "{error:?}");
    assert!(error.message.contains("[redacted]"), "{}", error.message);
    assert_no_secrets(&error, &["/sms/send"]);
}

// ---- Webhooks ----

#[tokio::test]
async fn generic_webhook_posts_the_alert_json() {
    let fixture = Fixture::start().await;
    fixture.reply("/hook", Reply::status(202, ""));
    let message = alert_msg(Severity::Warning);
    webhook(&fixture, WebhookPreset::Generic, "/hook").send(&message).await.expect("delivered");

    let seen = fixture.seen();
    let request = &seen[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/hook"));
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, "authorization"), format!("Bearer {WEBHOOK_TOKEN}"));
    assert_eq!(header(request, "x-extra"), HEADER_SECRET);
    let body = json(request);
    assert_eq!(body["kind"], "large_debit");
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["account"], "checking");
    assert_eq!(body["title"], "Large debit of 950.00 USD to ACME");
    assert_eq!(body["alert_id"], "a1b2c3d4e5f6");
    assert_eq!(body["message_id"], "msg-1");
    assert_eq!(body, message.json);
}

#[tokio::test]
async fn ntfy_gets_the_text_with_title_priority_and_tags() {
    let fixture = Fixture::start().await;
    fixture.reply("/payguard-alerts", Reply::json(r#"{"id": "x"}"#));
    let ntfy = webhook(&fixture, WebhookPreset::Ntfy, "/payguard-alerts");
    let critical = alert_msg(Severity::Critical);
    assert!(!critical.subject.is_ascii(), "the subject carries a `·`, so it must be encoded");
    let warning = alert_msg(Severity::Warning);
    let info = test_message("ntfy", now(), Language::En, &Support::default());
    for message in [&critical, &warning, &info] {
        ntfy.send(message).await.expect("delivered");
    }

    let seen = fixture.seen();
    assert_eq!(seen.len(), 3);
    for (request, message, priority, tags) in [
        (&seen[0], &critical, "5", Some("rotating_light")),
        (&seen[1], &warning, "4", Some("warning")),
        (&seen[2], &info, "3", None),
    ] {
        assert_eq!(request.path, "/payguard-alerts");
        assert_eq!(request.body, message.text);
        assert_eq!(decode_encoded_word(header(request, "title")), message.subject);
        assert_eq!(header(request, "priority"), priority);
        assert_eq!(request.headers.get("tags").map(String::as_str), tags);
        assert_eq!(header(request, "authorization"), format!("Bearer {WEBHOOK_TOKEN}"));
        assert!(header(request, "content-type").starts_with("text/plain"));
    }
    assert_eq!(header(&seen[2], "title"), "payguard test message", "ASCII titles go as they are");
}

#[tokio::test]
async fn gotify_gets_json_at_its_message_endpoint_with_the_app_key() {
    let fixture = Fixture::start().await;
    fixture.reply("/gotify/message", Reply::json(r#"{"id": 1}"#));
    let gotify = webhook(&fixture, WebhookPreset::Gotify, "/gotify/");
    let info = test_message("gotify", now(), Language::En, &Support::default());
    for message in [alert_msg(Severity::Critical), alert_msg(Severity::Warning), info] {
        gotify.send(&message).await.expect("delivered");
    }

    let seen = fixture.seen();
    for (request, priority) in seen.iter().zip([8, 5, 2]) {
        assert_eq!(request.path, "/gotify/message");
        assert_eq!(header(request, "x-gotify-key"), WEBHOOK_TOKEN);
        assert_eq!(header(request, "content-type"), "application/json");
        assert!(!request.headers.contains_key("authorization"), "the key goes in X-Gotify-Key only");
        let body = json(request);
        assert_eq!(body["priority"], priority);
        assert!(body["title"].is_string() && body["message"].is_string(), "{body}");
    }
    assert_eq!(json(&seen[0])["title"].as_str(), Some(alert_msg(Severity::Critical).subject.as_str()));
    assert_eq!(json(&seen[0])["message"].as_str(), Some(alert_msg(Severity::Critical).text.as_str()));
}

#[tokio::test]
async fn slack_gets_subject_and_text_with_mentions_defused() {
    let fixture = Fixture::start().await;
    let path = "/services/T000/B000/slacktokenXXXX";
    fixture.reply(path, Reply::status(200, "ok"));
    let mut message = alert_msg(Severity::Warning);
    assert!(!message.text.contains(['&', '<', '>']), "the fixture text needs no escaping");
    message.subject = "Pay <!channel> & co".into();
    webhook(&fixture, WebhookPreset::Slack, path).send(&message).await.expect("delivered");

    let seen = fixture.seen();
    assert_eq!(seen[0].path, path);
    assert_eq!(header(&seen[0], "content-type"), "application/json");
    assert_eq!(
        json(&seen[0])["text"].as_str(),
        Some(format!("Pay &lt;!channel&gt; &amp; co\n{}", message.text).as_str())
    );
}

#[tokio::test]
async fn discord_gets_content_cut_to_2000_characters() {
    let fixture = Fixture::start().await;
    let path = "/api/webhooks/123/discordtokenXXXX";
    fixture.reply(path, Reply::status(204, ""));
    let discord = webhook(&fixture, WebhookPreset::Discord, path);
    let short = alert_msg(Severity::Warning);
    let mut long = alert_msg(Severity::Critical);
    long.text = "余".repeat(5000);
    discord.send(&short).await.expect("delivered");
    discord.send(&long).await.expect("delivered");

    let seen = fixture.seen();
    let first = json(&seen[0]);
    assert_eq!(first["content"].as_str(), Some(format!("{}\n{}", short.subject, short.text).as_str()));
    assert_eq!(first["allowed_mentions"]["parse"], serde_json::json!([]), "no @everyone from bank data");
    let content = json(&seen[1])["content"].as_str().expect("content is text").to_owned();
    assert_eq!(content.chars().count(), 2000);
    assert!(content.starts_with(&long.subject) && content.ends_with('…'), "{content}");
}

#[tokio::test]
async fn webhook_errors_name_the_host_never_the_url_or_token() {
    let fixture = Fixture::start().await;
    let presets = [
        (WebhookPreset::Generic, "/hook/generictoken123", "/hook/generictoken123"),
        (WebhookPreset::Ntfy, "/topic-secret-name", "/topic-secret-name"),
        (WebhookPreset::Gotify, "/gotify", "/gotify/message"),
        (WebhookPreset::Slack, "/services/T000/B000/slacktokenXXXX", "/services/T000/B000/slacktokenXXXX"),
        (WebhookPreset::Discord, "/api/webhooks/123/discordtokenXXXX", "/api/webhooks/123/discordtokenXXXX"),
    ];
    for (preset, url_path, post_path) in presets {
        fixture.reply(post_path, Reply::status(500, "internal error"));
        let error = webhook(&fixture, preset, url_path).send(&alert_msg(Severity::Warning)).await.expect_err("500");
        assert!(error.retryable, "{preset:?}: {error:?}");
        assert_no_secrets(&error, &[url_path, "token", "secret"]);
    }

    // Unknown path: the fixture's 404 echoes the path, Slack token and all; it must not show.
    let slack = webhook(&fixture, WebhookPreset::Slack, "/services/T000/B000/otherslacktoken");
    let error = slack.send(&alert_msg(Severity::Warning)).await.expect_err("404");
    assert!(!error.retryable, "{error:?}");
    assert_no_secrets(&error, &["/services/T000/B000/otherslacktoken", "otherslacktoken"]);

    fixture.reply("/api/webhooks/123/discordtokenXXXX", Reply::status(429, "{}").with_header("Retry-After", "7"));
    let discord = webhook(&fixture, WebhookPreset::Discord, "/api/webhooks/123/discordtokenXXXX");
    let error = discord.send(&alert_msg(Severity::Warning)).await.expect_err("429");
    assert_eq!((error.retryable, error.retry_after), (true, Some(Duration::from_secs(7))));
}
