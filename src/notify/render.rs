//! The words of an alert, in English or Simplified Chinese: a subject, the facts, why it fired, what
//! to do next (with the platform's support line), and the alert id; plus an HTML form for e-mail, a
//! one-message SMS form, and JSON for webhooks.
//!
//! Text is composed from the finding's facts, not from the detector's English sentences, so both
//! languages say the same things.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::alert::{Alert, NoticeEvent};
use crate::config::{Language, Support};
use crate::model::{AccountRef, Finding, FindingKind, Severity};
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
pub fn digest_message(id: &str, items: &[(&Alert, NoticeEvent)], language: Language, support: &Support) -> Message {
    let w = words(language);
    let severity = items.iter().map(|(a, _)| a.finding.severity).max().unwrap_or(Severity::Info);
    let subject = (w.digest_subject)(items.len());
    let mut text = String::new();
    let _ = writeln!(text, "{}", (w.digest_intro)(items.len()));
    for (alert, event) in items {
        let alert = &shown(alert);
        let f = &alert.finding;
        let _ = writeln!(
            text,
            "- [{}] {}{} · {} ({} {})",
            (w.severity)(f.severity),
            (w.event)(*event),
            f.subject(),
            headline(f, language),
            w.alert,
            alert.id
        );
    }
    if let Some(line) = support_line(support, language) {
        let _ = writeln!(text, "\n{line}");
    }
    let ids: Vec<String> = items.iter().map(|(a, _)| a.id.clone()).collect();
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
        json: json!({ "digest": true, "message_id": id, "alerts": items.iter().map(|(a, e)| {
            let mut v = alert_json(a);
            if let Value::Object(map) = &mut v { map.insert("event".into(), json!(e)); }
            v
        }).collect::<Vec<_>>() }),
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
        "observed_at": f.observed_at,
        "first_fired": alert.first_fired,
    })
}

