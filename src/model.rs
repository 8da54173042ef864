//! Plain data that every part of payguard speaks: accounts, balances, transactions, findings.
//!
//! Nothing here does I/O or reads a clock. Money is `rust_decimal::Decimal` throughout; amounts that
//! arrive as text (JSON strings or number literals) are parsed from that text by [`parse_amount`],
//! never through a float.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

mod duration;
mod kind;
mod payee;

pub use duration::Duration;
pub use kind::{FindingKind, Nature, Words};
pub use payee::payee_key;

/// Which account of which source: the identity under which history is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountRef {
    /// The `name` of the `[[source]]` that reports the account.
    pub source: String,
    /// The account id as that source spells it (and as `[[account]] id` names it).
    pub account: String,
}

impl AccountRef {
    pub fn new(source: impl Into<String>, account: impl Into<String>) -> Self {
        Self { source: source.into(), account: account.into() }
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.source, self.account)
    }
}

/// What the platform says about the account as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Frozen,
    Closed,
    #[default]
    Unknown,
}

/// The state of an account at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When payguard saw this balance: the poll's time, so two polls are two snapshots.
    pub observed_at: DateTime<Utc>,
    /// When the platform says the balance was current (SimpleFIN `balance-date`), if it says.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    pub balance: Decimal,
    pub available: Option<Decimal>,
    pub currency: String,
    #[serde(default)]
    pub status: AccountStatus,
    #[serde(default)]
    pub card_expiry: Option<NaiveDate>,
}

impl Snapshot {
    /// A balance seen by the poll at `now`, and nothing more about it: no date of its own, no
    /// available balance, status unknown, no card. Sources set what they know on top.
    pub fn seen(balance: Decimal, currency: String, now: DateTime<Utc>) -> Snapshot {
        Snapshot {
            observed_at: now,
            as_of: None,
            balance,
            available: None,
            currency,
            status: AccountStatus::Unknown,
            card_expiry: None,
        }
    }
}

/// One movement of money. Negative amounts leave the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The source's id, or one derived from the fields when the source gives none (see [`derive_ids`]).
    pub id: String,
    pub posted: DateTime<Utc>,
    pub amount: Decimal,
    /// The counterparty as the source wrote it (falls back to the description).
    pub payee: String,
    /// `payee` normalised by [`payee_key`]: what "the same payee" means.
    pub payee_key: String,
    pub description: String,
    pub pending: bool,
}

impl Transaction {
    pub fn is_debit(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// The money that left the account (positive), or zero for a credit.
    pub fn outflow(&self) -> Decimal {
        if self.is_debit() { -self.amount } else { Decimal::ZERO }
    }
}

/// Everything one successful poll learned about one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub account: AccountRef,
    /// The account's display name, when the source reports one.
    pub name: Option<String>,
    pub snapshot: Snapshot,
    pub transactions: Vec<Transaction>,
    /// Whether the snapshot's balance is the platform's, or one the engine carries forward.
    #[serde(default)]
    pub balance: BalanceSource,
}

/// Where an observation's balance comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BalanceSource {
    /// The platform stated it.
    #[default]
    Platform,
    /// The source states none (an export without a balance): the balance is the one stored last
    /// (for an account's first, the snapshot's) moved by what the observation posts.
    Carried,
    /// Carried, and the observation is a part of a read too large for one poll, which the next poll
    /// goes on with at once: the account's record, and its conditions, wait for the last part.
    CarriedPart,
}

/// The record transactions came from, as the platform wrote it: a notification mail, an exported
/// statement file. Kept whole, so what a person hands to the platform or the police is the
/// platform's own record, not payguard's reading of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// How a person finds it again: the file's name, or the mail's date and subject.
    pub name: String,
    /// The SHA-256 of `bytes` ([`sha256_hex`]), the record's name in the store and the audit log.
    pub sha256: String,
    /// Shared: a file read in parts is cited by each part.
    pub bytes: std::sync::Arc<[u8]>,
    /// The transactions it records: (account id, transaction id).
    pub cites: Vec<(String, String)>,
}

impl Evidence {
    pub fn new(name: String, bytes: std::sync::Arc<[u8]>, cites: Vec<(String, String)>) -> Evidence {
        Evidence { name, sha256: sha256_hex(&bytes), bytes, cites }
    }
}

