//! The export formats: each turns a file's bytes into one [`Statement`], or says which line it
//! could not read. What they share is here: text decoding, CSV rows with their line numbers,
//! amounts and times from text.

mod alipay;
mod camt053;
mod csv;
mod mt940;
mod ofx;
mod wechat;
mod xlsx;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::settings::Mapping;
use crate::model::parse_amount;

/// What a source's `format` says its files are.
#[derive(Debug, Clone)]
pub enum Format {
    Alipay,
    Csv(Box<Mapping>),
    Ofx,
    Camt053,
    Mt940,
    WechatXlsx,
    WechatCsv,
}

impl Format {
    pub fn name(&self) -> &'static str {
        match self {
            Format::Alipay => "alipay-csv",
            Format::Csv(_) => "csv",
            Format::Ofx => "ofx",
            Format::Camt053 => "camt053",
            Format::Mt940 => "mt940",
            Format::WechatXlsx => "wechat-xlsx",
            Format::WechatCsv => "wechat-csv",
        }
    }

    /// Whether files of this format carry a closing balance.
    pub fn names_balance(&self) -> bool {
        matches!(self, Format::Ofx | Format::Camt053 | Format::Mt940)
    }

    /// Whether files of this format name their account (an IBAN, an account number).
    pub fn names_account(&self) -> bool {
        matches!(self, Format::Ofx | Format::Camt053 | Format::Mt940)
    }

    /// The currency of files that do not say theirs.
    pub fn currency(&self) -> &str {
        match self {
            Format::Alipay | Format::WechatXlsx | Format::WechatCsv => "CNY",
            Format::Csv(mapping) => &mapping.currency,
            // Every OFX statement says its currency (CURDEF); this is for one that does not.
            Format::Ofx | Format::Camt053 | Format::Mt940 => "XXX",
        }
    }

    /// Reads one file, handing each entry to `emit` as it is read, and returns the file's facts.
    /// A file of any length costs one entry's memory.
    pub fn stream(&self, bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
        match self {
            Format::Alipay => alipay::read(bytes, emit),
            Format::Csv(mapping) => csv::read(bytes, mapping, emit),
            Format::Ofx => ofx::read(bytes, emit),
            Format::Camt053 => camt053::read(bytes, emit),
            Format::Mt940 => mt940::read(bytes, emit),
            Format::WechatXlsx => wechat::read_xlsx(bytes, emit),
            Format::WechatCsv => wechat::read_csv(bytes, emit),
        }
    }

    /// Reads one file whole, for the readers' tests.
    #[cfg(test)]
    pub fn read(&self, bytes: &[u8]) -> Result<Whole, FileError> {
        let mut entries = Vec::new();
        let statement = self.stream(bytes, &mut |entry| {
            entries.push(entry);
            Ok(())
        })?;
        Ok(Whole { statement, entries })
    }
}

/// A file read whole: its facts and every entry.
#[cfg(test)]
#[derive(Debug)]
pub struct Whole {
    pub statement: Statement,
    pub entries: Vec<Entry>,
}

/// What a reader hands each entry to, in file order; an error from it stops the reading.
pub type Emit<'a> = &'a mut dyn FnMut(Entry) -> Result<(), FileError>;

/// One export, whatever its format.
#[derive(Debug, Default)]
pub struct Statement {
    /// The account the file names (an IBAN, an account number), when the format names one.
    pub account: Option<String>,
    pub currency: Option<String>,
    /// The balance at the end of the statement, when the file says it.
    pub closing: Option<Closing>,
}

/// One movement of money in an export.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The line of the file it was read from, for errors.
    pub line: usize,
    /// The platform's own id (an order number), when the format has one.
    pub id: Option<String>,
    pub time: DateTime<Utc>,
    /// Negative for money out.
    pub amount: Decimal,
    pub payee: String,
    pub description: String,
    pub pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closing {
    pub balance: Decimal,
    pub at: DateTime<Utc>,
}

