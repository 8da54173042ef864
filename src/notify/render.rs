//! The words of an alert, in English or Simplified Chinese: a subject, the facts, why it fired, what
//! to do next (with the platform's support line), and the alert id; plus an HTML form for e-mail, a
//! one-message SMS form, and JSON for webhooks. The alerts of one incident, or a digest, are said
//! in one message of the same forms.
//!
//! What each kind says beyond the detector's English (the Chinese headline and reason, the advice)
//! is its row in `model::kind`; the Chinese is composed there from the finding's facts, not from
//! the English sentences, so both languages say the same things. Here they are put together.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::alert::{Alert, NoticeEvent};
use crate::config::{Language, Support};
use crate::model::{AccountRef, Cause, Finding, FindingKind, Severity};
use crate::text;

/// A message ready for any channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Unique per message; receivers that deduplicate can key on it.
    pub id: String,
    pub alert_ids: Vec<String>,
    pub severity: Severity,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Fits one SMS: 160 characters, or 70 when it needs more than ASCII.
    pub short: String,
    pub json: Value,
}

/// One alert, as of one event.
pub fn alert_message(id: &str, alert: &Alert, event: NoticeEvent, language: Language, support: &Support) -> Message {
    let mut value = alert_json(alert);
    let w = words(language);
    let f = &alert.finding;
    // One line, escaped and clipped as a whole, so the cut never halves an escape.
    let subject =
        format!("[{}] {}{} · {}", (w.severity)(f.severity), (w.event)(event), f.subject(), headline(f, language));
    let subject = text::clipped(&subject, text::LINE).into_owned();
    let alert = &shown(alert);
    let f = &alert.finding;
    let text = body(alert, event, language, support);
    let short = sms(
        &format!(
            "payguard {} {}: {} {} {}",
            (w.severity)(f.severity),
            f.subject(),
            (w.event)(event),
            headline(f, language),
            support_line(support, language).map(|s| format!("· {s}")).unwrap_or_default()
        ),
        &alert.id,
    );
    if let Value::Object(map) = &mut value {
        map.insert("event".into(), json!(event));
        map.insert("message_id".into(), json!(id));
    }
    Message {
        id: id.to_owned(),
        alert_ids: vec![alert.id.clone()],
        severity: f.severity,
        html: html(&subject, &text),
        subject,
        text,
        short,
        json: value,
    }
}

/// Several alerts folded into one message, when a channel has used its hourly allowance.
pub fn digest_message(id: &str, items: &[Said<'_>], language: Language, support: &Support) -> Message {
    let w = words(language);
    let severity = items.iter().map(|s| s.alert.finding.severity).max().unwrap_or(Severity::Info);
    let subject = (w.digest_subject)(items.len());
    let mut text = String::new();
    let _ = writeln!(text, "{}", (w.digest_intro)(items.len()));
    for said in items {
        let alert = &shown(said.alert);
        let f = &alert.finding;
        let _ = writeln!(
            text,
            "- [{}] {}{} · {} ({} {})",
            (w.severity)(f.severity),
            (w.event)(said.event),
            f.subject(),
            headline(f, language),
            w.alert,
            alert.id
        );
    }
    if let Some(line) = support_line(support, language) {
        let _ = writeln!(text, "\n{line}");
    }
    let ids: Vec<String> = items.iter().map(|s| s.alert.id.clone()).collect();
    let short = sms(
        &format!("payguard: {} · {}", subject, support_line(support, language).unwrap_or_default()),
        &ids.join(","),
    );
    Message {
        id: id.to_owned(),
        alert_ids: ids.clone(),
        severity,
        html: html(&subject, &text),
        subject,
        short,
        json: json!({ "digest": true, "message_id": id, "alerts": items.iter().map(said_json).collect::<Vec<_>>() }),
        text,
    }
}

/// One alert of a message about several (an incident's, a digest): the alert, why it is said, and
/// the id of the message owed for it (what its own message would carry), by which a receiver can
/// tell a repeat of it.
#[derive(Clone, Copy, Debug)]
pub struct Said<'a> {
    pub alert: &'a Alert,
    pub event: NoticeEvent,
    pub message_id: &'a str,
}

