//! `camt053`: ISO 20022 bank-to-customer statements (`camt.053.001.02` to `.13`), read as a
//! stream of XML events by `quick-xml` (a well-kept streaming reader: a 20 MB statement is never
//! held as a tree). Elements are matched by their local names, so any namespace version reads.
//!
//! The account is `Stmt/Acct/Id/IBAN` (or `Othr/Id`); each `Ntry` is one entry: `Amt` is unsigned
//! and `CdtDbtInd` (`DBIT`/`CRDT`) gives the direction, `Sts` (`BOOK`, `PDNG`, or `Sts/Cd` from
//! version 8) whether it is booked, `BookgDt` (else `ValDt`) its date, `AcctSvcrRef` (else the
//! first `EndToEndId` other than `NOTPROVIDED`) its id, the counterparty's `Nm` its payee, `Ustrd`
//! (else `AddtlNtryInf`) its description. The `Bal` whose type is `CLBD` is the closing balance.

use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::events::Event;
use rust_decimal::Decimal;

use super::{Closing, Emit, Entry, FileError, Statement, decode, money, push_text};

/// What is being read of one `Ntry` or `Bal`.
#[derive(Default)]
struct Part {
    line: usize,
    amount: Option<Decimal>,
    debit: bool,
    booked: bool,
    date: Option<DateTime<Utc>>,
    reference: Option<String>,
    end_to_end: Option<String>,
    creditor: String,
    debtor: String,
    text: String,
    info: String,
    kind: String,
}

