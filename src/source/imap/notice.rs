//! One notification mail read against the rules: its headers, its decoded text (HTML as text)
//! and what the first matching rule's pattern found in it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use mail_parser::{Message, MessageParser};
use rust_decimal::Decimal;

use super::settings::MailRule;
use crate::model::short_hash;

/// The headers a rule's conditions look at.
#[derive(Debug, Default, Clone)]
pub struct Headers {
    pub from: String,
    pub subject: String,
    pub date: Option<DateTime<FixedOffset>>,
    pub message_id: Option<String>,
}

impl Headers {
    /// Headers as `BODY.PEEK[HEADER.FIELDS …]` returns them, decoded (RFC 2047 words included).
    pub fn parse(raw: &[u8]) -> Headers {
        MessageParser::default().parse_headers(raw).map(|m| Headers::of(&m)).unwrap_or_default()
    }

    fn of(message: &Message<'_>) -> Headers {
        let from = message
            .from()
            .map(|from| {
                from.iter()
                    .map(|a| match (a.name(), a.address()) {
                        (Some(name), Some(address)) => format!("{name} <{address}>"),
                        (name, address) => name.or(address).unwrap_or_default().to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let date = message.date().and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok());
        Headers {
            from,
            subject: message.subject().unwrap_or_default().to_owned(),
            date,
            message_id: message.message_id().filter(|id| !id.trim().is_empty()).map(str::to_owned),
        }
    }
}

/// Whether `rule`'s sender and subject conditions hold for these headers: a mail no rule could
/// match by its headers is never fetched whole.
pub fn headers_match(rule: &MailRule, headers: &Headers) -> bool {
    let holds = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| have.to_lowercase().contains(w));
    holds(&rule.from, &headers.from) && holds(&rule.subject, &headers.subject)
}

/// A whole mail, parsed.
pub struct Mail {
    pub headers: Headers,
    /// The text body; an HTML-only mail's HTML converted to text.
    pub text: String,
    /// Stands for the mail when it has no Message-ID: a digest of its bytes.
    pub digest: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Option<Mail> {
        let message = MessageParser::default().parse(raw)?;
        let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
        let digest = short_hash(&String::from_utf8_lossy(raw));
        Some(Mail { headers: Headers::of(&message), text, digest })
    }

    /// The mail's transaction id: its Message-ID, else the digest of the mail.
    pub fn id(&self) -> String {
        match &self.headers.message_id {
            Some(id) => format!("mail:{id}"),
            None => format!("mail-digest:{}", self.digest),
        }
    }
}

/// What a rule's pattern read in a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The transaction's id: see [`Mail::id`].
    pub id: String,
    /// The rule's index in the source's list.
    pub rule: usize,
    pub account: String,
    /// Money in positive, out negative.
    pub amount: Decimal,
    pub currency: Option<String>,
    pub payee: String,
    /// The mail's subject.
    pub description: String,
    pub balance: Option<Decimal>,
    pub posted: DateTime<Utc>,
}

/// The first rule whose conditions and pattern match `mail`, and what it read; `Err` when a rule
/// matched but what it captured is not usable (an amount that is not a number).
pub fn read(rules: &[MailRule], mail: &Mail, now: DateTime<Utc>) -> Result<Option<Reading>, String> {
    for (i, rule) in rules.iter().enumerate() {
        if !headers_match(rule, &mail.headers) {
            continue;
        }
        let Some(found) = rule.pattern.captures(&mail.text) else { continue };
        let group = |name: &str| found.name(name).map(|m| m.as_str().trim()).filter(|t| !t.is_empty());
        let Some(written) = group("amount") else { continue };
        let amount =
            money(written).ok_or_else(|| format!("rule[{i}] read the amount {written:?}, which is not a number"))?;
        let balance = match group("balance") {
            Some(text) => {
                Some(money(text).ok_or_else(|| format!("rule[{i}] read the balance {text:?}, which is not a number"))?)
            }
            None => None,
        };
        let amount = match group("direction") {
            Some(direction) if is_out(rule, direction) => -amount.abs(),
            Some(_) => amount.abs(),
            None => amount,
        };
        let offset = mail.headers.date.map_or(FixedOffset::east_opt(0), |d| Some(*d.offset()));
        let posted = group("time")
            .and_then(|t| offset.and_then(|o| local_time(t, o)))
            .or_else(|| mail.headers.date.map(|d| d.with_timezone(&Utc)))
            .unwrap_or(now);
        return Ok(Some(Reading {
            id: mail.id(),
            rule: i,
            account: group("account").map_or_else(|| rule.account.clone(), str::to_owned),
            amount,
            currency: group("currency").map(str::to_owned).or_else(|| rule.currency.clone()),
            payee: group("payee").unwrap_or_default().to_owned(),
            description: mail.headers.subject.clone(),
            balance,
            posted,
        }));
    }
    Ok(None)
}

fn is_out(rule: &MailRule, direction: &str) -> bool {
    let direction = direction.to_lowercase();
    rule.out_words.iter().any(|word| direction.contains(word.as_str()))
}

/// An amount as notices write it: a currency sign or spaces around it, thousands separators, and
/// a decimal comma where the last separator is a comma followed by one or two digits (`1.234,50`).
fn money(text: &str) -> Option<Decimal> {
    let negative = text.trim_start().starts_with(['-', '\u{2212}']);
    let kept: String = text.chars().filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',')).collect();
    let decimal_comma = kept.rfind(',').is_some_and(|at| {
        let after = &kept[at + 1..];
        kept.rfind('.').is_none_or(|dot| dot < at) && (1..=2).contains(&after.len())
    });
    let digits: String = kept
        .chars()
        .filter_map(|c| match c {
            ',' if decimal_comma => Some('.'),
            '.' if decimal_comma => None,
            ',' => None,
            c => Some(c),
        })
        .collect();
    let amount: Decimal = digits.parse().ok()?;
    Some(if negative { -amount } else { amount })
}