/// Why a file could not be read: the line (from 1) when one is to blame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{reason}", line.map(|n| format!("line {n}: ")).unwrap_or_default())]
pub struct FileError {
    pub line: Option<usize>,
    pub reason: String,
}

impl FileError {
    pub fn at(line: usize, reason: impl Into<String>) -> Self {
        FileError { line: Some(line), reason: reason.into() }
    }

    pub fn whole(reason: impl Into<String>) -> Self {
        FileError { line: None, reason: reason.into() }
    }
}

/// The file as text: UTF-8 (its byte-order mark dropped) when it is, otherwise `fallback`.
/// Chinese exports are GBK, which GB18030 decodes as a superset. UTF-8 is read in place: a file
/// is not held twice.
fn decode<'a>(bytes: &'a [u8], fallback: &'static encoding_rs::Encoding) -> std::borrow::Cow<'a, str> {
    match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => fallback.decode(bytes).0,
    }
}

/// A cell as written, without the padding, tabs and quotes-for-Excel exports put around it.
fn cell(text: &str) -> String {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}').to_owned()
}

/// The rows of `text` from its line `from` (from 1) on, each with its line number, cells trimmed.
/// Rows may differ in length: exports end lines with a stray delimiter or trail a summary.
fn rows(text: &str, from: usize, delimiter: u8) -> impl Iterator<Item = Result<(usize, Vec<String>), FileError>> + '_ {
    let start: usize = text.split_inclusive('\n').take(from.saturating_sub(1)).map(str::len).sum();
    let reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(&text.as_bytes()[start.min(text.len())..]);
    reader.into_records().map(move |record| {
        let record = record.map_err(|e| {
            let line = e.position().map_or(from, |p| from + usize::try_from(p.line()).unwrap_or(0).saturating_sub(1));
            FileError::at(line, format!("not a CSV row ({e})"))
        })?;
        let line = from + record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0).saturating_sub(1));
        Ok((line, record.iter().map(cell).collect()))
    })
}

/// Where each named column is in a header row.
fn columns<const N: usize>(header: &[String], names: [&str; N], line: usize) -> Result<[usize; N], FileError> {
    let mut found = [0; N];
    for (at, name) in found.iter_mut().zip(names) {
        *at = header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| FileError::at(line, format!("the header has no column {name:?}")))?;
    }
    Ok(found)
}

/// An amount as exports write it: `¥12.00`, `1,234.50`, ` 8.80 `.
fn money(text: &str, line: usize) -> Result<Decimal, FileError> {
    let bare: String = text.chars().filter(|c| !matches!(c, '¥' | '￥' | ',' | ' ' | '\u{a0}')).collect();
    parse_amount(&bare).map_err(|e| FileError::at(line, e.to_string()))
}

/// A time as `format` writes it (a date alone is its midnight), in the statement's zone.
fn time_in(text: &str, formats: &[&str], zone: FixedOffset, line: usize) -> Result<DateTime<Utc>, FileError> {
    let local = formats.iter().find_map(|f| {
        NaiveDateTime::parse_from_str(text, f)
            .ok()
            .or_else(|| NaiveDate::parse_from_str(text, f).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
    });
    let local = local.ok_or_else(|| FileError::at(line, format!("{text:?} is not a time like {:?}", formats[0])))?;
    zone.from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| FileError::at(line, format!("{text:?} is not a time")))
}

/// Appends the text an XML event stands for. quick-xml reports an entity (`&amp;`, `&#20013;`) as
/// an event of its own, between the text events around it; an entity a DTD would define is dropped.
fn push_text(value: &mut String, event: &quick_xml::events::Event) {
    use quick_xml::events::Event;
    match event {
        Event::Text(t) => value.push_str(&t.xml10_content()),
        Event::CData(t) => value.push_str(&t.xml10_content()),
        Event::GeneralRef(r) => match r.resolve_char_ref() {
            Ok(Some(c)) => value.push(c),
            _ => value.push_str(match r.xml10_content().as_ref() {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "apos" => "'",
                _ => "",
            }),
        },
        _ => {}
    }
}