/// The alerts of one incident that one channel owes, as one message: the most severe finding and a
/// count in the subject; every finding with its facts, each piece of advice once (most severe
/// first), the support line and the export that gathers the evidence in the body; in JSON, the
/// incident and each alert's own JSON with its `message_id`. `update`: the channel had a message
/// about this incident before, and these findings joined it since.
///
/// A single alert that opens its incident is said as [`alert_message`] says it.
pub fn incident_message(
    id: &str,
    incident: &str,
    items: &[Said<'_>],
    update: bool,
    language: Language,
    support: &Support,
) -> Message {
    if let ([said], false) = (items, update) {
        return alert_message(id, said.alert, said.event, language, support);
    }
    let w = words(language);
    let mut sorted = items.to_vec();
    // Most severe first; what still fires before what cleared; then the oldest.
    sorted.sort_by_key(|s| {
        (std::cmp::Reverse(s.alert.finding.severity), s.event == NoticeEvent::Resolved, s.alert.first_fired)
    });
    let json_alerts: Vec<Value> = sorted.iter().map(said_json).collect();
    let json_account = sorted.first().map(|s| s.alert.finding.account.clone());
    let items: Vec<(Alert, NoticeEvent)> = sorted.iter().map(|s| (shown(s.alert), s.event)).collect();
    let Some((lead, lead_event)) = items.first() else {
        // No group is ever empty; were one, a digest of nothing says so without a panic.
        return digest_message(id, &[], language, support);
    };
    let f = &lead.finding;
    let count = items.len();
    let headline_of = |a: &Alert, e: NoticeEvent| format!("{}{}", (w.event)(e), headline(&a.finding, language));
    let summary = match update {
        false => format!("{}{}", headline_of(lead, *lead_event), (w.more)(count - 1)),
        true => format!("{} · {}", (w.update)(incident, count), headline_of(lead, *lead_event)),
    };
    let subject = format!("[{}] {}: {summary}", (w.severity)(f.severity), f.subject());
    let subject = text::clipped(&subject, text::LINE).into_owned();

    let mut text = String::new();
    let _ = writeln!(text, "{}\n", (w.incident_intro)(incident, count, update, f.subject()));
    for (n, (alert, event)) in items.iter().enumerate() {
        let _ = writeln!(text, "{}. [{}] {}", n + 1, (w.severity)(alert.finding.severity), headline_of(alert, *event));
        if *event == NoticeEvent::Resolved {
            let _ = writeln!(text, "   {}", w.resolved_note);
        }
        facts(&mut text, alert, language, "   ");
        let _ = writeln!(text, "   {}\n", reference(alert, language));
    }
    // Kinds of one family share their advice: each piece is said once.
    let mut steps: Vec<&str> = Vec::new();
    for (alert, event) in &items {
        let step = advice(alert.kind(), language);
        if *event != NoticeEvent::Resolved && !steps.contains(&step) {
            steps.push(step);
        }
    }
    if !steps.is_empty() {
        let _ = writeln!(text, "{}:", w.what_to_do);
        for step in steps {
            let _ = writeln!(text, "- {step}");
        }
    }
    if let Some(line) = support_line(support, language) {
        let _ = writeln!(text, "{line}");
    }
    if let Some(command) = export_command(incident, &items) {
        let _ = writeln!(text, "{}: {command}", w.evidence);
    }
    let _ = write!(text, "{}", (w.incident_ack)(incident));

    let short = sms(
        &format!(
            "payguard {} {}: {} {}",
            (w.severity)(f.severity),
            f.subject(),
            summary,
            support_line(support, language).map(|s| format!("· {s}")).unwrap_or_default()
        ),
        incident,
    );
    Message {
        id: id.to_owned(),
        alert_ids: items.iter().map(|(a, _)| a.id.clone()).collect(),
        severity: f.severity,
        html: html(&subject, &text),
        json: json!({
            "incident": incident,
            "update": update,
            "message_id": id,
            "severity": f.severity,
            "account": json_account.as_ref().map(|a| a.account.clone()),
            "source": json_account.map(|a| a.source),
            "title": subject,
            "alerts": json_alerts,
        }),
        subject,
        short,
        text,
    }
}

/// What `payguard notify-test` sends.
pub fn test_message(channel: &str, now: DateTime<Utc>, language: Language, support: &Support) -> Message {
    let w = words(language);
    let subject = w.test_subject.to_owned();
    let mut text = (w.test_body)(channel);
    if let Some(line) = support_line(support, language) {
        text.push_str("\n\n");
        text.push_str(&line);
    }
    let id = format!("test.{channel}.{}", now.timestamp_millis());
    Message {
        short: sms(&format!("payguard: {subject}"), "test"),
        html: html(&subject, &text),
        json: json!({ "test": true, "message_id": id, "channel": channel, "title": subject }),
        id,
        alert_ids: Vec::new(),
        severity: Severity::Info,
        subject,
        text,
    }
}

/// The subject and text that tell an alert stream's subscriber it fell `count` messages behind.
pub fn missed_words(count: u64, language: Language) -> (String, String) {
    let w = words(language);
    (w.missed_subject.to_owned(), (w.missed_text)(count))
}

/// The alert as a person may see it: the text of its finding that comes from outside (names, ids,
/// the currency, the platform's words, and the sentences built from them) escaped and clipped by
/// [`crate::text`]. The stored alert, and the JSON made from it, keep the original.
fn shown(alert: &Alert) -> Alert {
    let f = &alert.finding;
    let line = |s: &str| text::clipped(s, text::LINE).into_owned();
    let finding = Finding {
        account: AccountRef::new(line(&f.account.source), line(&f.account.account)),
        title: line(&f.title),
        detail: text::clipped(&f.detail, text::BLOCK).into_owned(),
        currency: line(&f.currency),
        payees: f.payees.iter().map(|p| line(p)).collect(),
        transaction_ids: f.transaction_ids.iter().map(|t| line(t)).collect(),
        about: f.about.as_deref().map(line),
        ..f.clone()
    };
    Alert { finding, ..alert.clone() }
}

/// An alert's facts as JSON: `kind`, `severity`, `account`, `title` first, then the rest. The same
/// shape `payguard once --json` prints. Values are exact; print it with [`crate::text::json`].
pub fn alert_json(alert: &Alert) -> Value {
    let f = &alert.finding;
    json!({
        "kind": f.kind,
        "severity": f.severity,
        "account": f.account.account,
        "source": f.account.source,
        "title": f.title,
        "detail": f.detail,
        "alert_id": alert.id,
        "state": alert.state,
        "currency": f.currency,
        "amount": f.amount,
        "balance": f.balance,
        "payees": f.payees,
        "transaction_ids": f.transaction_ids,
        "threshold": f.threshold,
        "cause": f.cause,
        "observed_at": f.observed_at,
        "first_fired": alert.first_fired,
        "incident": alert.incident,
    })
}

/// One alert of a message about several, as JSON: its own JSON, the event, and the id of the
/// message owed for it.
fn said_json(said: &Said<'_>) -> Value {
    let mut value = alert_json(said.alert);
    if let Value::Object(map) = &mut value {
        map.insert("event".into(), json!(said.event));
        map.insert("message_id".into(), json!(said.message_id));
    }
    value
}

fn body(alert: &Alert, event: NoticeEvent, language: Language, support: &Support) -> String {
    let w = words(language);
    let f = &alert.finding;
    let mut text = String::new();
    if event == NoticeEvent::Resolved {
        let _ = writeln!(text, "{}", w.resolved_note);
    }
    facts(&mut text, alert, language, "");
    if event != NoticeEvent::Resolved {
        let _ = writeln!(text, "{}: {}", w.what_to_do, advice(f.kind, language));
        if let Some(line) = support_line(support, language) {
            let _ = writeln!(text, "{line}");
        }
    }
    text.push_str(&reference(alert, language));
    text
}

/// Why it fired and its facts, one line each, each begun with `indent`.
fn facts(text: &mut String, alert: &Alert, language: Language, indent: &str) {
    let w = words(language);
    let f = &alert.finding;
    let _ = writeln!(text, "{indent}{}", why(f, language));
    if let Some(balance) = f.balance {
        let _ = writeln!(text, "{indent}{}: {balance} {}", w.balance, f.currency);
    }
    if !f.payees.is_empty() {
        let _ = writeln!(text, "{indent}{}: {}", w.payees, f.payees.join(", "));
    }
    if !f.transaction_ids.is_empty() {
        let _ = writeln!(text, "{indent}{}: {}", w.transactions, f.transaction_ids.join(", "));
    }
    if let Some(t) = &f.threshold {
        let _ = writeln!(text, "{indent}{}: {} = {}", w.fired_by, t.key, t.value);
    } else if let Some(cause) = f.cause {
        let _ = writeln!(text, "{indent}{}: {}", w.fired_by, (w.cause)(cause));
    }
}

/// The alert's id, kind, severity and time: how a person names it to `payguard ack`.
fn reference(alert: &Alert, language: Language) -> String {
    let w = words(language);
    let f = &alert.finding;
    format!(
        "{} {} · {} · {} · {}",
        w.alert,
        alert.id,
        f.kind,
        (w.severity)(f.severity),
        match language {
            Language::En => crate::text::time_to_the_second(f.observed_at, f.zone.0),
            Language::ZhCn => f.zone.second_zh(f.observed_at),
        }
    )
}

/// The `payguard export` that gathers the evidence of an account's incident: from the day before
/// its oldest alert fired (what the detectors compared it with) until now. `None` for a source's
/// own findings, which no account's export holds.
fn export_command(incident: &str, items: &[(Alert, NoticeEvent)]) -> Option<String> {
    let oldest = items.iter().map(|(a, _)| a.first_fired).min()?;
    let account = &items.first()?.0.finding.account;
    if account.account.is_empty() {
        return None;
    }
    let since = (oldest - chrono::TimeDelta::days(1)).format("%Y-%m-%d");
    Some(format!(
        "payguard export --account {} --source {} --since {since} --out payguard-{incident}",
        shell_word(&account.account),
        shell_word(&account.source)
    ))
}

/// `word` as one shell word: as it is when it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@/+".contains(c));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

/// The one-line summary of a finding: the detector's title, or the kind's words for it.
fn headline(f: &Finding, language: Language) -> String {
    match language {
        Language::En => f.title.clone(),
        Language::ZhCn => (f.kind.zh_cn().headline)(f),
    }
}

/// Why it fired, in a sentence: the detector's detail, or the kind's words for it.
fn why(f: &Finding, language: Language) -> String {
    match language {
        Language::En => f.detail.clone(),
        Language::ZhCn => (f.kind.zh_cn().why)(f),
    }
}

/// The first steps for each kind of trouble.
pub fn advice(kind: FindingKind, language: Language) -> &'static str {
    match language {
        Language::En => kind.advice_en(),
        Language::ZhCn => kind.zh_cn().advice,
    }
}