/// A record a source could not read (a statement file, a notification mail that matched a rule):
/// what it states is not watched, so a person must look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadRecord {
    /// How a person finds it: the file's name, or the mail's date and subject.
    pub record: String,
    /// Why, naming the line when one is to blame.
    pub reason: String,
}

/// What a platform's status page or feed announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Maintenance,
    Incident,
}

/// Where a notice stands, whatever words the platform uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Announced, not started (maintenance `scheduled`).
    Upcoming,
    /// Going on (maintenance `in_progress`/`verifying`; incident `investigating`/`identified`/`monitoring`).
    Active,
    /// Finished (maintenance `completed`; incident `resolved`/`postmortem`).
    Over,
}

/// A platform notice: announced maintenance or an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The `name` of the `[[notice]]` that reported it.
    pub source: String,
    /// The platform's id for it (or one derived from its fields).
    pub id: String,
    pub kind: NoticeKind,
    pub phase: Phase,
    /// The platform's own status word (`scheduled`, `investigating`, …).
    pub status: String,
    pub title: String,
    /// The platform's impact rating, when it gives one (`none`, `minor`, `major`, `critical`).
    pub impact: Option<String>,
    /// When maintenance is scheduled to start and end (`scheduled_for`, `scheduled_until`).
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Where a person reads more.
    pub url: Option<String>,
    /// The latest update's text.
    pub update: String,
    /// The affected components, by name.
    pub components: Vec<String>,
}

/// What payguard remembers of a source's recent polls: its health, and its use of the platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub consecutive_failures: u32,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The last failure was refused credentials: revoked or changed, perhaps by someone else.
    pub auth_refused: bool,
    /// No poll before this time: the platform asked us to wait, or we are backing off.
    pub not_before: Option<DateTime<Utc>>,
    /// When requests were made within the last day, oldest first: the daily budget's ledger.
    pub requests: Vec<DateTime<Utc>>,
    /// Accounts the source answered for with data payguard could not use, poll after poll: the
    /// source is up, yet those accounts are not watched.
    #[serde(default)]
    pub unreadable: std::collections::BTreeMap<String, Unreadable>,
    /// The daily request budget is spent and polls are being skipped (since the first skip).
    #[serde(default)]
    pub budget_spent: Option<BudgetSpent>,
    /// The last failure was an ended consent: only the person can renew it, at their bank.
    #[serde(default)]
    pub consent_ended: bool,
    /// When the provider says the person's consent to read the accounts ends.
    #[serde(default)]
    pub consent_until: Option<DateTime<Utc>>,
    /// What is left of each account's request quota, as the provider last reported it.
    #[serde(default)]
    pub quotas: std::collections::BTreeMap<String, Quota>,
}

/// An account's request quota at a provider: `remaining` of `limit` until `resets_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub limit: Option<u32>,
    pub remaining: u32,
    pub resets_at: DateTime<Utc>,
}

/// A spent request budget: `used` of `max` requests in the last 24 hours, free again at `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSpent {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub used: usize,
    pub max: u32,
}

/// An account whose data has been unusable for `polls` polls in a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    pub polls: u32,
    pub error: String,
    /// The account's last good poll, if any was seen while the streak was counted.
    pub since: Option<DateTime<Utc>>,
}

/// How loudly a finding should be said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The configured limit that a finding crossed, by its config key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    pub key: String,
    pub value: String,
}

/// What fired a finding that no configured limit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The platform refused the credentials: said at once, as someone else may have changed them.
    CredentialsRefused,
    /// The platform said the person's consent to read the accounts has ended.
    ConsentEnded,
}