fn body(alert: &Alert, event: NoticeEvent, language: Language, support: &Support) -> String {
    let w = words(language);
    let f = &alert.finding;
    let mut text = String::new();
    if event == NoticeEvent::Resolved {
        let _ = writeln!(text, "{}", w.resolved_note);
    }
    let _ = writeln!(text, "{}", why(f, language));
    if let Some(balance) = f.balance {
        let _ = writeln!(text, "{}: {balance} {}", w.balance, f.currency);
    }
    if !f.payees.is_empty() {
        let _ = writeln!(text, "{}: {}", w.payees, f.payees.join(", "));
    }
    if !f.transaction_ids.is_empty() {
        let _ = writeln!(text, "{}: {}", w.transactions, f.transaction_ids.join(", "));
    }
    if let Some(t) = &f.threshold {
        let _ = writeln!(text, "{}: {} = {}", w.fired_by, t.key, t.value);
    }
    if event != NoticeEvent::Resolved {
        let _ = writeln!(text, "{}: {}", w.what_to_do, advice(f.kind, language));
        if let Some(line) = support_line(support, language) {
            let _ = writeln!(text, "{line}");
        }
    }
    let _ = write!(
        text,
        "{} {} · {} · {} · {}",
        w.alert,
        alert.id,
        f.kind,
        (w.severity)(f.severity),
        f.observed_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    text
}

/// The one-line summary of a finding.
fn headline(f: &Finding, language: Language) -> String {
    if language == Language::En {
        return f.title.clone();
    }
    let amount = f.amount.map(|a| format!("{a} {}", f.currency)).unwrap_or_default();
    let payee = f.payees.first().cloned().unwrap_or_default();
    match f.kind {
        FindingKind::BalanceDrop => format!("余额下降 {amount}"),
        FindingKind::LowBalance => format!("余额 {} {} 低于下限", f.balance.unwrap_or_default(), f.currency),
        FindingKind::LargeDebit => format!("大额支出 {amount}，收款方：{payee}"),
        FindingKind::NewPayee => format!("向新收款方 {payee} 支付 {amount}"),
        FindingKind::Velocity => format!("短时间内 {} 笔支出，共 {amount}", f.transaction_ids.len()),
        FindingKind::DuplicateCharge => format!("疑似重复扣款：{payee} 两次扣除 {amount}"),
        FindingKind::UnexplainedChange => format!("余额变动与交易记录不符，差额 {amount}"),
        FindingKind::StuckPending => format!("一笔 {amount} 的待处理支出长时间未完成，收款方：{payee}"),
        FindingKind::AccountStatus => format!("账户状态：{}", status_zh(f.about.as_deref())),
        FindingKind::CardExpiry => format!("关联银行卡将于 {} 到期", date(f.when)),
        FindingKind::SourceDown => format!("无法获取 {} 的账户数据", f.account.source),
        FindingKind::Maintenance => format!("平台维护：{}", f.about.clone().unwrap_or_default()),
        FindingKind::Incident => format!("平台故障：{}", f.about.clone().unwrap_or_default()),
        FindingKind::BudgetExhausted => {
            format!("{} 今日请求额度已用完，暂停查询至 {}", f.account.source, minute(f.when))
        }
        FindingKind::StoreFailing => "payguard 无法写入数据库".to_owned(),
    }
}

fn date(when: Option<DateTime<Utc>>) -> String {
    when.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn minute(when: Option<DateTime<Utc>>) -> String {
    when.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

fn status_zh(status: Option<&str>) -> &'static str {
    match status {
        Some("frozen") => "已冻结",
        Some("closed") => "已关闭",
        Some("active") => "正常",
        _ => "未知",
    }
}

/// Why it fired, in a sentence.
fn why(f: &Finding, language: Language) -> String {
    if language == Language::En {
        return f.detail.clone();
    }
    let threshold = f.threshold.as_ref().map(|t| format!("（触发条件 {} = {}）", t.key, t.value)).unwrap_or_default();
    let amount = f.amount.map(|a| format!("{a} {}", f.currency)).unwrap_or_default();
    match f.kind {
        FindingKind::BalanceDrop => format!("账户余额在设定的时间窗口内下降了 {amount}{threshold}。"),
        FindingKind::LowBalance => format!("账户余额低于您设定的下限{threshold}。"),
        FindingKind::LargeDebit => format!("一笔 {amount} 的支出达到或超过了您设定的大额标准{threshold}。"),
        FindingKind::NewPayee => format!("共 {amount} 转给了此前从未交易过的收款方。"),
        FindingKind::Velocity => {
            format!("短时间内出现 {} 笔支出，共 {amount}，超过了您设定的频率限制{threshold}。", f.transaction_ids.len())
        }
        FindingKind::DuplicateCharge => format!("同一收款方在短时间内两次扣除相同金额 {amount}。"),
        FindingKind::UnexplainedChange => {
            format!(
                "两次查询之间的余额变动与期间入账的交易合计相差 {amount}{threshold}：有资金变动没有对应的交易记录。"
            )
        }
        FindingKind::StuckPending => format!("这笔支出一直处于待处理状态，既未入账也未退回{threshold}。"),
        FindingKind::AccountStatus => format!("平台报告该账户{}，可能无法正常收付款。", status_zh(f.about.as_deref())),
        FindingKind::CardExpiry => format!("账户关联的银行卡将于 {} 到期{threshold}。", date(f.when)),
        FindingKind::SourceDown => {
            format!("连续多次无法从 {} 获取数据{threshold}；在恢复之前，payguard 无法发现异常。", f.account.source)
        }
        FindingKind::Maintenance => {
            let when = f.when.map(|t| format!("，开始时间 {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
            format!("平台发布了维护通知{when}。维护期间付款和查询可能失败。")
        }
        FindingKind::Incident => "平台报告了一起尚未解决的故障，付款和到账可能受到影响。".to_owned(),
        FindingKind::BudgetExhausted => format!(
            "过去 24 小时内对 {} 的请求已达上限{threshold}；查询计划要求更多，因此在 {} 之前跳过查询，期间无法发现异常。",
            f.account.source,
            minute(f.when)
        ),
        FindingKind::StoreFailing => format!(
            "自 {} 起 payguard 无法写入数据库：{}。在恢复之前，查询结果不会保存，所有账户都无法监控；写入恢复后会自动继续。",
            minute(f.when),
            f.about.clone().unwrap_or_default()
        ),
    }
}

/// The first steps for each kind of trouble.
pub fn advice(kind: FindingKind, language: Language) -> &'static str {
    match (language, kind) {
        (Language::En, FindingKind::BalanceDrop | FindingKind::Velocity | FindingKind::NewPayee) => {
            "if you do not recognise these payments, call your platform's support now and ask them to freeze the account; change your password and turn on two-factor login; keep these records as evidence, and report to the police once theft is confirmed."
        }
        (Language::En, FindingKind::LargeDebit) => {
            "if you did not make this payment, call your platform's support and dispute it; change your password."
        }
        (Language::En, FindingKind::DuplicateCharge) => {
            "ask the merchant to refund the second charge; if they refuse, dispute it with your platform or bank."
        }
        (Language::En, FindingKind::LowBalance) => "top up the account before payments bounce.",
        (Language::ZhCn, FindingKind::BalanceDrop | FindingKind::Velocity | FindingKind::NewPayee) => {
            "如果这些支出不是您本人所为，请立即致电平台客服冻结账户；修改密码并开启两步验证；保留这些记录作为证据，确认被盗后向警方报案。"
        }
        (Language::ZhCn, FindingKind::LargeDebit) => {
            "如果这笔支出不是您本人所为，请致电平台客服申请争议处理，并修改密码。"
        }
        (Language::ZhCn, FindingKind::DuplicateCharge) => {
            "请联系商户退还重复扣除的款项；如商户拒绝，请向平台或银行提出争议。"
        }
        (Language::ZhCn, FindingKind::LowBalance) => "请及时充值，以免后续付款失败。",
        (Language::En, FindingKind::UnexplainedChange) => {
            "money moved without a record: check the account's statement on the platform itself and call support if you cannot explain it; keep these records as evidence."
        }
        (Language::ZhCn, FindingKind::UnexplainedChange) => {
            "有资金变动没有对应的交易记录：请在平台上核对账单，如无法解释请联系客服；保留这些记录作为证据。"
        }
        (Language::En, FindingKind::StuckPending) => {
            "the payment may have failed with the money held: ask the merchant whether it went through, then ask the platform to release or refund it."
        }
        (Language::ZhCn, FindingKind::StuckPending) => {
            "付款可能失败但资金被冻结：请向商户确认是否成功，再请平台解冻或退款。"
        }
        (Language::En, FindingKind::AccountStatus) => {
            "call your platform's support to ask why; if you did not expect this, someone may have reported or taken over the account."
        }
        (Language::ZhCn, FindingKind::AccountStatus) => {
            "请致电平台客服询问原因；如果并非您预期的操作，账户可能已被他人举报或盗用。"
        }
        (Language::En, FindingKind::CardExpiry) => {
            "order the new card and update it on the platform before payments start to fail."
        }
        (Language::ZhCn, FindingKind::CardExpiry) => "请尽快办理新卡并在平台上更新，以免付款失败。",
        (Language::En, FindingKind::SourceDown) => {
            "payguard cannot watch this account until it answers again: check the platform's status page; if the credentials were refused and you did not change them, change your password now."
        }
        (Language::ZhCn, FindingKind::SourceDown) => {
            "在恢复之前 payguard 无法监控该账户：请查看平台状态页；如果凭证被拒绝而您并未修改过，请立即修改密码。"
        }
        (Language::En, FindingKind::Maintenance) => {
            "plan payments around the window: payments and logins may fail while it lasts."
        }
        (Language::ZhCn, FindingKind::Maintenance) => "请避开维护时段安排付款：维护期间付款和登录可能失败。",
        (Language::En, FindingKind::Incident) => {
            "payments may fail or arrive late until the platform resolves it; do not retry a payment twice without checking that the first did not go through."
        }
        (Language::ZhCn, FindingKind::Incident) => {
            "在平台解决之前，付款可能失败或延迟到账；重复付款前请先确认第一笔没有成功。"
        }
        (Language::En, FindingKind::BudgetExhausted) => {
            "poll less often (the schedule) or raise max_requests_per_day if the platform allows it; until the budget frees, check the account on the platform yourself."
        }
        (Language::ZhCn, FindingKind::BudgetExhausted) => {
            "请降低查询频率（schedule），或在平台允许时提高 max_requests_per_day；额度恢复之前，请自行在平台上查看账户。"
        }
        (Language::En, FindingKind::StoreFailing) => {
            "free space on the disk that holds payguard's state directory (or fix the disk); until then, check your accounts on the platforms yourself."
        }
        (Language::ZhCn, FindingKind::StoreFailing) => {
            "请释放 payguard 状态目录所在磁盘的空间（或修复磁盘）；在此之前，请自行在平台上查看账户。"
        }
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
    what_to_do: &'static str,
    alert: &'static str,
    resolved_note: &'static str,
    digest_subject: fn(usize) -> String,
    digest_intro: fn(usize) -> String,
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
    what_to_do: "What to do",
    alert: "Alert",
    resolved_note: "This problem has cleared.",
    digest_subject: |n| format!("{n} alerts (folded into one message: the channel's hourly limit was reached)"),
    digest_intro: |n| format!("{n} alerts were folded into this message so the channel stays within its hourly limit:"),
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
    what_to_do: "建议操作",
    alert: "警报",
    resolved_note: "该问题已解除。",
    digest_subject: |n| format!("{n} 条警报（已达到该渠道每小时的发送上限，合并为一条消息）"),
    digest_intro: |n| format!("为不超过该渠道每小时的发送上限，以下 {n} 条警报合并为一条消息："),
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
            let digest = digest_message("d", &[(&a, NoticeEvent::Firing)], language, &support());
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
}
