//! `mt940`: SWIFT MT940 customer statements, as banks offer them for download.
//!
//! Fields start a line with `:TAG:` and run on over the following lines. `:25:` is the account,
//! `:61:` one entry (`YYMMDD[MMDD]`, `C`/`D` or `RC`/`RD` for reversals, an optional funds code,
//! the amount with a decimal comma, the type and references), the `:86:` after it its words (the
//! German structured form `?20`–`?29` purpose, `?32`/`?33` counterparty, is read when present),
//! `:62F:` (or `:62M:` on a continued page) the closing balance: `C`/`D`, date, currency, amount.
//!
//! Our own reader rather than the `mt940` crate: bank downloads stray from the SWIFT character set
//! (umlauts, lower case), which that crate refuses unless sanitised first, and the statement needs
//! five fields. MT940 references are not unique (`NONREF`, a mandate's reference each month), so
//! entries get derived ids, per file, like a CSV's.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{Closing, Emit, Entry, FileError, Statement, decode, money};

pub fn read(bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
    let text = decode(bytes, encoding_rs::WINDOWS_1252);
    let mut statement = Statement::default();
    // The last entry read, handed on when the next field shows that no `:86:` will amend it.
    let mut last_entry: Option<Entry> = None;
    for (line, tag, value) in fields(&text) {
        match tag {
            "25" => {
                statement.account.get_or_insert_with(|| value.trim().to_owned());
            }
            "60F" | "60M" | "62F" | "62M" => {
                let (balance, at, currency) = balance(&value, line)?;
                statement.currency.get_or_insert(currency);
                if tag.starts_with("62") && statement.closing.is_none_or(|c| c.at <= at) {
                    statement.closing = Some(Closing { balance, at });
                }
            }
            "61" => {
                if let Some(done) = last_entry.replace(entry(&value, line)?) {
                    emit(done)?;
                }
            }
            "86" => {
                if let Some(mut entry) = last_entry.take() {
                    let (payee, description) = words(&value);
                    entry.payee = if payee.is_empty() { description.clone() } else { payee };
                    entry.description = description;
                    emit(entry)?;
                }
            }
            _ => {}
        }
    }
    if let Some(done) = last_entry {
        emit(done)?;
    }
    if statement.account.is_none() {
        return Err(FileError::whole("no :25: account field: is this an MT940 statement?"));
    }
    Ok(statement)
}

/// Each field as (its first line, tag, value with its continuation lines joined by newlines), as
/// the text is read: a field is whole once the next one starts, or the text ends.
fn fields(text: &str) -> impl Iterator<Item = (usize, &str, String)> {
    let mut lines = text.lines().enumerate();
    let mut open: Option<(usize, &str, String)> = None;
    std::iter::from_fn(move || {
        for (i, raw) in lines.by_ref() {
            let line = raw.trim_end_matches('\r');
            let tagged = line
                .strip_prefix(':')
                .and_then(|rest| rest.split_once(':'))
                .filter(|(tag, _)| (2..=3).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric()));
            match tagged {
                Some((tag, value)) => {
                    if let Some(whole) = open.replace((i + 1, tag, value.to_owned())) {
                        return Some(whole);
                    }
                }
                // The block's end, `-}` or a lone `-`, closes the field before it.
                None if line.trim() == "-" || line.starts_with("-}") || line.starts_with('{') => {}
                None => {
                    if let Some((_, _, value)) = open.as_mut() {
                        value.push('\n');
                        value.push_str(line);
                    }
                }
            }
        }
        open.take()
    })
}

/// `C261130EUR1234,56`.
fn balance(value: &str, line: usize) -> Result<(Decimal, DateTime<Utc>, String), FileError> {
    let value = value.trim();
    let bad = || FileError::at(line, format!("{value:?} is not a balance like C261130EUR1234,56"));
    let sign = match value.get(..1) {
        Some("C") => Decimal::ONE,
        Some("D") => Decimal::NEGATIVE_ONE,
        _ => return Err(bad()),
    };
    let at = date(value.get(1..7).ok_or_else(bad)?, line)?;
    let currency = value.get(7..10).ok_or_else(bad)?.to_owned();
    let amount = amount(value.get(10..).ok_or_else(bad)?, line)?;
    Ok((sign * amount, at, currency))
}

/// `2611031103DR42,10NTRFNONREF//B1` → the entry (payee and words come from its `:86:`).
fn entry(value: &str, line: usize) -> Result<Entry, FileError> {
    let first = value.lines().next().unwrap_or_default().trim();
    let bad = |why: &str| FileError::at(line, format!("{first:?} is not an MT940 entry: {why}"));
    let time = date(first.get(..6).ok_or_else(|| bad("no date"))?, line)?;
    let mut rest = &first[6..];
    if let Some(entry_date) = rest.get(..4).filter(|d| d.bytes().all(|b| b.is_ascii_digit())) {
        rest = &rest[entry_date.len()..];
    }
    let (debit, after) = if let Some(r) = rest.strip_prefix("RC") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix("RD") {
        (false, r)
    } else if let Some(r) = rest.strip_prefix('C') {
        (false, r)
    } else if let Some(r) = rest.strip_prefix('D') {
        (true, r)
    } else {
        return Err(bad("no C, D, RC or RD mark"));
    };
    // The funds code: the third letter of the currency, on some statements.
    let after = after.strip_prefix(|c: char| c.is_ascii_alphabetic()).unwrap_or(after);
    let end = after.find(|c: char| !(c.is_ascii_digit() || c == ',')).unwrap_or(after.len());
    let amount = amount(&after[..end], line)?;
    Ok(Entry {
        line,
        id: None,
        time,
        amount: if debit { -amount } else { amount },
        payee: String::new(),
        description: String::new(),
        pending: false,
    })
}

/// `1234,56` (MT940 always writes a decimal comma).
fn amount(text: &str, line: usize) -> Result<Decimal, FileError> {
    if text.is_empty() || text.contains('.') {
        return Err(FileError::at(line, format!("{text:?} is not an MT940 amount like 1234,56")));
    }
    money(&text.replace(',', "."), line)
}

fn date(yymmdd: &str, line: usize) -> Result<DateTime<Utc>, FileError> {
    NaiveDate::parse_from_str(&format!("20{yymmdd}"), "%Y%m%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| FileError::at(line, format!("{yymmdd:?} is not a date (YYMMDD)")))
}

/// The counterparty and the words of an `:86:` field: structured (`?20`… subfields) or free text.
fn words(value: &str) -> (String, String) {
    let joined: String = value.lines().collect();
    if !joined.contains('?') {
        return (String::new(), value.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    let (mut payee, mut purpose) = (String::new(), String::new());
    for part in joined.split('?').skip(1) {
        let (code, text) = (part.get(..2).unwrap_or_default(), part.get(2..).unwrap_or_default());
        match code {
            "20" | "21" | "22" | "23" | "24" | "25" | "26" | "27" | "28" | "29" => purpose.push_str(text),
            "32" | "33" => payee.push_str(text),
            _ => {}
        }
    }
    (payee.trim().to_owned(), purpose.trim().to_owned())
}