/// Something a detector found wrong, with the facts that show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub account: AccountRef,
    pub title: String,
    /// Why it fired, in one or two sentences.
    pub detail: String,
    pub currency: String,
    /// The money at stake: the drop, the debit, the sum of the burst.
    pub amount: Option<Decimal>,
    /// The balance when the finding was made.
    pub balance: Option<Decimal>,
    pub payees: Vec<String>,
    pub transaction_ids: Vec<String>,
    pub threshold: Option<Threshold>,
    /// What fired it when no threshold did. Left out of the stored JSON when absent, so alerts
    /// written before it read and hash the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The moment the finding is about, when not now: a card's expiry, a maintenance window's start.
    #[serde(default)]
    pub when: Option<DateTime<Utc>>,
    /// What it is about, in the platform's own words: a notice's title, an account's status.
    #[serde(default)]
    pub about: Option<String>,
    /// The clock its times are told on (`[daemon] timezone`). Left out of the stored JSON for UTC,
    /// so alerts written before it read and hash the same.
    #[serde(default, skip_serializing_if = "Zone::is_utc")]
    pub zone: Zone,
    pub observed_at: DateTime<Utc>,
    /// What tells this occurrence from another of the same kind on the same account (a peak time, a
    /// set of transaction ids); part of the alert fingerprint.
    pub key: String,
}

/// The clock times are told on for a person: the config's `[daemon] timezone`. Stored by its
/// name (`Asia/Shanghai`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(pub chrono_tz::Tz);

impl Default for Zone {
    fn default() -> Self {
        Zone(chrono_tz::UTC)
    }
}

impl Zone {
    pub fn is_utc(&self) -> bool {
        self.0 == chrono_tz::UTC
    }

    /// `at` to the minute on this clock, with its offset: `2026-12-06 08:01 +08:00`, or `… UTC`.
    pub fn time(self, at: DateTime<Utc>) -> String {
        crate::text::time(at, self.0)
    }

    /// [`Zone::time`] in Chinese words: on China's clock, `2026-12-06 08:01 北京时间`.
    pub fn time_zh(self, at: DateTime<Utc>) -> String {
        self.beijing(at, "%Y-%m-%d %H:%M").unwrap_or_else(|| self.time(at))
    }

    /// [`Zone::time_zh`] to the second.
    pub fn second_zh(self, at: DateTime<Utc>) -> String {
        self.beijing(at, "%Y-%m-%d %H:%M:%S").unwrap_or_else(|| crate::text::time_to_the_second(at, self.0))
    }

    /// `at` as China names its clock, when this is China's clock.
    fn beijing(self, at: DateTime<Utc>, format: &str) -> Option<String> {
        use chrono_tz::Tz;
        matches!(self.0, Tz::Asia__Shanghai | Tz::Asia__Chongqing | Tz::Asia__Chungking | Tz::Asia__Harbin | Tz::PRC)
            .then(|| format!("{} 北京时间", at.with_timezone(&self.0).format(format)))
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map(Zone).map_err(|_| serde::de::Error::custom(format!("{name:?} is no time zone")))
    }
}

impl Finding {
    /// A finding of `kind` about `account` made at `now`, at the kind's default severity, with no
    /// facts yet: detectors fill in what they know.
    pub fn new(kind: FindingKind, account: AccountRef, title: impl Into<String>, now: DateTime<Utc>) -> Finding {
        Finding {
            kind,
            severity: kind.default_severity(),
            account,
            title: title.into(),
            detail: String::new(),
            currency: String::new(),
            amount: None,
            balance: None,
            payees: Vec::new(),
            transaction_ids: Vec::new(),
            threshold: None,
            cause: None,
            when: None,
            about: None,
            zone: Zone::default(),
            observed_at: now,
            key: String::new(),
        }
    }

    /// Cites one transaction: its money, its payee, its id (which also tells this finding from
    /// another of the same kind).
    pub fn citing(mut self, tx: &Transaction) -> Finding {
        self.amount = Some(tx.outflow());
        self.payees = vec![tx.payee.clone()];
        self.transaction_ids = vec![tx.id.clone()];
        self.key = tx.id.clone();
        self
    }

    /// What the finding is about, for a headline: the account id, or the source or notice name for
    /// findings about a whole platform.
    pub fn subject(&self) -> &str {
        if self.account.account.is_empty() { &self.account.source } else { &self.account.account }
    }
}

/// Why a piece of text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{0:?} is not a decimal amount")]
    NotDecimal(String),
    #[error("{0:?} is too large or too precise to be an amount of money")]
    OutOfRange(String),
}

