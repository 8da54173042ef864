//! `wechat-xlsx` and `wechat-csv`: WeChat Pay's 账单 export, an xlsx workbook since mid-2025 and
//! UTF-8 CSV before. About 17 preamble lines (the nickname, the period, totals, notes) before a
//! header of 11 columns: 交易时间, 交易类型, 交易对方, 商品, 收/支, 金额(元), 支付方式, 当前状态,
//! 交易单号, 商户单号, 备注. Amounts are unsigned (older files write them `¥12.00`), 收/支 gives the
//! direction (`/` for neither), times are Beijing time: the same ledger shape as Alipay's.
//!
//! The workbook is read by `calamine` (well kept, reads xlsx without a spreadsheet program). A
//! number cell comes from it as an `f64`; it is turned back into the decimal text it was stored
//! as (Rust prints the shortest text that reads back to the same `f64`, which for an amount of
//! money is the text written) and read as a `Decimal` from there.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::alipay::{Ledger, ledger};
use super::{FileError, Statement, decode, rows};

const WECHAT: Ledger = Ledger {
    time: "交易时间",
    payee: "交易对方",
    goods: "商品",
    direction: "收/支",
    amount: "金额(元)",
    status: "当前状态",
    id: "交易单号",
};

/// Whether a row is the ledger's header.
fn is_header(cells: &[String]) -> bool {
    [WECHAT.time, WECHAT.amount, WECHAT.direction].iter().all(|name| cells.iter().any(|c| c == name))
}

fn statement(entries: Vec<super::Entry>) -> Statement {
    Statement { currency: Some("CNY".into()), entries, ..Statement::default() }
}

fn no_header() -> FileError {
    FileError::whole("no header row naming 交易时间, 收/支 and 金额(元): is this a WeChat Pay 账单 export?")
}

pub fn read_csv(bytes: &[u8]) -> Result<Statement, FileError> {
    let text = decode(bytes, encoding_rs::GB18030);
    let header = text
        .lines()
        .position(|line| is_header(&line.split(',').map(super::cell).collect::<Vec<_>>()))
        .ok_or_else(no_header)?;
    ledger(rows(&text, header + 1, b','), &WECHAT).map(statement)
}

pub fn read_xlsx(bytes: &[u8]) -> Result<Statement, FileError> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| FileError::whole(format!("not an xlsx workbook ({e})")))?;
    let sheet = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| FileError::whole("the workbook has no sheet"))?
        .map_err(|e| FileError::whole(format!("the first sheet cannot be read ({e})")))?;
    let first_row = sheet.start().map_or(0, |(row, _)| usize::try_from(row).unwrap_or(0));
    let all: Vec<(usize, Vec<String>)> =
        sheet.rows().enumerate().map(|(i, row)| (first_row + i + 1, row.iter().map(text).collect())).collect();
    let header = all.iter().position(|(_, cells)| is_header(cells)).ok_or_else(no_header)?;
    ledger(all.into_iter().skip(header).map(Ok), &WECHAT).map(statement)
}

/// A cell as the text it shows.
fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => super::cell(s),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => serial_time(d.as_f64()),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// An Excel date serial (days since 1899-12-30) as `YYYY-MM-DD HH:MM:SS`.
fn serial_time(serial: f64) -> String {
    let seconds = (serial * 86_400.0).round();
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).and_then(|d| d.and_hms_opt(0, 0, 0));
    // Out of i64's range only for a nonsense serial; it then fails as a time, naming its line.
    let seconds = if seconds.is_finite() && seconds.abs() < 1e15 { seconds as i64 } else { i64::MAX };
    base.and_then(|b| b.checked_add_signed(chrono::TimeDelta::try_seconds(seconds)?))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| serial.to_string())
}
