//! `wechat-xlsx` and `wechat-csv`: WeChat Pay's 账单 export, an xlsx workbook since mid-2025 and
//! UTF-8 CSV before. About 17 preamble lines (the nickname, the period, totals, notes) before a
//! header of 11 columns: 交易时间, 交易类型, 交易对方, 商品, 收/支, 金额(元), 支付方式, 当前状态,
//! 交易单号, 商户单号, 备注. Amounts are unsigned (older files write them `¥12.00`), 收/支 gives the
//! direction (`/` for neither), times are Beijing time: the same ledger shape as Alipay's.
//!
//! The workbook is read by our own `xlsx` reader: a number cell is the decimal text it stores and a
//! date cell is turned into Beijing wall-clock text, so an amount never passes through a float.

use super::alipay::{Ledger, ledger};
use super::{Emit, FileError, Statement, decode, rows, xlsx};

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

fn statement() -> Statement {
    Statement { currency: Some("CNY".into()), ..Statement::default() }
}

fn no_header() -> FileError {
    FileError::whole("no header row naming 交易时间, 收/支 and 金额(元): is this a WeChat Pay 账单 export?")
}

pub fn read_csv(bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
    let text = decode(bytes, encoding_rs::GB18030);
    let header = text
        .lines()
        .position(|line| is_header(&line.split(',').map(super::cell).collect::<Vec<_>>()))
        .ok_or_else(no_header)?;
    ledger(rows(&text, header + 1, b','), &WECHAT, emit).map(|()| statement())
}

pub fn read_xlsx(bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
    let rows: Vec<(usize, Vec<String>)> = xlsx::first_sheet(bytes)?
        .into_iter()
        .map(|(line, cells)| (line, cells.iter().map(|c| super::cell(c)).collect()))
        .collect();
    let header = rows.iter().position(|(_, cells)| is_header(cells)).ok_or_else(no_header)?;
    ledger(rows.into_iter().skip(header).map(Ok), &WECHAT, emit).map(|()| statement())
}
