//! The compact binary form of the records a poll writes for every account: transactions,
//! snapshots, payees and the account record (schema version 2; version 1 kept them as JSON).
//!
//! These are most of the store's bytes and most of what a poll reads back, so they are written as
//! plainly as they can be: a format byte, then the fields in a fixed order as LEB128 varints
//! (signed ones zigzagged), length-prefixed UTF-8 and flag bytes. Money keeps its exact `Decimal`
//! (sign, scale and the 96-bit mantissa, so `-0.00` stays `-0.00`), times their nanoseconds, so a
//! record reads back equal to what was written: ingest compares a stored transaction with the one
//! just seen to tell "unchanged" from "updated". Transactions are kept by the hour of their posting,
//! one record per account and hour ([`bucket`]), so a poll reads a day of an account's past in 24
//! records rather than hundreds; an entry's account is in its key and not repeated in the value. Alerts, deliveries, the audit log and everything else
//! stay JSON: they are few, and the audit chain's hashes are defined over its JSON.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::StoreError;
use super::records::{AccountRecord, PayeeRecord};
use crate::model::{AccountStatus, Snapshot, Transaction};

/// The first byte of every record here: a later layout can tell its records from these.
const FORMAT: u8 = 1;

const PENDING: u8 = 1;
/// The payee key is the payee in lower case (the usual case), so it is not stored.
const LOWERCASE_KEY: u8 = 2;

/// The transactions of one account posted within one hour, as the `transactions` tree keeps them.
pub(super) fn bucket(transactions: &[Transaction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + transactions.len() * 48);
    out.push(FORMAT);
    put_varint(&mut out, transactions.len() as u64);
    for tx in transactions {
        put_str(&mut out, &tx.id);
        put_transaction(&mut out, tx);
    }
    out
}

pub(super) fn read_bucket(bytes: &[u8]) -> Result<Vec<Transaction>, StoreError> {
    let mut r = Reader::new(bytes, "transactions")?;
    let count = usize::try_from(r.varint()?).map_err(|_| r.corrupt("a count is too large"))?;
    // Every transaction takes several bytes: a count beyond the record's length is a lie.
    let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let id = r.string()?;
        out.push(r.transaction(id)?);
    }
    r.end(out)
}

fn put_transaction(out: &mut Vec<u8>, tx: &Transaction) {
    let lowercase = tx.payee_key == tx.payee.to_lowercase();
    out.push(if tx.pending { PENDING } else { 0 } | if lowercase { LOWERCASE_KEY } else { 0 });
    put_time(out, tx.posted);
    put_decimal(out, tx.amount);
    put_str(out, &tx.payee);
    if !lowercase {
        put_str(out, &tx.payee_key);
    }
    put_str(out, &tx.description);
}

pub(super) fn snapshot(s: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + s.currency.len());
    out.push(FORMAT);
    put_time(&mut out, s.observed_at);
    put_option(&mut out, s.as_of, put_time);
    put_decimal(&mut out, s.balance);
    put_option(&mut out, s.available, put_decimal);
    put_str(&mut out, &s.currency);
    out.push(match s.status {
        AccountStatus::Active => 0,
        AccountStatus::Frozen => 1,
        AccountStatus::Closed => 2,
        AccountStatus::Unknown => 3,
    });
    put_option(&mut out, s.card_expiry, |out, d| put_signed(out, i64::from(d.num_days_from_ce())));
    out
}

pub(super) fn read_snapshot(bytes: &[u8]) -> Result<Snapshot, StoreError> {
    let mut r = Reader::new(bytes, "snapshot")?;
    let observed_at = r.time()?;
    let as_of = r.option(Reader::time)?;
    let balance = r.decimal()?;
    let available = r.option(Reader::decimal)?;
    let currency = r.string()?;
    let status = match r.byte()? {
        0 => AccountStatus::Active,
        1 => AccountStatus::Frozen,
        2 => AccountStatus::Closed,
        3 => AccountStatus::Unknown,
        _ => return Err(r.corrupt("unknown account status")),
    };
    let card_expiry = r.option(|r| {
        let days = i32::try_from(r.signed()?).map_err(|_| r.corrupt("date out of range"))?;
        NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| r.corrupt("date out of range"))
    })?;
    r.end(Snapshot { observed_at, as_of, balance, available, currency, status, card_expiry })
}

pub(super) fn payee(p: &PayeeRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + p.key.len() + p.name.len());
    out.push(FORMAT);
    out.push(u8::from(p.trusted));
    put_str(&mut out, &p.key);
    put_str(&mut out, &p.name);
    put_time(&mut out, p.first_seen);
    put_time(&mut out, p.last_seen);
    put_varint(&mut out, p.count);
    out
}