/// Parses an amount from its decimal text: `"-12.50"`, `"1200"`, `"1.5e3"`.
///
/// The text is never routed through a float, and never rounded: `"0.1"` is exactly one tenth and
/// `"0.10"` keeps its two places. The grammar is strict (one optional sign, digits with at most one
/// point, an optional exponent), so `"+-5"` or `"1-2"` are not amounts. Values that do not fit a
/// `Decimal` exactly (40-digit numbers, `1e400`, 29 decimal places) are errors, not zero or a
/// rounded neighbour.
pub fn parse_amount(text: &str) -> Result<Decimal, AmountError> {
    let not_decimal = || AmountError::NotDecimal(text.to_owned());
    let out_of_range = || AmountError::OutOfRange(text.to_owned());
    let (negative, unsigned) = strip_sign(text.trim());
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(not_decimal());
    }
    let exponent: i64 = match exponent.map(strip_sign) {
        None => 0,
        Some((_, "")) => return Err(not_decimal()),
        Some((_, e)) if !digits(e) => return Err(not_decimal()),
        // An exponent too long for an i64 cannot give an amount: even 0 × 10^huge is refused.
        Some((minus, e)) => e.parse::<i64>().map(|e| if minus { -e } else { e }).map_err(|_| out_of_range())?,
    };
    let mut value = Decimal::from_str_exact(&format!("{}.{fraction}", if whole.is_empty() { "0" } else { whole }))
        .map_err(|_| out_of_range())?;
    // value × 10^exponent, exactly: move the point by changing the scale, and multiply only where
    // the point would go right of the last digit.
    let scale = i64::from(value.scale()).checked_sub(exponent).ok_or_else(out_of_range)?;
    if scale > i64::from(MAX_SCALE) {
        // Trailing zeros may be dropped without changing the value; anything more is rounding.
        let spare = i64::from(value.scale() - value.normalize().scale());
        if scale - spare > i64::from(MAX_SCALE) {
            return Err(out_of_range());
        }
        value = value.normalize();
        value.set_scale(u32::try_from(scale - spare).map_err(|_| out_of_range())?).map_err(|_| out_of_range())?;
    } else if scale >= 0 {
        value.set_scale(u32::try_from(scale).map_err(|_| out_of_range())?).map_err(|_| out_of_range())?;
    } else if !value.is_zero() {
        value.set_scale(0).map_err(|_| out_of_range())?;
        for _ in 0..-scale {
            value = value.checked_mul(Decimal::TEN).ok_or_else(out_of_range)?;
        }
    } else {
        value = Decimal::ZERO;
    }
    value.set_sign_negative(negative && !value.is_zero());
    Ok(value)
}

/// The most decimal places a `Decimal` holds.
const MAX_SCALE: u32 = 28;

/// `("-5", …)` → `(true, "5")`; one sign at most, and it must be followed by the rest.
fn strip_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Gives every transaction without a source id a stable one derived from its fields.
///
/// Two identical transactions in one answer are two transactions (a double charge looks exactly like
/// that), so the n-th repeat of the same fields gets `#n` appended rather than collapsing into one.
pub fn derive_ids(transactions: &mut [Transaction]) {
    let mut ids = DerivedIds::default();
    transactions.iter_mut().for_each(|tx| ids.give(tx));
}

/// [`derive_ids`] one transaction at a time, for an answer read as a stream.
#[derive(Default)]
pub struct DerivedIds {
    seen: std::collections::HashMap<String, u32>,
}

impl DerivedIds {
    /// Gives `tx` its derived id, when it has no id of its own.
    pub fn give(&mut self, tx: &mut Transaction) {
        if !tx.id.is_empty() {
            return;
        }
        let basis = format!("{}|{}|{}|{}", tx.posted.timestamp(), tx.amount.normalize(), tx.payee, tx.description);
        let digest = short_hash(&basis);
        let n = self.seen.entry(digest.clone()).or_insert(0);
        *n += 1;
        tx.id = if *n == 1 { format!("derived:{digest}") } else { format!("derived:{digest}#{n}") };
    }
}