fn support_line(support: &Support, language: Language) -> Option<String> {
    let platform = support.platform.as_deref();
    let line = match (language, platform, support.phone.as_deref()) {
        (_, _, None) if support.url.is_none() => return None,
        (Language::En, Some(p), Some(phone)) => format!("{p} support: {phone}"),
        (Language::En, None, Some(phone)) => format!("Support: {phone}"),
        (Language::ZhCn, Some(p), Some(phone)) => format!("{p}客服电话：{phone}"),
        (Language::ZhCn, None, Some(phone)) => format!("客服电话：{phone}"),
        (_, _, None) => String::new(),
    };
    let url = support
        .url
        .as_deref()
        .map(|u| if line.is_empty() { u.to_owned() } else { format!(" · {u}") })
        .unwrap_or_default();
    Some(format!("{line}{url}"))
}

/// Shortens `text` to one SMS, keeping the alert reference at the end.
fn sms(text: &str, reference: &str) -> String {
    let tail = format!(" #{reference}");
    let ascii = text.is_ascii() && tail.is_ascii();
    let limit: usize = if ascii { 160 } else { 70 };
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let room = limit.saturating_sub(tail.chars().count());
    if text.chars().count() <= room {
        return format!("{text}{tail}");
    }
    let cut: String = text.chars().take(room.saturating_sub(1)).collect();
    format!("{}…{tail}", cut.trim_end())
}