pub fn read(bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
    let text = decode(bytes, encoding_rs::UTF_8);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut path: Vec<String> = Vec::new();
    let mut statement = Statement::default();
    let (mut entry, mut balance): (Option<Part>, Option<Part>) = (None, None);
    let mut closing: Option<Closing> = None;
    let mut value = String::new();
    let mut lines = Lines { text: text.as_bytes(), at: 0, line: 1 };
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| FileError::at(lines.of(reader.error_position()), format!("not well-formed XML ({e})")))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                match name.as_str() {
                    "Ntry" => entry = Some(Part { line: lines.of(at), booked: true, ..Part::default() }),
                    "Bal" => balance = Some(Part { line: lines.of(at), ..Part::default() }),
                    _ => {}
                }
                path.push(name);
                value.clear();
            }
            text @ (Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) => push_text(&mut value, &text),
            Event::End(_) => {
                let line = lines.of(at);
                let leaf = std::mem::take(&mut value);
                let leaf = leaf.trim();
                let ends = |tail: &[&str]| path.len() >= tail.len() && path[path.len() - tail.len()..] == *tail;
                let in_balance = entry.is_none() && balance.is_some();
                if let Some(part) = entry.as_mut().or(balance.as_mut()) {
                    if ends(&["Amt"]) && part.amount.is_none() {
                        part.amount = Some(money(leaf, line)?);
                    } else if ends(&["CdtDbtInd"]) && part.kind.is_empty() {
                        part.debit = match leaf {
                            "DBIT" => true,
                            "CRDT" => false,
                            other => {
                                return Err(FileError::at(
                                    line,
                                    format!("CdtDbtInd is {other:?}, expected DBIT or CRDT"),
                                ));
                            }
                        };
                        part.kind = "set".into();
                    } else if (ends(&["Sts"]) || ends(&["Sts", "Cd"])) && !leaf.is_empty() {
                        part.booked = leaf != "PDNG";
                    } else if (ends(&["BookgDt", "Dt"])
                        || ends(&["BookgDt", "DtTm"])
                        || ends(&["Bal", "Dt", "Dt"])
                        || ends(&["Bal", "Dt", "DtTm"]))
                        || (part.date.is_none() && (ends(&["ValDt", "Dt"]) || ends(&["ValDt", "DtTm"])))
                    {
                        part.date = Some(date(leaf, line)?);
                    } else if ends(&["Ntry", "AcctSvcrRef"]) {
                        part.reference = Some(leaf.to_owned()).filter(|r| !r.is_empty());
                    } else if ends(&["EndToEndId"]) && part.end_to_end.is_none() && leaf != "NOTPROVIDED" {
                        part.end_to_end = Some(leaf.to_owned()).filter(|r| !r.is_empty());
                    } else if ends(&["Cdtr", "Nm"]) || ends(&["Cdtr", "Pty", "Nm"]) {
                        part.creditor = leaf.to_owned();
                    } else if ends(&["Dbtr", "Nm"]) || ends(&["Dbtr", "Pty", "Nm"]) {
                        part.debtor = leaf.to_owned();
                    } else if ends(&["Ustrd"]) && part.text.is_empty() {
                        part.text = leaf.to_owned();
                    } else if ends(&["AddtlNtryInf"]) || (in_balance && ends(&["Tp", "CdOrPrtry", "Cd"])) {
                        // An entry's extra words, or a balance's type (CLBD, OPBD, …).
                        part.info = leaf.to_owned();
                    }
                } else if ends(&["Stmt", "Acct", "Id", "IBAN"]) || ends(&["Stmt", "Acct", "Id", "Othr", "Id"]) {
                    statement.account.get_or_insert_with(|| leaf.to_owned());
                } else if ends(&["Stmt", "Acct", "Ccy"]) {
                    statement.currency.get_or_insert_with(|| leaf.to_owned());
                }
                match path.pop().as_deref() {
                    Some("Ntry") => {
                        if let Some(part) = entry.take() {
                            emit(to_entry(part)?)?;
                        }
                    }
                    Some("Bal") => {
                        if let Some(part) = balance.take().filter(|b| b.info == "CLBD") {
                            let (Some(amount), Some(at)) = (part.amount, part.date) else {
                                return Err(FileError::at(part.line, "the closing balance (CLBD) has no Amt or Dt"));
                            };
                            let balance = if part.debit { -amount } else { amount };
                            if closing.is_none_or(|c| c.at <= at) {
                                closing = Some(Closing { balance, at });
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(FileError::whole(format!(
            "the document ends inside <{}>: the file may be cut short",
            path.join("/")
        )));
    }
    if statement.account.is_none() {
        return Err(FileError::whole("no Stmt/Acct/Id: is this a camt.053 statement?"));
    }
    statement.closing = closing;
    Ok(statement)
}

fn to_entry(part: Part) -> Result<Entry, FileError> {
    let (Some(amount), Some(time)) = (part.amount, part.date) else {
        return Err(FileError::at(part.line, "an Ntry without Amt or BookgDt"));
    };
    if part.kind.is_empty() {
        return Err(FileError::at(part.line, "an Ntry without CdtDbtInd"));
    }
    let payee = if part.debit { part.creditor } else { part.debtor };
    let description = if part.text.is_empty() { part.info } else { part.text };
    Ok(Entry {
        line: part.line,
        id: part.reference.or(part.end_to_end),
        time,
        amount: if part.debit { -amount.abs() } else { amount.abs() },
        payee: if payee.is_empty() { description.clone() } else { payee },
        description,
        pending: !part.booked,
    })
}

/// `2026-11-30` or `2026-11-30T12:00:00+01:00`.
fn date(text: &str, line: usize) -> Result<DateTime<Utc>, FileError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
        .map_err(|_| FileError::at(line, format!("{text:?} is not an ISO 8601 date")))
}

/// The line of a byte position, counted on from the last one asked (the reader only moves
/// forward): counting from the start each time made a file of n entries cost n² bytes.
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl Lines<'_> {
    fn of(&mut self, position: u64) -> usize {
        let position = usize::try_from(position).unwrap_or(usize::MAX).min(self.text.len());
        if position < self.at {
            (self.at, self.line) = (0, 1);
        }
        self.line += self.text.get(self.at..position).unwrap_or_default().iter().filter(|b| **b == b'\n').count();
        self.at = position;
        self.line
    }
}