/// A time written in the notice, in the zone of the mail's Date.
fn local_time(text: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    const WITH_TIME: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y年%m月%d日 %H:%M:%S",
        "%Y年%m月%d日 %H:%M",
    ];
    const DATE_ONLY: [&str; 3] = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"];
    let naive = WITH_TIME.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok()).or_else(|| {
        DATE_ONLY.iter().find_map(|f| NaiveDate::parse_from_str(text, f).ok()).and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    offset.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str) -> MailRule {
        MailRule {
            account: "card".into(),
            from: Some("bank".into()),
            subject: None,
            pattern: regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{e}")),
            out_words: vec!["支出".into(), "debit".into()],
            currency: Some("CNY".into()),
        }
    }

    fn mail(from: &str, text: &str) -> Mail {
        Mail {
            headers: Headers {
                from: from.into(),
                subject: "notice".into(),
                date: None,
                message_id: Some("<a@b>".into()),
            },
            text: text.into(),
            digest: "d".into(),
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_rule_reads_the_amount_signed_by_its_direction() {
        let rules = [rule(
            r"(?P<direction>支出|收入)人民币(?P<amount>[\d,.]+)元.*商户：(?P<payee>[^，]+)，余额(?P<balance>[\d,.]+)",
        )];
        let text = "您尾号1234的卡于2026-11-30 10:00支出人民币1,234.50元，商户：某某商店，余额8,000.00元";
        let read = read(&rules, &mail("Bank <n@bank.cn>", text), at()).unwrap_or_else(|e| panic!("{e}"));
        let read = read.unwrap_or_else(|| panic!("no match"));
        assert_eq!((read.amount.to_string(), read.payee.as_str()), ("-1234.50".into(), "某某商店"));
        assert_eq!(read.balance.map(|b| b.to_string()), Some("8000.00".into()));
        assert_eq!(read.currency.as_deref(), Some("CNY"));
    }

    #[test]
    fn the_sender_condition_and_a_bad_number_decide() {
        let rules = [rule(r"amount (?P<amount>\S+)")];
        assert_eq!(read(&rules, &mail("shop@example.com", "amount 5"), at()), Ok(None), "the sender is not the bank's");
        let error = read(&rules, &mail("bank", "amount ..."), at()).err().unwrap_or_default();
        assert!(error.contains("not a number"), "{error}");
    }

    #[test]
    fn amounts_are_read_as_notices_write_them() {
        let cases = [
            ("1,234.50", Some("1234.50")),
            ("1.234,50", Some("1234.50")),
            ("12,5", Some("12.5")),
            ("1,234", Some("1234")),
            ("¥ 88.00", Some("88.00")),
            ("-42.10 USD", Some("-42.10")),
            ("2026-11-30", Some("20261130")),
            ("1.2.3", None),
            ("abc", None),
        ];
        for (text, expected) in cases {
            assert_eq!(money(text).map(|m| m.to_string()).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn a_written_time_is_read_in_the_zone_of_the_mail() {
        let offset = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| panic!("offset"));
        let read = local_time("2026年11月30日 10:00", offset).map(|t| t.to_rfc3339());
        assert_eq!(read.as_deref(), Some("2026-11-30T02:00:00+00:00"));
    }
}