pub(super) fn read_payee(bytes: &[u8]) -> Result<PayeeRecord, StoreError> {
    let mut r = Reader::new(bytes, "payee")?;
    let trusted = r.byte()? != 0;
    let key = r.string()?;
    let name = r.string()?;
    let first_seen = r.time()?;
    let last_seen = r.time()?;
    let count = r.varint()?;
    r.end(PayeeRecord { key, name, first_seen, last_seen, count, trusted })
}

pub(super) fn account(a: &AccountRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + a.currency.len());
    out.push(FORMAT);
    put_time(&mut out, a.first_poll_at);
    put_time(&mut out, a.last_poll_at);
    put_option(&mut out, a.name.as_deref(), put_str);
    put_str(&mut out, &a.currency);
    out
}

pub(super) fn read_account(bytes: &[u8]) -> Result<AccountRecord, StoreError> {
    let mut r = Reader::new(bytes, "account")?;
    let first_poll_at = r.time()?;
    let last_poll_at = r.time()?;
    let name = r.option(Reader::string)?;
    let currency = r.string()?;
    r.end(AccountRecord { first_poll_at, last_poll_at, name, currency })
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_signed(out: &mut Vec<u8>, n: i64) {
    put_varint(out, ((n << 1) ^ (n >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Seconds since the epoch (zigzag) and the nanoseconds: exact, and 6 bytes for a whole second.
fn put_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    put_signed(out, t.timestamp());
    put_varint(out, u64::from(t.timestamp_subsec_nanos()));
}

/// Sign and scale in one byte, then the 96-bit mantissa as a varint (two bytes for most amounts).
fn put_decimal(out: &mut Vec<u8>, d: Decimal) {
    let bytes = d.serialize();
    let scale = bytes[2] & 0x1f;
    let negative = bytes[3] & 0x80 != 0;
    out.push(scale | if negative { 0x80 } else { 0 });
    let mut mantissa = [0u8; 16];
    mantissa[..12].copy_from_slice(&bytes[4..16]);
    let mut n = u128::from_le_bytes(mantissa);
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_option<T>(out: &mut Vec<u8>, value: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Result<Reader<'a>, StoreError> {
        let mut r = Reader { bytes, at: 0, what };
        match r.byte()? {
            FORMAT => Ok(r),
            other => Err(r.corrupt(&format!("unknown record format {other}"))),
        }
    }

    fn corrupt(&self, detail: &str) -> StoreError {
        StoreError::Corrupt { what: self.what, detail: format!("{detail} (at byte {})", self.at) }
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self.bytes.get(self.at).ok_or_else(|| self.corrupt("the record ends early"))?;
        self.at += 1;
        Ok(b)
    }

    fn wide_varint(&mut self, bits: u32) -> Result<u128, StoreError> {
        let mut n: u128 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= bits {
                return Err(self.corrupt("a number is too long"));
            }
            n |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return if n >> bits == 0 { Ok(n) } else { Err(self.corrupt("a number is too large")) };
            }
            shift += 7;
        }
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        self.wide_varint(64).map(|n| n as u64)
    }

    fn signed(&mut self) -> Result<i64, StoreError> {
        let n = self.varint()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.corrupt("a length is too large"))?;
        let end = self.at.checked_add(len).filter(|end| *end <= self.bytes.len());
        let bytes =
            end.and_then(|end| self.bytes.get(self.at..end)).ok_or_else(|| self.corrupt("a text ends early"))?;
        let text = std::str::from_utf8(bytes).map_err(|_| self.corrupt("a text is not UTF-8"))?.to_owned();
        self.at += len;
        Ok(text)
    }

    fn time(&mut self) -> Result<DateTime<Utc>, StoreError> {
        let seconds = self.signed()?;
        let nanos = u32::try_from(self.varint()?).map_err(|_| self.corrupt("nanoseconds out of range"))?;
        DateTime::from_timestamp(seconds, nanos).ok_or_else(|| self.corrupt("a time out of range"))
    }

    fn decimal(&mut self) -> Result<Decimal, StoreError> {
        let head = self.byte()?;
        let (scale, negative) = (u32::from(head & 0x1f), head & 0x80 != 0);
        if scale > 28 || head & 0x60 != 0 {
            return Err(self.corrupt("an amount's scale is out of range"));
        }
        let n = self.wide_varint(96)?;
        Ok(Decimal::from_parts(n as u32, (n >> 32) as u32, (n >> 64) as u32, negative, scale))
    }

    fn transaction(&mut self, id: String) -> Result<Transaction, StoreError> {
        let flags = self.byte()?;
        let posted = self.time()?;
        let amount = self.decimal()?;
        let payee = self.string()?;
        let payee_key = if flags & LOWERCASE_KEY != 0 { payee.to_lowercase() } else { self.string()? };
        let description = self.string()?;
        Ok(Transaction { id, posted, amount, payee, payee_key, description, pending: flags & PENDING != 0 })
    }

    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, StoreError>) -> Result<Option<T>, StoreError> {
        match self.byte()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(self.corrupt("a bad option tag")),
        }
    }

    /// `value`, if every byte was read: trailing bytes mean the record is not what it claims.
    fn end<T>(self, value: T) -> Result<T, StoreError> {
        if self.at == self.bytes.len() { Ok(value) } else { Err(self.corrupt("trailing bytes")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(seconds: i64, nanos: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, nanos).unwrap_or_default()
    }

    fn tx(amount: &str, payee: &str, key: &str, pending: bool) -> Transaction {
        Transaction {
            id: "tx-1/ü".into(),
            posted: at(1_790_000_000, 123_456_789),
            amount: amount.parse().unwrap_or_default(),
            payee: payee.into(),
            payee_key: key.into(),
            description: "Card payment".into(),
            pending,
        }
    }

    #[test]
    fn records_read_back_equal_and_exact() {
        let amounts = ["-12.34", "0", "-0.00", "79228162514264337593543950335", "-0.0000000000000000000000000001"];
        let mut all = Vec::new();
        for amount in amounts {
            for (payee, key) in [("Shop Ltd", "shop ltd"), ("Shop Ltd", "shop"), ("Grocer's", "grocer s")] {
                for pending in [false, true] {
                    all.push(tx(amount, payee, key, pending));
                }
            }
        }
        let back = read_bucket(&bucket(&all)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, all);
        let scales: Vec<String> = back.iter().map(|t| t.amount.to_string()).collect();
        assert_eq!(scales, all.iter().map(|t| t.amount.to_string()).collect::<Vec<_>>(), "the scale and sign survive");
        assert_eq!(read_bucket(&bucket(&[])).ok(), Some(Vec::new()));
        let s = Snapshot {
            observed_at: at(-5, 1),
            as_of: Some(at(1_790_000_000, 0)),
            balance: "1200.50".parse().unwrap_or_default(),
            available: None,
            currency: "EUR".into(),
            status: AccountStatus::Frozen,
            card_expiry: NaiveDate::from_ymd_opt(2031, 2, 28),
        };
        assert_eq!(read_snapshot(&snapshot(&s)).ok(), Some(s.clone()));
        let bare = Snapshot { as_of: None, available: Some(Decimal::ONE), card_expiry: None, ..s };
        assert_eq!(read_snapshot(&snapshot(&bare)).ok(), Some(bare));
        let p = PayeeRecord {
            key: "shop".into(),
            name: "Shop".into(),
            first_seen: at(0, 0),
            last_seen: at(0, 0) + TimeDelta::days(3),
            count: u64::MAX,
            trusted: true,
        };
        assert_eq!(read_payee(&payee(&p)).ok(), Some(p));
        let a = AccountRecord { first_poll_at: at(1, 0), last_poll_at: at(2, 0), name: None, currency: "USD".into() };
        assert_eq!(read_account(&account(&a)).ok(), Some(a.clone()));
        let named = AccountRecord { name: Some("Checking".into()), ..a };
        assert_eq!(read_account(&account(&named)).ok(), Some(named));
    }

    #[test]
    fn a_transaction_takes_a_few_dozen_bytes() {
        let t = tx("-12.34", "Grocer's Market", "grocer s market", false);
        let json = serde_json::to_vec(&t).unwrap_or_default().len();
        let one = bucket(std::slice::from_ref(&t)).len();
        assert!(one <= 72, "{one} bytes (JSON: {json})");
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let bytes = bucket(&[tx("-12.34", "Shop", "shop", false), tx("1", "Shop", "x", true)]);
        for cut in 0..bytes.len() {
            assert!(read_bucket(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(read_bucket(&longer).is_err());
        assert!(read_bucket(b"{\"id\":\"a\"}").is_err(), "a JSON record of schema 1");
        assert!(read_bucket(&[FORMAT, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err(), "a count with nothing behind it");
        assert!(read_snapshot(&[FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
