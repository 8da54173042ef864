//! `ofx`: Open Financial Exchange statements, OFX 1.x (SGML: leaf elements are not closed) and
//! 2.x (XML), and Quicken's QFX (OFX with an extra aggregate).
//!
//! Read by a small tag scanner of our own rather than a crate: the statement needs a dozen
//! elements (`ACCTID`, `CURDEF`, each `STMTTRN`'s `FITID`, `DTPOSTED`, `TRNAMT`, `NAME`, `MEMO`,
//! and `LEDGERBAL`'s `BALAMT` and `DTASOF`), and one scanner reads both dialects, since an
//! element's value is the text after its start tag, closed or not. The young OFX crates each read
//! one dialect or hold the whole document as a tree.
//!
//! `TRNAMT` is signed (negative for money out); times are `YYYYMMDD[HHMMSS[.XXX]][[±H:TZ]]`, UTC
//! unless the bracket gives the offset.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::{Closing, Emit, Entry, FileError, Statement, decode, money};

/// One start tag with the text after it, or an end tag.
enum Token<'a> {
    Start { name: &'a str, value: String, line: usize },
    End { name: &'a str },
}

/// The elements of the document in order, each with its line.
fn tokens(text: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = text;
    let mut line = 1;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find('<')?;
            line += rest[..open].matches('\n').count();
            let close = open + rest[open..].find('>')?;
            let tag = &rest[open + 1..close];
            let after = &rest[close + 1..];
            let value_end = after.find('<').unwrap_or(after.len());
            let value = after[..value_end].trim();
            let here = line;
            line += rest[open..close + 1].matches('\n').count();
            rest = after;
            if let Some(name) = tag.strip_prefix('/') {
                return Some(Token::End { name: name.trim() });
            }
            // `<?xml …?>`, `<?OFX …?>` and comments carry nothing of the statement.
            if tag.starts_with(['?', '!']) {
                continue;
            }
            return Some(Token::Start { name: tag.trim(), value: unescape(value), line: here });
        }
    })
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The transaction being read, field by field.
#[derive(Default)]
struct Pending {
    line: usize,
    id: Option<String>,
    time: Option<DateTime<Utc>>,
    amount: Option<rust_decimal::Decimal>,
    name: String,
    memo: String,
}

pub fn read(bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
    let text = decode(bytes, encoding_rs::WINDOWS_1252);
    if !text.contains("<OFX>") {
        return Err(FileError::whole("no <OFX> element: is this an OFX, QFX or QBO file?"));
    }
    let mut statement = Statement::default();
    let mut transaction: Option<Pending> = None;
    let (mut in_ledger, mut balance, mut balance_at) = (false, None, None);
    for token in tokens(&text) {
        match token {
            Token::Start { name: "STMTTRN", line, .. } => transaction = Some(Pending { line, ..Pending::default() }),
            Token::End { name: "STMTTRN" } => {
                if let Some(t) = transaction.take() {
                    emit(entry(t)?)?;
                }
            }
            Token::Start { name: "LEDGERBAL", .. } => in_ledger = true,
            Token::End { name: "LEDGERBAL" } => in_ledger = false,
            Token::Start { name, value, line } => match (&mut transaction, name) {
                (Some(t), "FITID") => t.id = Some(value).filter(|v| !v.is_empty()),
                (Some(t), "DTPOSTED") => t.time = Some(time(&value, line)?),
                (Some(t), "TRNAMT") => t.amount = Some(money(&value, line)?),
                (Some(t), "NAME") => t.name = value,
                (Some(t), "MEMO") => t.memo = value,
                (None, "ACCTID") if statement.account.is_none() => statement.account = Some(value),
                (None, "CURDEF") if statement.currency.is_none() => statement.currency = Some(value),
                (None, "BALAMT") if in_ledger => balance = Some(money(&value, line)?),
                (None, "DTASOF") if in_ledger => balance_at = Some(time(&value, line)?),
                _ => {}
            },
            Token::End { .. } => {}
        }
    }
    if let Some(t) = transaction {
        return Err(FileError::at(t.line, "a <STMTTRN> is not closed: the file may be cut short"));
    }
    if let (Some(balance), Some(at)) = (balance, balance_at) {
        statement.closing = Some(Closing { balance, at });
    }
    Ok(statement)
}

fn entry(t: Pending) -> Result<Entry, FileError> {
    let (Some(time), Some(amount)) = (t.time, t.amount) else {
        return Err(FileError::at(t.line, "a <STMTTRN> without DTPOSTED or TRNAMT"));
    };
    Ok(Entry {
        line: t.line,
        id: t.id,
        time,
        amount,
        payee: if t.name.is_empty() { t.memo.clone() } else { t.name },
        description: t.memo,
        pending: false,
    })
}

/// `20261120`, `20261120083000`, `20261120083000.000[-5:EST]`.
fn time(text: &str, line: usize) -> Result<DateTime<Utc>, FileError> {
    let bad = || FileError::at(line, format!("{text:?} is not an OFX time (YYYYMMDDHHMMSS[.XXX][[offset:zone]])"));
    let (stamp, zone) = match text.split_once('[') {
        Some((stamp, zone)) => (stamp, Some(zone.trim_end_matches(']'))),
        None => (text, None),
    };
    let digits = stamp.split('.').next().unwrap_or_default();
    let local = match digits.len() {
        8 => NaiveDate::parse_from_str(digits, "%Y%m%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)),
        12 => NaiveDateTime::parse_from_str(&format!("{digits}00"), "%Y%m%d%H%M%S").ok(),
        14 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok(),
        _ => None,
    }
    .ok_or_else(bad)?;
    let offset = match zone.map(|z| z.split(':').next().unwrap_or_default()) {
        None | Some("") => 0,
        Some(hours) => {
            let (whole, half) = hours.split_once('.').unwrap_or((hours, "0"));
            let whole: i32 = whole.parse().map_err(|_| bad())?;
            let minutes = if half.starts_with('5') { 30 } else { 0 };
            whole * 3600 + whole.signum() * minutes * 60
        }
    };
    FixedOffset::east_opt(offset)
        .and_then(|zone| zone.from_local_datetime(&local).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_take_their_offset() {
        assert_eq!(time("20261120", 1).map(|t| t.timestamp()), Ok(1_795_132_800));
        assert_eq!(time("20261120120000.000[-5:EST]", 1).map(|t| t.timestamp()), Ok(1_795_132_800 + 17 * 3600));
        assert!(time("2026-11-20", 4).is_err_and(|e| e.line == Some(4)));
    }
}