fn html(subject: &str, text: &str) -> String {
    let lines: Vec<String> = text.lines().map(|l| format!("<p>{}</p>", text::html(l))).collect();
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2>{}</body></html>",
        text::html(subject),
        lines.join("")
    )
}

struct Words {
    event: fn(NoticeEvent) -> &'static str,
    severity: fn(Severity) -> &'static str,
    balance: &'static str,
    payees: &'static str,
    transactions: &'static str,
    fired_by: &'static str,
    cause: fn(Cause) -> &'static str,
    what_to_do: &'static str,
    alert: &'static str,
    resolved_note: &'static str,
    digest_subject: fn(usize) -> String,
    digest_intro: fn(usize) -> String,
    more: fn(usize) -> String,
    update: fn(&str, usize) -> String,
    incident_intro: fn(&str, usize, bool, &str) -> String,
    incident_ack: fn(&str) -> String,
    evidence: &'static str,
    test_subject: &'static str,
    test_body: fn(&str) -> String,
    missed_subject: &'static str,
    missed_text: fn(u64) -> String,
}

fn words(language: Language) -> &'static Words {
    match language {
        Language::En => &EN,
        Language::ZhCn => &ZH_CN,
    }
}

static EN: Words = Words {
    event: |e| match e {
        NoticeEvent::Firing => "",
        NoticeEvent::Repeat => "Still firing: ",
        NoticeEvent::Resolved => "Resolved: ",
    },
    severity: |s| match s {
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    },
    balance: "Balance now",
    payees: "Payees",
    transactions: "Transactions",
    fired_by: "Fired by",
    cause: |c| match c {
        Cause::CredentialsRefused => "the platform refused the credentials",
        Cause::ConsentEnded => "the platform said access to the accounts has ended",
    },
    what_to_do: "What to do",
    alert: "Alert",
    resolved_note: "This problem has cleared.",
    digest_subject: |n| format!("{n} alerts (folded into one message: the channel's hourly limit was reached)"),
    digest_intro: |n| format!("{n} alerts were folded into this message so the channel stays within its hourly limit:"),
    more: |n| if n == 0 { String::new() } else { format!(", +{n} more") },
    update: |incident, n| format!("update of incident {incident}: +{n} finding{}", if n == 1 { "" } else { "s" }),
    incident_intro: |incident, n, update, subject| match update {
        false => format!("Incident {incident}: {n} findings on {subject}, most severe first."),
        true => {
            format!("Update of incident {incident}: {n} more on {subject} since the last message, most severe first.")
        }
    },
    incident_ack: |incident| format!("Incident {incident}: `payguard ack {incident}` acknowledges all of it."),
    evidence: "Evidence",
    test_subject: "payguard test message",
    test_body: |channel| {
        format!("This is a test of the channel \"{channel}\". If you can read it, payguard can reach you here.")
    },
    missed_subject: "payguard: alerts were missed",
    missed_text: |n| {
        format!(
            "{n} payguard message(s) were missed while this alert stream fell behind: `payguard alerts` lists what is firing"
        )
    },
};