/// Beijing time, in which Alipay and WeChat Pay write their exports.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Offset::fix(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_lose_padding_and_rows_keep_their_line() {
        let text = "preamble\nsecond\na , b\t,\n\"c\",d\n";
        let read: Vec<_> = rows(text, 3, b',').collect::<Result<_, _>>().expect("rows");
        assert_eq!(read, vec![(3, vec!["a".into(), "b".into(), String::new()]), (4, vec!["c".into(), "d".into()])]);
    }

    #[test]
    fn money_takes_currency_signs_and_separators() {
        assert_eq!(money("¥1,234.50", 1), Ok(Decimal::new(123_450, 2)));
        assert!(money("12.3.4", 7).is_err_and(|e| e.line == Some(7)));
    }

    #[test]
    fn gbk_decodes_when_the_file_is_not_utf8() {
        let (gbk, _, _) = encoding_rs::GBK.encode("交易时间");
        assert_eq!(decode(&gbk, encoding_rs::GB18030), "交易时间");
        assert_eq!(decode("\u{feff}abc".as_bytes(), encoding_rs::GB18030), "abc");
    }
}

/// Bank files are hostile input: a file cut anywhere, or with any byte changed, is read or refused,
/// never a panic.
#[cfg(test)]
mod hostile {
    use super::*;

    const OFX: &str = "OFXHEADER:100\n<OFX><STMTRS><CURDEF>EUR<BANKACCTFROM><ACCTID>1</BANKACCTFROM>\n<STMTTRN><DTPOSTED>20261103[+8:CST]<TRNAMT>-1.50<FITID>a<NAME>Caf&eacute; ü</STMTTRN>\n<LEDGERBAL><BALAMT>9<DTASOF>20261130</LEDGERBAL></STMTRS></OFX>\n";
    const CAMT: &str = "<?xml version=\"1.0\"?><Document><BkToCstmrStmt><Stmt><Acct><Id><IBAN>DE1</IBAN></Id></Acct>\n<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt>1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2026-11-30</Dt></Dt></Bal>\n<Ntry><Amt>2.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-11-03</Dt></BookgDt><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Müller &amp; Söhne</Nm></Dbtr></RltdPties></TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>\n";
    const MT940: &str = ":20:X\n:25:DE1/ü\n:60F:C261101EUR1,00\n:61:2611031103RD42,10NTRFü//B\n:86:?20Strom?32Stadtwerke ä\n:62F:D261130EUR1,00\n-\n";
    const ALIPAY: &str = "x\n交易时间,交易分类,交易对方,对方账号,商品说明,收/支,金额,收/付款方式,交易状态,交易订单号,商家订单号,备注,\n2026-11-20 08:01:02 ,餐饮 ,店 , ,咖啡 ,支出 ,¥9.90 , ,交易成功 ,1\t , , ,\n";

    fn formats() -> Vec<(Format, &'static str)> {
        vec![
            (Format::Ofx, OFX),
            (Format::Camt053, CAMT),
            (Format::Mt940, MT940),
            (Format::Alipay, ALIPAY),
            (Format::WechatCsv, ALIPAY),
        ]
    }

    #[test]
    fn the_samples_read() {
        for (format, sample) in formats().into_iter().take(4) {
            let read = format.read(sample.as_bytes());
            assert!(read.as_ref().is_ok_and(|s| s.entries.len() == 1), "{}: {read:?}", format.name());
        }
    }

    #[test]
    fn every_cut_and_every_changed_byte_is_read_or_refused() {
        for (format, sample) in formats() {
            let bytes = sample.as_bytes();
            for cut in 0..bytes.len() {
                let _ = format.read(&bytes[..cut]);
            }
            for at in 0..bytes.len() {
                for value in [b'<', b'>', b':', b'?', b',', b'\n', b'-', b'9', 0xE4, 0xFF] {
                    let mut changed = bytes.to_vec();
                    changed[at] = value;
                    let _ = format.read(&changed);
                }
            }
        }
    }
}
