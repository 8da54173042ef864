//! `alipay-csv`: Alipay's 交易明细 export.
//!
//! GBK text (newer downloads may be UTF-8); about two dozen preamble lines (the account, the date
//! range, totals, numbered notes) before a header of 12 columns: 交易时间, 交易分类, 交易对方,
//! 对方账号, 商品说明, 收/支, 金额, 收/付款方式, 交易状态, 交易订单号, 商家订单号, 备注. Cells are
//! padded with spaces, ids followed by a tab, every line ends with a comma, times are Beijing time,
//! and the amount is unsigned: 收/支 says the direction. 不计收支 (between the person's own
//! accounts) and 交易关闭 (closed, no money moved) rows are not money in or out and are left out.

use super::{Emit, Entry, FileError, Statement, beijing, cell, columns, decode, money, rows, time_in};

/// The columns read, as the header names them.
pub(super) struct Ledger {
    pub time: &'static str,
    pub payee: &'static str,
    pub goods: &'static str,
    pub direction: &'static str,
    pub amount: &'static str,
    pub status: &'static str,
    pub id: &'static str,
}

const ALIPAY: Ledger = Ledger {
    time: "交易时间",
    payee: "交易对方",
    goods: "商品说明",
    direction: "收/支",
    amount: "金额",
    status: "交易状态",
    id: "交易订单号",
};

/// How the exports write times (a file re-saved by a spreadsheet loses the seconds and the dashes).
const TIMES: &[&str] = &["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"];

pub fn read(bytes: &[u8], emit: Emit<'_>) -> Result<Statement, FileError> {
    let text = decode(bytes, encoding_rs::GB18030);
    let header = text
        .lines()
        .position(|line| {
            let cells: Vec<String> = line.split(',').map(cell).collect();
            [ALIPAY.time, ALIPAY.amount, ALIPAY.direction].iter().all(|name| cells.iter().any(|c| c == name))
        })
        .ok_or_else(|| {
            FileError::whole("no header line naming 交易时间, 收/支 and 金额: is this an Alipay 交易明细 export?")
        })?;
    ledger(rows(&text, header + 1, b','), &ALIPAY, emit)?;
    Ok(Statement { currency: Some("CNY".into()), ..Statement::default() })
}

/// The entries of an Alipay or WeChat Pay ledger: its header row first, then one row per
/// transaction, until a row that is not one (the closing rule of dashes older exports print).
pub(super) fn ledger(
    mut rows: impl Iterator<Item = Result<(usize, Vec<String>), FileError>>,
    names: &Ledger,
    emit: Emit<'_>,
) -> Result<(), FileError> {
    let Some((line, header)) = rows.next().transpose()? else {
        return Ok(());
    };
    let [time, payee, goods, direction, amount, status, id] = columns(
        &header,
        [names.time, names.payee, names.goods, names.direction, names.amount, names.status, names.id],
        line,
    )?;
    let width = [time, payee, goods, direction, amount, status, id].into_iter().max().unwrap_or(0);
    for row in rows {
        let (line, cells) = row?;
        if cells.iter().all(String::is_empty) {
            continue;
        }
        if cells.first().is_some_and(|c| c.starts_with('-')) {
            break;
        }
        if cells.len() <= width {
            return Err(FileError::at(line, format!("{} cells where the header has {}", cells.len(), header.len())));
        }
        let (way, state) = (cells[direction].as_str(), cells[status].as_str());
        let sign = match way {
            "支出" => -1,
            "收入" => 1,
            // Between the person's own accounts (or, in WeChat's words, neither): no money in or out.
            "不计收支" | "/" | "" => continue,
            other => return Err(FileError::at(line, format!("收/支 is {other:?}, expected 支出, 收入 or 不计收支"))),
        };
        if state.contains("关闭") {
            continue;
        }
        let value = money(&cells[amount], line)?;
        if value.is_sign_negative() {
            return Err(FileError::at(
                line,
                format!("the amount {:?} should be unsigned: 收/支 gives the direction", cells[amount]),
            ));
        }
        let goods = cells[goods].clone();
        let payee = if cells[payee].is_empty() || cells[payee] == "/" { goods.clone() } else { cells[payee].clone() };
        emit(Entry {
            line,
            id: Some(cells[id].clone()).filter(|id| !id.is_empty()),
            time: time_in(&cells[time], TIMES, beijing(), line)?,
            amount: if sign < 0 { -value } else { value },
            payee,
            description: goods,
            pending: state.contains("等待") || state.contains("处理中"),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use rust_decimal::Decimal;

    fn export(rows: &[&str]) -> Vec<u8> {
        let mut text = String::from(
            "支付宝交易记录明细查询\n账号:[someone@example.com]\n起始日期:[2026-11-01 00:00:00]    终止日期:[2026-12-01 00:00:00]\n---------------------------------交易记录明细列表------------------------------------\n",
        );
        text.push_str("交易时间,交易分类,交易对方,对方账号,商品说明,收/支,金额,收/付款方式,交易状态,交易订单号,商家订单号,备注,\n");
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        encoding_rs::GBK.encode(&text).0.into_owned()
    }

    #[test]
    fn reads_gbk_padded_cells_signs_and_leaves_out_closed_and_own_transfers() {
        let file = export(&[
            "2026-11-20 08:01:02 ,餐饮美食 ,瑞幸咖啡 ,luckin@example.com ,生椰拿铁 ,支出 ,9.90 ,余额宝 ,交易成功 ,2026112022001400001\t ,T1\t , ,",
            "2026-11-21 09:00:00 ,转账 ,张三 ,*** ,转账 ,收入 ,100.00 , ,交易成功 ,2026112122001400002\t , , ,",
            "2026-11-22 10:00:00 ,投资理财 ,余额宝 , ,转入 ,不计收支 ,500.00 , ,交易成功 ,2026112222001400003\t , , ,",
            "2026-11-23 11:00:00 ,日用百货 ,超市 , ,购物 ,支出 ,20.00 , ,交易关闭 ,2026112322001400004\t , , ,",
            "------------------------------------------------------------------------------------",
            "共4笔记录",
        ]);
        let statement = Format::Alipay.read(&file).expect("reads");
        let got: Vec<(Option<&str>, Decimal, &str, i64)> = statement
            .entries
            .iter()
            .map(|e| (e.id.as_deref(), e.amount, e.payee.as_str(), e.time.timestamp()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("2026112022001400001"), Decimal::new(-990, 2), "瑞幸咖啡", 1_795_132_862),
                (Some("2026112122001400002"), Decimal::new(10_000, 2), "张三", 1_795_222_800),
            ]
        );
        assert_eq!(statement.entries[0].line, 6);
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let file = export(&["2026-11-20 08:01:02,餐饮,店,,咖啡,支出,九块,,交易成功,1,,,"]);
        assert_eq!(Format::Alipay.read(&file).map(drop).map_err(|e| e.line), Err(Some(6)));
        assert!(Format::Alipay.read(b"just some text\n").is_err_and(|e| e.line.is_none()));
    }
}