/// The SHA-256 of `bytes` in lower-case hex: how records and files are known.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// A short, stable hex digest (the first 16 hex digits of SHA-256).
pub fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?}: expected info, warning or critical")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding keeps its clock by name; one told in UTC is stored as findings were before there
    /// was a clock, and one stored before reads as UTC.
    #[test]
    fn a_findings_clock_is_stored_by_name_and_utc_not_at_all() {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let utc = Finding::new(FindingKind::LargeDebit, AccountRef::new("bank", "A"), "t", now);
        let json = serde_json::to_value(&utc).expect("json");
        assert!(json.get("zone").is_none(), "{json}");
        let told = Finding { zone: Zone(chrono_tz::Asia::Shanghai), ..utc.clone() };
        let json = serde_json::to_value(&told).expect("json");
        assert_eq!(json["zone"], "Asia/Shanghai");
        assert_eq!(serde_json::from_value::<Finding>(json).expect("read").zone, told.zone);
        let mut old = serde_json::to_value(&utc).expect("json");
        old.as_object_mut().map(|o| o.remove("zone"));
        assert_eq!(serde_json::from_value::<Finding>(old).expect("read").zone, Zone::default());
        assert_eq!(told.zone.time_zh(now), "2026-09-21 22:13 北京时间");
        assert_eq!(Zone(chrono_tz::Europe::Berlin).time_zh(now), "2026-09-21 16:13 +02:00");
        assert_eq!(Zone::default().time(now), "2026-09-21 14:13 UTC");
    }

    /// The CLI lines up tables with width specifiers, so the names must honour them.
    #[test]
    fn names_pad_to_a_column() {
        assert_eq!(format!("{:<14}|", FindingKind::LargeDebit), "large_debit   |");
        assert_eq!(format!("{:<9}|", Severity::Warning), "warning  |");
    }

    #[test]
    fn amounts_parse_from_text_exactly() {
        let cases = [
            ("-12.50", Some("-12.50")),
            ("1200", Some("1200")),
            ("+3.10", Some("3.10")),
            ("0.1", Some("0.1")),
            ("1.5e3", Some("1500")),
            ("NaN", None),
            ("inf", None),
            ("", None),
            ("1e400", None),
            ("1234567890123456789012345678901234567890", None),
            ("12,50", None),
            ("+-5.00", None),
            ("-+5", None),
            ("1-2", None),
            ("1e", None),
            ("e5", None),
            ("1.2.3", None),
            ("1e-2", Some("0.01")),
            ("-1.5E+2", Some("-150")),
            ("0e999999", Some("0")),
            ("1e-9223372036854775807", None),
            ("1e9223372036854775807", None),
            ("1.000e-27", Some("0.000000000000000000000000001")),
            ("1.00000000000000000000000000001e0", None),
            ("1e-29", None),
            ("5.", Some("5")),
            (".5", Some("0.5")),
            ("79228162514264337593543950335", Some("79228162514264337593543950335")),
            ("79228162514264337593543950336", None),
        ];
        for (text, want) in cases {
            let got = parse_amount(text).ok().map(|d| d.normalize().to_string());
            let want = want.map(|w| Decimal::from_str(w).map(|d| d.normalize().to_string()));
            assert_eq!(got, want.and_then(Result::ok), "parsing {text:?}");
        }
    }

    #[test]
    fn amounts_keep_their_places_and_sign() {
        assert_eq!(parse_amount("0.10").map(|d| d.to_string()), Ok("0.10".to_owned()));
        assert_eq!(parse_amount("-0.00").map(|d| d.is_sign_negative()), Ok(false));
        assert_eq!(parse_amount("2.50e1").map(|d| d.to_string()), Ok("25.0".to_owned()));
        assert_eq!(parse_amount("1-2"), Err(AmountError::NotDecimal("1-2".to_owned())));
    }

    #[test]
    fn derived_ids_are_stable_and_keep_identical_twins_apart() {
        let tx = Transaction {
            id: String::new(),
            posted: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            amount: Decimal::new(-999, 2),
            payee: "Shop".into(),
            payee_key: "shop".into(),
            description: "card".into(),
            pending: false,
        };
        let mut first = vec![tx.clone(), tx.clone()];
        let mut again = vec![tx.clone(), tx];
        derive_ids(&mut first);
        derive_ids(&mut again);
        assert_eq!(first, again);
        assert_ne!(first[0].id, first[1].id);
    }
}
