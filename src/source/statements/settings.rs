//! `kind = "statements"`: the folder exports are dropped into, their format, and for `csv` the
//! mapping of its columns.

use serde::Deserialize;
use toml::Spanned;

use super::Statements;
use super::formats::Format;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret};
use crate::source::{Poller, SourceError};

#[derive(Debug, Clone)]
pub struct StatementsConfig {
    /// The folder read; its files are never changed or deleted.
    pub dir: std::path::PathBuf,
    pub format: Format,
    /// What opens password-protected zip exports.
    pub zip_password: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatements {
    dir: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    mapping: Option<Spanned<RawMapping>>,
    zip_password: Option<Secret>,
}

/// How a plain CSV export is read: `[source.mapping]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    delimiter: Option<String>,
    encoding: Option<String>,
    decimal_separator: Option<String>,
    header_line: Option<usize>,
    date: Option<String>,
    date_format: Option<String>,
    utc_offset: Option<String>,
    amount: Option<String>,
    debit: Option<String>,
    credit: Option<String>,
    payee: Option<String>,
    description: Option<String>,
    id: Option<String>,
    currency: Option<String>,
}

/// The columns and conventions of a plain CSV export, validated.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub delimiter: u8,
    pub encoding: &'static encoding_rs::Encoding,
    /// Whether amounts are written `1.234,50` rather than `1,234.50`.
    pub decimal_comma: bool,
    /// The line (from 1) that names the columns; lines before it are a preamble.
    pub header_line: usize,
    pub date: String,
    pub date_format: String,
    pub offset: chrono::FixedOffset,
    pub amount: Amount,
    pub payee: Option<String>,
    pub description: Option<String>,
    pub id: Option<String>,
    pub currency: String,
}

/// Where a CSV export puts the money.
#[derive(Debug, Clone)]
pub enum Amount {
    /// One column, negative for money out.
    Signed(String),
    /// Money out in one column, money in in another, both written as positive numbers.
    Split { debit: String, credit: String },
}

const FORMATS: &str = "alipay-csv, wechat-xlsx, wechat-csv, csv, ofx, camt053 or mt940";

impl crate::config::Kind for StatementsConfig {
    type Raw = RawStatements;

    fn validate(raw: RawStatements, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let Some(dir) = raw.dir else {
            return entry.missing("dir", "a statements source needs dir: the folder its exports are saved into");
        };
        if dir.get_ref().trim().is_empty() {
            return entry.error(
                dir.span(),
                "dir",
                "dir is the folder exports are saved into, e.g. \"/home/me/statements\"",
            );
        }
        let Some(format) = raw.format else {
            return entry.missing("format", format!("a statements source needs format: one of {FORMATS}"));
        };
        let format = match (format.get_ref().as_str(), raw.mapping) {
            ("alipay-csv", None) => Format::Alipay,
            ("ofx" | "qfx", None) => Format::Ofx,
            ("camt053", None) => Format::Camt053,
            ("mt940", None) => Format::Mt940,
            ("wechat-xlsx", None) => Format::WechatXlsx,
            ("wechat-csv", None) => Format::WechatCsv,
            ("csv", Some(mapping)) => {
                let span = mapping.span();
                Format::Csv(Box::new(mapping_of(mapping.into_inner()).or_else(|e| entry.error(span, "mapping", e))?))
            }
            ("csv", None) => {
                return entry.missing("mapping", "format = \"csv\" needs a [source.mapping] table naming its columns (date, amount or debit and credit, payee)");
            }
            ("alipay-csv" | "ofx" | "qfx" | "camt053" | "mt940" | "wechat-xlsx" | "wechat-csv", Some(mapping)) => {
                return entry.error(
                    mapping.span(),
                    "mapping",
                    "mapping is only for format = \"csv\": the other formats know their columns",
                );
            }
            (other, _) => {
                return entry.error(
                    format.span(),
                    "format",
                    format!("unknown format {other:?}: expected one of {FORMATS}"),
                );
            }
        };
        Ok(StatementsConfig { dir: dir.into_inner().into(), format, zip_password: raw.zip_password })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let StatementsConfig { dir: _, format: _, zip_password } = self;
        if let Some(password) = zip_password {
            found.token("zip_password", password);
        }
    }

    /// The folder and format; files that name no balance leave the balance detectors a running
    /// sum of what was read, which `check` says.
    fn describe(&self) -> String {
        let balance = if self.format.names_balance() {
            ""
        } else {
            "; no balance in these files: the balance is the sum of what was read, so unexplained_change stays quiet, low_balance means nothing and balance_drop fires on what the files show leaving"
        };
        format!("{} in {}{balance}", self.format.name(), self.dir.display())
    }
}

/// Checks a `[source.mapping]` table: the reason when it is unusable.
fn mapping_of(raw: RawMapping) -> Result<Mapping, String> {
    let delimiter = match raw.delimiter.as_deref().unwrap_or(",") {
        "\\t" | "\t" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => return Err(format!("delimiter {d:?} should be one character, such as \",\", \";\" or \"\\t\"")),
    };
    let encoding = match raw.encoding.as_deref() {
        None => encoding_rs::UTF_8,
        Some(label) => encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
            format!("unknown encoding {label:?}: use a name such as \"utf-8\", \"gbk\" or \"windows-1252\"")
        })?,
    };
    let decimal_comma = match raw.decimal_separator.as_deref() {
        None | Some(".") => false,
        Some(",") => true,
        Some(other) => return Err(format!("decimal_separator {other:?} should be \".\" or \",\"")),
    };
    let offset = match raw.utc_offset.as_deref() {
        None => chrono::FixedOffset::east_opt(0),
        Some(text) => chrono::DateTime::parse_from_str(&format!("2000-01-01 00:00 {text}"), "%Y-%m-%d %H:%M %:z")
            .ok()
            .map(|t| *t.offset()),
    }
    .ok_or("utc_offset is the statement's time zone as an offset, e.g. \"+08:00\"")?;
    let amount = match (raw.amount, raw.debit, raw.credit) {
        (Some(amount), None, None) => Amount::Signed(amount),
        (None, Some(debit), Some(credit)) => Amount::Split { debit, credit },
        _ => return Err(
            "name the money either as amount = \"COLUMN\" (signed) or as debit = \"COLUMN\" and credit = \"COLUMN\""
                .into(),
        ),
    };
    Ok(Mapping {
        delimiter,
        encoding,
        decimal_comma,
        header_line: raw.header_line.unwrap_or(1).max(1),
        date: raw.date.ok_or("date = \"COLUMN\" names the column with each entry's date")?,
        date_format: raw.date_format.unwrap_or_else(|| "%Y-%m-%d".into()),
        offset,
        amount,
        payee: raw.payee,
        description: raw.description,
        id: raw.id,
        currency: raw.currency.ok_or("currency = \"…\" says the account's currency, e.g. \"EUR\"")?,
    })
}

impl crate::source::Kind for StatementsConfig {
    /// Reading a folder asks no platform for anything.
    fn requests_per_poll(&self, _accounts: usize) -> u32 {
        0
    }

    /// A statement's closing date is as old as the last export a person made: it stands still
    /// between exports by design, so `stale_data` is on only where `stale_after` is set.
    fn stays_current(&self) -> bool {
        false
    }

    fn single_account(&self) -> Option<String> {
        (!self.format.names_account()).then(|| format!("{} files do not name their account", self.format.name()))
    }

    fn connect(
        &self,
        name: &str,
        _client: reqwest::Client,
        _limits: HttpLimits,
    ) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(Statements::new(name, self.clone())))
    }
}