static ZH_CN: Words = Words {
    event: |e| match e {
        NoticeEvent::Firing => "",
        NoticeEvent::Repeat => "仍在持续：",
        NoticeEvent::Resolved => "已解除：",
    },
    severity: |s| match s {
        Severity::Info => "提示",
        Severity::Warning => "警告",
        Severity::Critical => "严重",
    },
    balance: "当前余额",
    payees: "收款方",
    transactions: "交易编号",
    fired_by: "触发条件",
    cause: |c| match c {
        Cause::CredentialsRefused => "平台拒绝了凭证",
        Cause::ConsentEnded => "平台表示账户访问授权已结束",
    },
    what_to_do: "建议操作",
    alert: "警报",
    resolved_note: "该问题已解除。",
    digest_subject: |n| format!("{n} 条警报（已达到该渠道每小时的发送上限，合并为一条消息）"),
    digest_intro: |n| format!("为不超过该渠道每小时的发送上限，以下 {n} 条警报合并为一条消息："),
    more: |n| if n == 0 { String::new() } else { format!("，另有 {n} 项") },
    update: |incident, n| format!("事件 {incident} 更新：新增 {n} 项发现"),
    incident_intro: |incident, n, update, subject| match update {
        false => format!("事件 {incident}：{subject} 共 {n} 项发现，按严重程度排列。"),
        true => format!("事件 {incident} 更新：自上一条消息以来 {subject} 新增 {n} 项发现，按严重程度排列。"),
    },
    incident_ack: |incident| format!("事件 {incident}：运行 `payguard ack {incident}` 可确认其中全部警报。"),
    evidence: "留存证据",
    test_subject: "payguard 测试消息",
    test_body: |channel| {
        format!("这是对渠道“{channel}”的测试。如果您能看到这条消息，说明 payguard 可以通过它联系到您。")
    },
    missed_subject: "payguard：有警报未能显示",
    missed_text: |n| {
        format!("警报流处理不及，有 {n} 条 payguard 消息未能显示：运行 `payguard alerts` 查看正在触发的警报")
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::fixtures::alert;

    fn support() -> Support {
        Support { platform: Some("Tiantian Pay".into()), phone: Some("+86 400 000 0000".into()), url: None }
    }

    #[test]
    fn every_message_carries_the_alert_id_and_the_support_line() {
        for language in [Language::En, Language::ZhCn] {
            for event in [NoticeEvent::Firing, NoticeEvent::Repeat] {
                let m = alert_message("m1", &alert("a1b2c3"), event, language, &support());
                assert!(m.text.contains("a1b2c3"), "{language:?}: {}", m.text);
                assert!(m.text.contains("+86 400 000 0000"), "{language:?}: {}", m.text);
                assert!(m.short.ends_with("#a1b2c3"), "{}", m.short);
                assert!(m.html.contains("a1b2c3"));
                assert_eq!(m.json["alert_id"], "a1b2c3");
            }
        }
    }

    #[test]
    fn both_languages_cover_every_kind() {
        use FindingKind::*;
        for kind in [BalanceDrop, LowBalance, LargeDebit, NewPayee, Velocity, DuplicateCharge] {
            let mut a = alert("x");
            a.finding.kind = kind;
            let en = alert_message("m", &a, NoticeEvent::Firing, Language::En, &support());
            let zh = alert_message("m", &a, NoticeEvent::Firing, Language::ZhCn, &support());
            assert_ne!(advice(kind, Language::En), advice(kind, Language::ZhCn));
            assert!(zh.text.contains(advice(kind, Language::ZhCn)) && en.text.contains(advice(kind, Language::En)));
            assert!(!zh.subject.is_empty() && zh.subject != en.subject, "{kind}");
        }
    }

    /// The alert of a source that refused the credentials, as `detect::source_down` makes it.
    fn refused_alert(error: &crate::source::SourceError) -> Alert {
        let health = crate::model::SourceHealth {
            consecutive_failures: 1,
            auth_refused: true,
            last_error: Some(error.to_string()),
            ..crate::model::SourceHealth::default()
        };
        let now = crate::detect::fixtures::now();
        let finding = crate::detect::source_down("bank", &health, 3, false, crate::model::Zone::default(), now)
            .expect("refused credentials fire");
        Alert { id: "a1".into(), ..Alert::firing(finding, now) }
    }

    fn refused(error: &crate::source::SourceError, language: Language) -> Message {
        alert_message("m", &refused_alert(error), NoticeEvent::Firing, language, &Support::default())
    }

    /// A script reading the JSON learns what fired a finding no threshold did.
    #[test]
    fn the_json_says_what_fired_a_finding_without_a_threshold() {
        let error = crate::source::SourceError::Auth { host: "bank.example".into(), status: 403 };
        let json = alert_json(&refused_alert(&error));
        assert_eq!(
            (json["cause"].as_str(), json["threshold"].is_null()),
            (Some("credentials_refused"), true),
            "{json}"
        );
        assert!(alert_json(&alert("abcdef012345"))["cause"].is_null());
    }

    #[test]
    fn refused_credentials_say_what_fired_them_and_their_warning_once() {
        use crate::source::SourceError;
        let http = SourceError::Auth { host: "bank.example".into(), status: 403 };
        let platform = SourceError::Platform("gen.auth: Authentication failed".into());
        for (error, said) in [(http, "bank.example refused the credentials (HTTP 403)"), (platform, "gen.auth")] {
            let en = refused(&error, Language::En).text;
            assert_eq!(en.matches("someone else may have").count(), 1, "{en}");
            assert!(en.contains(said), "{en}");
            assert!(en.contains("\nFired by: the platform refused the credentials\n"), "{en}");
            assert!(!en.contains("down_after"), "they fire at once, not after down_after polls: {en}");
            let zh = refused(&error, Language::ZhCn);
            assert!(zh.subject.contains("bank 拒绝了 payguard 的凭证"), "{}", zh.subject);
            assert!(zh.text.contains("\n触发条件: 平台拒绝了凭证\n"), "{}", zh.text);
            assert!(!zh.text.contains("down_after") && !zh.text.contains("连续多次"), "{}", zh.text);
        }
    }

    #[test]
    fn sms_fits_one_message() {
        let mut a = alert("abcdef012345");
        a.finding.title = "x".repeat(400);
        let en = alert_message("m", &a, NoticeEvent::Firing, Language::En, &support());
        assert!(en.short.chars().count() <= 160, "{}", en.short.chars().count());
        let zh = alert_message("m", &a, NoticeEvent::Firing, Language::ZhCn, &support());
        assert!(zh.short.chars().count() <= 70, "{}", zh.short);
        assert!(zh.short.ends_with("#abcdef012345"));
    }

    #[test]
    fn text_from_outside_is_shown_escaped_and_clipped_but_json_keeps_it() {
        let hostile = format!("\u{1b}[2J\u{1b}[H\u{1b}[32mALL CLEAR \u{202e}oC drolnaL{}", "x".repeat(1 << 16));
        let mut a = alert("x");
        a.finding.title = format!("Large payment of 1600.00 USD to {hostile}");
        a.finding.detail = hostile.clone();
        a.finding.payees = vec![hostile.clone()];
        a.finding.about = Some(hostile.clone());
        for language in [Language::En, Language::ZhCn] {
            let one = alert_message("m", &a, NoticeEvent::Firing, language, &support());
            let digest = digest_message(
                "d",
                &[Said { alert: &a, event: NoticeEvent::Firing, message_id: "m" }],
                language,
                &support(),
            );
            for m in [&one, &digest] {
                // The text's own lines are the only line breaks.
                for shown in [&m.subject, &m.text, &m.html, &m.short] {
                    let hidden = shown.chars().any(|c| c != '\n' && text::is_hidden(c));
                    assert!(!hidden, "{language:?}: {}", text::clipped(shown, 200));
                    assert!(shown.len() < 16 * 1024, "{language:?}: {} bytes", shown.len());
                }
            }
            assert!(one.subject.chars().count() <= text::LINE, "{}", one.subject);
            assert!(one.text.contains("\\u{1b}[2J") && one.text.contains("\\u{202e}oC drolnaL"), "{}", one.text);
            assert_eq!(one.json["payees"][0].as_str(), Some(hostile.as_str()));
        }
    }

    #[test]
    fn html_is_escaped() {
        let mut a = alert("x");
        a.finding.detail = "<script>alert(1)</script> & co".into();
        a.finding.title = "O'Brien <b>".into();
        let m = alert_message("m", &a, NoticeEvent::Firing, Language::En, &support());
        assert!(!m.html.contains("<script>") && m.html.contains("&lt;script&gt;"));
        assert!(!m.html.contains("O'Brien") && m.html.contains("O&#39;Brien &lt;b&gt;"), "{}", m.html);
    }

    /// A theft's findings on one account, in one incident.
    fn theft() -> Vec<Alert> {
        use FindingKind::*;
        [(LowBalance, "l1"), (BalanceDrop, "d1"), (NewPayee, "p1"), (Velocity, "v1")]
            .into_iter()
            .map(|(kind, id)| {
                let mut a = alert(id);
                a.finding.kind = kind;
                a.finding.severity = kind.default_severity();
                a.finding.account = AccountRef::new("sim-bank", "ACT-A");
                a.finding.title = format!("title of {id}");
                a.finding.detail = format!("detail of {id}");
                a.incident = Some("i-0123456789".into());
                a
            })
            .collect()
    }

    /// The id of the message owed for each alert: `m-` and its id.
    fn message_ids(alerts: &[Alert]) -> Vec<String> {
        alerts.iter().map(|a| format!("m-{}", a.id)).collect()
    }

    /// Each alert firing, with its message id.
    fn firing<'a>(alerts: &'a [Alert], ids: &'a [String]) -> Vec<Said<'a>> {
        let said = |(alert, id): (&'a Alert, &'a String)| Said { alert, event: NoticeEvent::Firing, message_id: id };
        alerts.iter().zip(ids).map(said).collect()
    }

    #[test]
    fn an_incident_is_one_message_naming_every_finding_most_severe_first() {
        let alerts = theft();
        let ids = message_ids(&alerts);
        let items = firing(&alerts, &ids);
        for language in [Language::En, Language::ZhCn] {
            let m = incident_message("m", "i-0123456789", &items, false, language, &support());
            assert_eq!(m.alert_ids.len(), 4);
            assert_eq!(m.severity, Severity::Critical);
            assert!(m.subject.contains("ACT-A"), "{}", m.subject);
            assert!(m.short.ends_with("#i-0123456789") && m.short.chars().count() <= 160, "{}", m.short);
            for a in &alerts {
                assert!(m.text.contains(&a.id) && m.html.contains(&a.id), "{language:?} names {}: {}", a.id, m.text);
            }
            for kind in
                [FindingKind::BalanceDrop, FindingKind::LowBalance, FindingKind::NewPayee, FindingKind::Velocity]
            {
                assert_eq!(m.text.matches(advice(kind, language)).count(), 1, "each advice once: {}", m.text);
            }
            assert_eq!(m.text.matches("+86 400 000 0000").count(), 1, "{}", m.text);
            assert!(m.text.contains("payguard export --account ACT-A --source sim-bank --since "), "{}", m.text);
            assert!(m.text.contains("payguard ack i-0123456789"), "{}", m.text);
            assert_eq!(m.json["incident"], "i-0123456789");
            assert_eq!(m.json["alerts"].as_array().map(Vec::len), Some(4));
            for a in m.json["alerts"].as_array().into_iter().flatten() {
                assert_eq!(a["incident"], "i-0123456789");
                assert_eq!(a["message_id"].as_str(), a["alert_id"].as_str().map(|id| format!("m-{id}")).as_deref());
            }
        }
        let en = incident_message("m", "i-0123456789", &items, false, Language::En, &support());
        // balance_drop and velocity are critical; the drop fired first among them.
        assert!(en.subject.starts_with("[CRITICAL] ACT-A: title of d1, +3 more"), "{}", en.subject);
        let order: Vec<usize> =
            ["d1", "v1", "l1", "p1"].iter().filter_map(|id| en.text.find(&format!("Alert {id} "))).collect();
        assert!(order.len() == 4 && order.is_sorted(), "most severe first: {}", en.text);
        let what = en.text.find("What to do:").unwrap_or_default();
        let step = |kind| en.text[what..].find(advice(kind, Language::En));
        assert!(step(FindingKind::BalanceDrop) < step(FindingKind::LowBalance), "{}", en.text);
    }

    #[test]
    fn a_single_alert_opening_its_incident_reads_as_it_always_did_and_an_update_says_so() {
        let alerts = theft();
        let one = [Said { alert: &alerts[0], event: NoticeEvent::Firing, message_id: "m" }];
        let alone = incident_message("m", "i-0123456789", &one, false, Language::En, &support());
        let mut plain = alert_message("m", &alerts[0], NoticeEvent::Firing, Language::En, &support());
        assert_eq!(alone, plain);
        plain.json["incident"] = serde_json::Value::Null;
        assert_ne!(alone.json, plain.json, "its JSON carries the incident");
        let update = incident_message("m", "i-0123456789", &one, true, Language::En, &support());
        assert!(update.subject.contains("update of incident i-0123456789: +1 finding"), "{}", update.subject);
        let two = [one[0], Said { alert: &alerts[2], event: NoticeEvent::Repeat, message_id: "m2" }];
        let update = incident_message("m", "i-0123456789", &two, true, Language::En, &support());
        assert!(update.subject.contains("update of incident i-0123456789: +2 findings"), "{}", update.subject);
    }

    #[test]
    fn an_incident_of_hostile_text_is_escaped_and_an_odd_account_is_quoted_for_the_shell() {
        let mut alerts = theft();
        for a in &mut alerts {
            a.finding.account = AccountRef::new("bank", "ACT 1'; rm -rf ~ \u{1b}[2J");
            a.finding.title = "\u{202e}evil".into();
        }
        let ids = message_ids(&alerts);
        let items = firing(&alerts, &ids);
        let m = incident_message("m", "i-0123456789", &items, false, Language::En, &support());
        for shown in [&m.subject, &m.text, &m.html, &m.short] {
            assert!(!shown.chars().any(|c| c != '\n' && text::is_hidden(c)), "{shown}");
        }
        assert!(m.text.contains("--account 'ACT 1'\\''; rm -rf ~ \\u{1b}[2J'"), "{}", m.text);
    }
}
