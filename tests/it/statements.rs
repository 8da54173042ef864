//! `kind = "statements"`: export files dropped into a folder, written here from each format's
//! documented structure. Each format's reading and signs; a file read once however it is named;
//! overlapping exports not doubled; a bad file warned about once while the others are read; and
//! the theft scenario through an Alipay export, end to end with the real binary.

use crate::support;

use std::path::Path;
use std::time::Duration;

use chrono::{FixedOffset, Utc};
use payguard::config::Config;
use payguard::model::BalanceSource;
use payguard::source::{Poll, Source};
use rust_decimal::Decimal;
use serde_json::Value;

const ACCOUNT: &str = "6222021234567890";

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

/// A config with one statements source on `dir` (its `format` line and any mapping in `format`).
fn config_text(state: &Path, dir: &Path, format: &str) -> String {
    format!(
        r#"[daemon]
state_dir = "{state}"

[[source]]
name = "wallet"
kind = "statements"
dir = "{dir}"
schedule = "*/30 * * * *"
{format}

[[account]]
source = "wallet"
id = "{ACCOUNT}"
large_debit = "1000.00"
learning_period = "0s"

[[channel]]
name = "terminal"
kind = "console"
"#,
        state = state.display(),
        dir = dir.display(),
    )
}

fn source(dir: &Path, format: &str) -> Source {
    let text = config_text(&dir.join("state"), dir, format);
    let config = Config::parse(&text, Path::new("test.toml")).expect("config");
    Source::new(&config.sources[0]).expect("source")
}

/// One poll, and what the source then keeps, taken as the engine takes it once the poll's
/// results are stored.
async fn poll_kept(source: &Source) -> (Poll, Option<Vec<u8>>) {
    let now = Utc::now();
    let poll = source.poll(&[ACCOUNT.to_owned()], now - chrono::TimeDelta::days(5), now).await.expect("poll");
    (poll, source.kept())
}

async fn poll(source: &Source) -> Poll {
    poll_kept(source).await.0
}

/// (id, amount, payee) of each transaction of the poll's one account.
fn read(poll: &Poll) -> Vec<(String, Decimal, String)> {
    let observation = poll.accounts[0].1.as_ref().expect("the account was read");
    let mut got: Vec<_> = observation.transactions.iter().map(|t| (t.id.clone(), t.amount, t.payee.clone())).collect();
    got.sort();
    got
}

/// Each record the poll could not read, as "record: reason".
fn unread(poll: &Poll) -> Vec<String> {
    poll.unreadable.iter().map(|u| format!("{}: {}", u.record, u.reason)).collect()
}

/// An Alipay 交易明细 export in GBK: its preamble, the 12-column header, the rows (cells padded,
/// ids followed by a tab, each line ending with a comma), and the closing rule.
fn alipay(rows: &[(&str, &str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut text = String::from(
        "支付宝交易记录明细查询\n账号:[someone@example.com]\n起始日期:[2026-11-01 00:00:00]    终止日期:[2026-12-01 00:00:00]\n---------------------------------交易记录明细列表------------------------------------\n交易时间,交易分类,交易对方,对方账号,商品说明,收/支,金额,收/付款方式,交易状态,交易订单号,商家订单号,备注,\n",
    );
    for (time, payee, way, amount, status, id) in rows {
        text.push_str(&format!(
            "{time} ,其他 ,{payee} , ,{payee}的商品 ,{way} ,{amount} ,余额 ,{status} ,{id}\t , , ,\n"
        ));
    }
    text.push_str("------------------------------------------------------------------------------------\n");
    encoding_rs::GBK.encode(&text).0.into_owned()
}

/// `hours` ago in Beijing time, as Alipay writes it.
fn beijing_ago(hours: i64) -> String {
    let zone = FixedOffset::east_opt(8 * 3600).expect("an offset");
    (Utc::now() - chrono::TimeDelta::hours(hours)).with_timezone(&zone).format("%Y-%m-%d %H:%M:%S").to_string()
}

const CSV_MAPPING: &str = r#"format = "csv"
[source.mapping]
delimiter = ";"
encoding = "windows-1252"
decimal_separator = ","
header_line = 3
date = "Buchungstag"
date_format = "%d.%m.%Y"
utc_offset = "+01:00"
debit = "Soll"
credit = "Haben"
payee = "Empfänger"
description = "Verwendungszweck"
currency = "EUR""#;

fn bank_csv(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from(
        "Kontoauszug Girokonto\nZeitraum: 01.11.2026 - 30.11.2026\nBuchungstag;Empfänger;Verwendungszweck;Soll;Haben\n",
    );
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

/// An OFX 1.x (SGML: leaf elements unclosed) statement of `ACCOUNT`: `(fitid, date, amount, name)`
/// rows and the ledger balance.
fn ofx_sgml(rows: &[(&str, &str, &str, &str)], balance: &str) -> Vec<u8> {
    let mut text = String::from(
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20261201120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n<STMTRS><CURDEF>USD\n<BANKACCTFROM><BANKID>121000248<ACCTID>",
    );
    text.push_str(ACCOUNT);
    text.push_str("<ACCTTYPE>CHECKING</BANKACCTFROM>\n<BANKTRANLIST><DTSTART>20261101<DTEND>20261130\n");
    for (id, date, amount, name) in rows {
        let kind = if amount.starts_with('-') { "DEBIT" } else { "CREDIT" };
        text.push_str(&format!(
            "<STMTTRN>\n<TRNTYPE>{kind}\n<DTPOSTED>{date}\n<TRNAMT>{amount}\n<FITID>{id}\n<NAME>{name}\n<MEMO>card purchase\n</STMTTRN>\n"
        ));
    }
    text.push_str(&format!(
        "</BANKTRANLIST>\n<LEDGERBAL><BALAMT>{balance}<DTASOF>20261130120000.000[-5:EST]</LEDGERBAL>\n</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    ));
    text.into_bytes()
}

/// The same statement as OFX 2.x XML.
fn ofx_xml(rows: &[(&str, &str, &str, &str)], balance: &str) -> Vec<u8> {
    let mut text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"220\" SECURITY=\"NONE\" OLDFILEUID=\"NONE\" NEWFILEUID=\"NONE\"?>\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD</CURDEF><BANKACCTFROM><BANKID>1</BANKID><ACCTID>{ACCOUNT}</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST>\n"
    );
    for (id, date, amount, name) in rows {
        text.push_str(&format!(
            "<STMTTRN><TRNTYPE>POS</TRNTYPE><DTPOSTED>{date}</DTPOSTED><TRNAMT>{amount}</TRNAMT><FITID>{id}</FITID><NAME>{name}</NAME></STMTTRN>\n"
        ));
    }
    text.push_str(&format!(
        "</BANKTRANLIST><LEDGERBAL><BALAMT>{balance}</BALAMT><DTASOF>20261130</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    ));
    text.into_bytes()
}

/// A camt.053.001.08 statement of `ACCOUNT` (as its IBAN): `(reference, date, amount, name,
/// status)` entries, amounts unsigned with `CdtDbtInd`, and a closing booked balance.
fn camt(entries: &[(&str, &str, &str, &str, &str)], closing: &str) -> Vec<u8> {
    let mut text = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-12-01T06:00:00+01:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><CreDtTm>2026-12-01T06:00:00+01:00</CreDtTm>
<Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{closing}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-30</Dt></Dt></Bal>
"#
    );
    for (reference, date, amount, name, status) in entries {
        let (sign, party) = match amount.strip_prefix('-') {
            Some(_) => ("DBIT", "Cdtr"),
            None => ("CRDT", "Dbtr"),
        };
        text.push_str(&format!(
            "<Ntry><Amt Ccy=\"EUR\">{}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts><Cd>{status}</Cd></Sts>\n<BookgDt><Dt>{date}</Dt></BookgDt><ValDt><Dt>{date}</Dt></ValDt><AcctSvcrRef>{reference}</AcctSvcrRef>\n<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties><{party}><Pty><Nm>{name}</Nm></Pty></{party}></RltdPties><RmtInf><Ustrd>Rechnung 42</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n",
            amount.trim_start_matches('-')
        ));
    }
    text.push_str("</Stmt></BkToCstmrStmt></Document>\n");
    text.into_bytes()
}

/// An MT940 statement of `ACCOUNT`: `(:61: line, :86: words)` entries and a closing balance.
fn mt940(entries: &[(&str, &str)], closing: &str) -> Vec<u8> {
    let mut text = format!(":20:STARTUMS\r\n:25:{ACCOUNT}\r\n:28C:0\r\n:60F:C261101EUR100,00\r\n");
    for (entry, words) in entries {
        text.push_str(&format!(":61:{entry}\r\n:86:{words}\r\n"));
    }
    text.push_str(&format!(":62F:{closing}\r\n-\r\n"));
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

/// WeChat Pay's 账单 preamble: 16 lines before the header.
const WECHAT_PREAMBLE: [&str; 16] = [
    "微信支付账单明细",
    "微信昵称：[someone]",
    "起始时间：[2026-11-01 00:00:00] 终止时间：[2026-12-01 00:00:00]",
    "导出类型：[全部]",
    "导出时间：[2026-12-01 10:00:00]",
    "",
    "共3笔记录",
    "收入：1笔 5000.00元",
    "支出：2笔 39.90元",
    "中性交易：0笔 0.00元",
    "注：",
    "1. 充值/提现/理财通购买/零钱通存取/信用卡还款等交易，将计入中性交易",
    "2. 本明细仅展示当前账单中的交易，不包括已删除的记录",
    "3. 本明细仅供个人对账使用",
    "",
    "----------------------微信支付账单明细列表--------------------",
];
const WECHAT_HEADER: [&str; 11] = [
    "交易时间",
    "交易类型",
    "交易对方",
    "商品",
    "收/支",
    "金额(元)",
    "支付方式",
    "当前状态",
    "交易单号",
    "商户单号",
    "备注",
];

/// `(time, payee, 收/支, amount, status, id)` rows as WeChat Pay's older CSV export.
fn wechat_csv(rows: &[(&str, &str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut text = WECHAT_PREAMBLE.join("\n");
    text.push('\n');
    text.push_str(&WECHAT_HEADER.join(","));
    text.push('\n');
    for (time, payee, way, amount, status, id) in rows {
        text.push_str(&format!(
            "{time},商户消费,{payee},\"{payee}的商品\",{way},{amount},零钱,{status},{id}\t,M1\t,/\n"
        ));
    }
    text.into_bytes()
}

/// The first sheet of a WeChat Pay workbook with its preamble and header written; rows from 17 on.
fn wechat_sheet(workbook: &mut rust_xlsxwriter::Workbook) -> &mut rust_xlsxwriter::Worksheet {
    let sheet = workbook.add_worksheet();
    for (row, line) in WECHAT_PREAMBLE.iter().enumerate() {
        sheet.write_string(row as u32, 0, *line).expect("write");
    }
    for (col, name) in WECHAT_HEADER.iter().enumerate() {
        sheet.write_string(16, col as u16, *name).expect("write");
    }
    sheet
}

/// The same rows as the xlsx export; an amount without `¥` is written as a number cell.
fn wechat_xlsx(rows: &[(&str, &str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = wechat_sheet(&mut workbook);
    for (i, (time, payee, way, amount, status, id)) in rows.iter().enumerate() {
        let row = 17 + i as u32;
        let goods = format!("{payee}的商品");
        for (col, cell) in
            [*time, "商户消费", *payee, &goods, *way, *amount, "零钱", *status, *id, "M1", "/"].iter().enumerate()
        {
            match cell.parse::<f64>() {
                Ok(number) if col == 5 => sheet.write_number(row, col as u16, number),
                _ => sheet.write_string(row, col as u16, *cell),
            }
            .expect("write");
        }
    }
    workbook.save_to_buffer().expect("an xlsx")
}

/// A format's lines, a file of it, and the (amount, payee) read from it.
type Case = (&'static str, Vec<u8>, Vec<(&'static str, &'static str)>);

/// Each format read with its signs: money out negative, money in positive, and what is no money
/// (Alipay's 不计收支 and 交易关闭 rows) left out.
#[tokio::test]
async fn each_format_reads_amounts_with_their_signs() {
    let alipay_file = alipay(&[
        ("2026-11-20 08:00:00", "咖啡店", "支出", "9.90", "交易成功", "A1"),
        ("2026-11-21 09:00:00", "工资", "收入", "5000.00", "交易成功", "A2"),
        ("2026-11-22 10:00:00", "余额宝", "不计收支", "800.00", "交易成功", "A3"),
        ("2026-11-23 11:00:00", "超市", "支出", "55.00", "交易关闭", "A4"),
    ]);
    let csv_file = bank_csv(&["03.11.2026;Bäckerei;Brötchen;2,50;", "04.11.2026;Arbeitgeber;Gehalt;;2500,00"]);
    let ofx_rows = [("F1", "20261103", "-42.10", "Hardware &amp; Co"), ("F2", "20261104120000", "1500.00", "Payroll")];
    let ofx_want = vec![("-42.10", "Hardware & Co"), ("1500.00", "Payroll")];
    let camt_file = camt(
        &[
            ("C1", "2026-11-03", "-42.10", "Strom &amp; Gas AG", "BOOK"),
            ("C2", "2026-11-04", "1500.00", "Arbeitgeber", "BOOK"),
        ],
        "1557.90",
    );
    let mt940_file = mt940(
        &[
            ("2611031103DR42,10NTRFNONREF//B1", "105?00SEPA-LASTSCHRIFT?20Strom November?32Stadtwerke M\r\nünchen"),
            ("261104C1500,00NTRFNONREF", "Gehalt November Arbeitgeber GmbH"),
        ],
        "C261130EUR1557,90",
    );
    let wechat_rows = [
        ("2026-11-20 08:00:00", "咖啡店", "支出", "¥9.90", "支付成功", "W1"),
        ("2026-11-20 09:00:00", "书店", "支出", "30", "支付成功", "W2"),
        ("2026-11-21 09:00:00", "工资", "收入", "¥5000.00", "已存入零钱", "W3"),
        ("2026-11-22 10:00:00", "零钱通", "/", "¥800.00", "支付成功", "W4"),
    ];
    let wechat_want = vec![("-9.90", "咖啡店"), ("-30", "书店"), ("5000.00", "工资")];
    let cases: [Case; 8] = [
        (r#"format = "wechat-csv""#, wechat_csv(&wechat_rows), wechat_want.clone()),
        (r#"format = "wechat-xlsx""#, wechat_xlsx(&wechat_rows), wechat_want),
        (r#"format = "alipay-csv""#, alipay_file, vec![("-9.90", "咖啡店"), ("5000.00", "工资")]),
        (CSV_MAPPING, csv_file, vec![("-2.50", "Bäckerei"), ("2500.00", "Arbeitgeber")]),
        (r#"format = "ofx""#, ofx_sgml(&ofx_rows, "2457.90"), ofx_want.clone()),
        (r#"format = "ofx""#, ofx_xml(&ofx_rows, "2457.90"), ofx_want),
        (
            r#"format = "mt940""#,
            mt940_file,
            vec![("-42.10", "Stadtwerke München"), ("1500.00", "Gehalt November Arbeitgeber GmbH")],
        ),
        (r#"format = "camt053""#, camt_file, vec![("-42.10", "Strom & Gas AG"), ("1500.00", "Arbeitgeber")]),
    ];
    for (format, bytes, want) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("export.csv"), bytes).expect("write");
        let got = poll(&source(dir.path(), format)).await;
        let mut amounts: Vec<(Decimal, String)> = read(&got).into_iter().map(|(_, a, p)| (a, p)).collect();
        amounts.sort();
        let mut want: Vec<(Decimal, String)> = want.iter().map(|(a, p)| (dec(a), p.to_string())).collect();
        want.sort();
        assert_eq!(amounts, want, "{format}: {:?}", unread(&got));
        assert!(got.warnings.is_empty() && got.unreadable.is_empty(), "{format}: {:?}", unread(&got));
    }
}

/// A malformed file of each format is one warning naming the file and the line; the good file
/// beside it is read, and the bad one is not warned about again.
#[tokio::test]
async fn a_bad_file_warns_once_naming_its_line_and_the_others_are_read() {
    let bad_alipay = alipay(&[("2026-11-20 08:00:00", "咖啡店", "支出", "九块九", "交易成功", "B1")]);
    let good_alipay = alipay(&[("2026-11-21 08:00:00", "书店", "支出", "30.00", "交易成功", "G1")]);
    let bad_csv = bank_csv(&["03.11.2026;Bäckerei;Brötchen;2,50;", "31.13.2026;Kiosk;Zeitung;1,80;"]);
    let good_csv = bank_csv(&["05.11.2026;Kiosk;Zeitung;1,80;"]);
    let bad_ofx = ofx_sgml(&[("F1", "20261103", "-4O.00", "Typo")], "1.00");
    let good_ofx = ofx_sgml(&[("F2", "20261104", "-7.00", "Deli")], "1.00");
    let bad_camt =
        camt(&[("C1", "2026-11-03", "-42.10", "Shop", "BOOK"), ("C2", "2026-13-04", "-1.00", "Kiosk", "BOOK")], "1.00");
    let good_camt = camt(&[("C3", "2026-11-05", "-9.00", "Bäcker", "BOOK")], "1.00");
    let bad_mt940 = mt940(&[("261103D42,10NTRF", "Strom"), ("261104X1,00NTRF", "Kiosk")], "C261130EUR1,00");
    let good_mt940 = mt940(&[("261105D9,00NTRF", "Bäcker")], "C261130EUR1,00");
    let bad_rows = [
        ("2026-11-20 08:00:00", "店", "支出", "¥1.00", "支付成功", "X1"),
        ("2026-11-20 08:00:00", "店", "支出", "¥一块", "支付成功", "X2"),
    ];
    let good_rows = [("2026-11-21 08:00:00", "花店", "支出", "¥20.00", "支付成功", "X3")];
    let cases = [
        (r#"format = "wechat-csv""#, wechat_csv(&bad_rows), wechat_csv(&good_rows), "line 19:", "花店"),
        (r#"format = "wechat-xlsx""#, wechat_xlsx(&bad_rows), wechat_xlsx(&good_rows), "line 19:", "花店"),
        (r#"format = "mt940""#, bad_mt940, good_mt940, "line 7:", "Bäcker"),
        (r#"format = "camt053""#, bad_camt, good_camt, "line 12:", "Bäcker"),
        (r#"format = "alipay-csv""#, bad_alipay, good_alipay, "line 6:", "书店"),
        (r#"format = "ofx""#, bad_ofx, good_ofx, "line 20:", "Deli"),
        (CSV_MAPPING, bad_csv, good_csv, "line 5:", "Kiosk"),
    ];
    for (format, bad, good, line, payee) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a-bad.csv"), bad).expect("write");
        std::fs::write(dir.path().join("b-good.csv"), good).expect("write");
        let source = source(dir.path(), format);
        let first = poll(&source).await;
        assert_eq!(unread(&first).len(), 1, "{format}: {:?}", unread(&first));
        assert!(unread(&first)[0].contains("a-bad.csv") && unread(&first)[0].contains(line), "{:?}", unread(&first));
        assert_eq!(read(&first).iter().map(|t| t.2.as_str()).collect::<Vec<_>>(), vec![payee], "{format}");
        let second = poll(&source).await;
        assert!(unread(&second).is_empty() && read(&second).is_empty(), "{format}: {:?}", unread(&second));
    }
}

/// A file is known by its bytes: the same export saved again under another name is not read
/// again, in this run or after a restart (the hashes are kept and restored). What a poll read
/// counts as read only once its results are stored (the engine takes `kept`): until then the
/// next poll reads it again.
#[tokio::test]
async fn a_renamed_re_download_is_not_read_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let export = alipay(&[("2026-11-20 08:00:00", "咖啡店", "支出", "9.90", "交易成功", "R1")]);
    std::fs::write(dir.path().join("alipay_record_20261201.csv"), &export).expect("write");
    let first = source(dir.path(), r#"format = "alipay-csv""#);
    let now = Utc::now();
    let unstored = first.poll(&[ACCOUNT.to_owned()], now, now).await.expect("poll");
    assert_eq!(read(&unstored).len(), 1);
    let (again, kept) = poll_kept(&first).await;
    assert_eq!(read(&again), read(&unstored), "not stored yet, so read again");
    let kept = kept.expect("the files read are kept");

    std::fs::write(dir.path().join("alipay_record_20261201 (1).csv"), &export).expect("write");
    assert!(read(&poll(&first).await).is_empty(), "a copy under another name is not new");

    let restarted = source(dir.path(), r#"format = "alipay-csv""#);
    restarted.restore(&kept);
    let after = poll(&restarted).await;
    assert!(read(&after).is_empty(), "nothing is read again after a restart");
    let carried = after.accounts[0].1.as_ref().map(|o| o.balance).expect("read");
    assert_eq!(carried, BalanceSource::Carried, "an Alipay export states no balance: the engine carries it");
}

/// Without ids (a plain CSV): two identical coffees in one file are two transactions, and the
/// same coffee in a later, overlapping export is the same transaction, not a third.
#[tokio::test]
async fn overlapping_exports_are_not_doubled_and_identical_rows_stay_two() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = source(dir.path(), CSV_MAPPING);
    let coffee = "03.11.2026;Café;Kaffee;3,20;";
    std::fs::write(dir.path().join("november-1.csv"), bank_csv(&[coffee, coffee])).expect("write");
    let first = read(&poll(&source).await);
    assert_eq!(first.len(), 2, "two identical coffees in one file: {first:?}");
    assert_ne!(first[0].0, first[1].0);

    // The later export starts earlier: the coffees are on other lines there.
    let later = bank_csv(&["04.11.2026;Kino;Film;12,00;", coffee, coffee]);
    std::fs::write(dir.path().join("november-2.csv"), later).expect("write");
    let second = poll(&source).await;
    let ids: Vec<String> = read(&second).into_iter().map(|t| t.0).collect();
    assert_eq!(ids.len(), 3);
    assert!(first.iter().all(|(id, ..)| ids.contains(id)), "the coffees keep their ids: {first:?} {ids:?}");
    assert!(second.accounts.iter().all(|(_, o)| o.as_ref().is_ok_and(|o| o.balance == BalanceSource::Carried)));
}

/// A format that names its account puts its transactions on that `[[account]]`, and its closing
/// balance is the snapshot, dated when the file says; an account no file has named yet is missing.
#[tokio::test]
async fn a_closing_balance_is_the_snapshot_of_the_account_the_file_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ofx_source = source(dir.path(), r#"format = "ofx""#);
    let now = Utc::now();
    let accounts = [ACCOUNT.to_owned(), "other".to_owned()];
    std::fs::write(dir.path().join("nov.ofx"), ofx_sgml(&[("F1", "20261103", "-42.10", "Shop")], "2457.90"))
        .expect("write");
    let poll = ofx_source.poll(&accounts, now, now).await.expect("poll");
    let observation = poll.accounts[0].1.as_ref().expect("the named account");
    assert_eq!(observation.snapshot.balance, dec("2457.90"));
    assert_eq!(observation.snapshot.currency, "USD");
    assert_eq!(observation.snapshot.as_of.map(|t| t.to_rfc3339()), Some("2026-11-30T17:00:00+00:00".to_owned()));
    assert_eq!(observation.transactions.len(), 1);
    assert!(poll.accounts[1].1.is_err(), "no file named the other account yet");

    // camt.053: the CLBD balance (not the opening one), and a pending entry stays pending.
    std::fs::write(
        dir.path().join("nov.xml"),
        camt(
            &[("C1", "2026-11-03", "-42.10", "Shop", "BOOK"), ("C9", "2026-11-30", "-5.00", "Kiosk", "PDNG")],
            "57.90",
        ),
    )
    .expect("write");
    let camt_source = source(dir.path(), r#"format = "camt053""#);
    let poll = camt_source.poll(&accounts, now, now).await.expect("poll");
    let observation = poll.accounts[0].1.as_ref().expect("the named account");
    assert_eq!((observation.snapshot.balance, observation.snapshot.currency.as_str()), (dec("57.90"), "EUR"));
    let pending: Vec<bool> = observation.transactions.iter().map(|t| t.pending).collect();
    assert_eq!(pending, vec![false, true]);

    // MT940: :25: names the account, :62F: is the closing balance (here a debit balance).
    let mt940_dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(mt940_dir.path().join("nov.sta"), mt940(&[("261103D42,10NTRF", "Strom")], "D261130EUR12,34"))
        .expect("write");
    let poll = source(mt940_dir.path(), r#"format = "mt940""#).poll(&accounts, now, now).await.expect("poll");
    let observation = poll.accounts[0].1.as_ref().expect("the named account");
    assert_eq!((observation.snapshot.balance, observation.snapshot.currency.as_str()), (dec("-12.34"), "EUR"));
    assert_eq!(observation.snapshot.as_of.map(|t| t.to_rfc3339()), Some("2026-11-30T00:00:00+00:00".to_owned()));
}

/// `files` in a zip archive, AES-256 encrypted with `password`.
fn zipped(files: &[(&str, Vec<u8>)], password: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, password);
    for (name, bytes) in files {
        writer.start_file(*name, options).expect("start a file");
        writer.write_all(bytes).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

/// A password-protected zip, as Alipay mails its export, opens with `zip_password`; without it, or
/// with a wrong one, it is one warning that says what to set, never the password.
#[tokio::test]
async fn zip_password_opens_a_protected_export() {
    let export = alipay(&[("2026-11-20 08:00:00", "咖啡店", "支出", "9.90", "交易成功", "Z1")]);
    let archive = zipped(&[("alipay_record_20261201.csv", export)], "s3cret-zip");
    // WeChat Pay's workbook in a protected zip: the archive is opened, the workbook inside read.
    let workbook = zipped(
        &[("微信支付账单.xlsx", wechat_xlsx(&[("2026-11-20 08:00:00", "花店", "支出", "¥20.00", "支付成功", "W9")]))],
        "s3cret-zip",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("wechat.zip"), &workbook).expect("write");
    let poll_wechat = poll(&source(dir.path(), "format = \"wechat-xlsx\"\nzip_password = \"s3cret-zip\"")).await;
    assert!(unread(&poll_wechat).is_empty(), "{:?}", unread(&poll_wechat));
    assert_eq!(read(&poll_wechat).iter().map(|t| t.2.as_str()).collect::<Vec<_>>(), vec!["花店"]);
    for (password, warning) in [
        (Some("s3cret-zip"), None),
        (None, Some("password-protected: set zip_password")),
        (Some("wrong-guess"), Some("zip_password does not open it")),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("alipay.zip"), &archive).expect("write");
        let line = password.map(|p| format!("zip_password = \"{p}\"")).unwrap_or_default();
        let poll = poll(&source(dir.path(), &format!("format = \"alipay-csv\"\n{line}"))).await;
        match warning {
            None => {
                assert!(unread(&poll).is_empty(), "{:?}", unread(&poll));
                assert_eq!(read(&poll).len(), 1);
            }
            Some(says) => {
                assert_eq!(unread(&poll).len(), 1, "{:?}", unread(&poll));
                assert!(
                    unread(&poll)[0].contains("alipay.zip") && unread(&poll)[0].contains(says),
                    "{:?}",
                    unread(&poll)
                );
                assert!(!unread(&poll)[0].contains("wrong-guess") && read(&poll).is_empty());
            }
        }
    }
}

/// WeChat Pay's workbook as a spreadsheet program keeps it: amounts as number cells (one a sum a
/// writer worked out in binary floating point), times as date cells in Beijing time, a payee
/// whose `&` and `<` the XML escapes, goods in rich text. Every amount reads as the decimal the
/// sheet shows, every time as the Beijing time it shows.
#[tokio::test]
async fn a_wechat_workbook_of_number_and_date_cells_reads_exact_amounts_and_times() {
    use rust_xlsxwriter::{ExcelDateTime, Format};
    let rows = [
        ("2026-11-20 08:01:02", "Tom & Jerry <店>", "支出", 8.8, "N1"),
        ("2026-11-20 23:59:59", "书店", "支出", 1234.56, "N2"),
        ("2026-11-21 00:00:00", "红包", "收入", 0.07, "N3"),
        ("2026-11-21 12:30:00", "超市", "支出", 0.1 + 0.2, "N4"),
    ];
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = wechat_sheet(&mut workbook);
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let (bold, plain) = (Format::new().set_bold(), Format::new());
    for (i, (time, payee, way, amount, id)) in rows.iter().enumerate() {
        let row = 17 + i as u32;
        let time = ExcelDateTime::parse_from_str(time).expect("a time");
        sheet.write_datetime_with_format(row, 0, &time, &date).expect("write");
        sheet.write_rich_string(row, 3, &[(&bold, "瑞幸"), (&plain, "咖啡")]).expect("write");
        for (col, text) in [(1, "商户消费"), (2, *payee), (4, *way), (6, "零钱"), (7, "支付成功"), (8, *id)] {
            sheet.write_string(row, col, text).expect("write");
        }
        sheet.write_number(row, 5, *amount).expect("write");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("微信支付账单.xlsx"), workbook.save_to_buffer().expect("an xlsx")).expect("write");
    let got = poll(&source(dir.path(), r#"format = "wechat-xlsx""#)).await;
    assert!(unread(&got).is_empty(), "{:?}", unread(&got));
    let observation = got.accounts[0].1.as_ref().expect("the account was read");
    let mut read: Vec<_> = observation
        .transactions
        .iter()
        .map(|t| (t.id.clone(), t.amount.to_string(), t.payee.clone(), t.description.clone(), t.posted.to_rfc3339()))
        .collect();
    read.sort();
    let want = [
        ("N1", "-8.8", "Tom & Jerry <店>", "2026-11-20T00:01:02+00:00"),
        ("N2", "-1234.56", "书店", "2026-11-20T15:59:59+00:00"),
        ("N3", "0.07", "红包", "2026-11-20T16:00:00+00:00"),
        ("N4", "-0.3", "超市", "2026-11-21T04:30:00+00:00"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(id, amount, payee, posted)| {
            (id.to_string(), amount.to_string(), payee.to_string(), "瑞幸咖啡".to_string(), posted.to_string())
        })
        .collect();
    assert_eq!(read, want);
}

/// A package of `parts` as written, uncompressed and unencrypted.
fn package(parts: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in parts {
        writer.start_file(*name, zip::write::SimpleFileOptions::default()).expect("start a part");
        writer.write_all(bytes).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

/// A workbook with one part cut to half its length.
fn with_part_cut(workbook: &[u8], cut: &str) -> Vec<u8> {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(workbook)).expect("a zip");
    let mut parts = Vec::new();
    for index in 0..archive.len() {
        let mut part = archive.by_index(index).expect("a part");
        let name = part.name().expect("a name").into_owned();
        let mut bytes = Vec::new();
        part.read_to_end(&mut bytes).expect("read");
        if name == cut {
            bytes.truncate(bytes.len() / 2);
        }
        parts.push((name, bytes));
    }
    package(&parts.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect::<Vec<_>>())
}

/// What is no WeChat workbook is one warning that names the file and says what is wrong with it:
/// not a zip, a zip without the sheet, a sheet or its strings cut off.
#[tokio::test]
async fn a_malformed_workbook_is_one_warning_naming_what_is_wrong() {
    let good = wechat_xlsx(&[("2026-11-20 08:00:00", "花店", "支出", "20.00", "支付成功", "W1")]);
    let no_sheet = package(&[("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")]);
    let cases = [
        // The older CSV export, saved under the workbook's name.
        (wechat_csv(&[("2026-11-20 08:00:00", "花店", "支出", "20.00", "支付成功", "W1")]), "not an xlsx workbook ("),
        (no_sheet, "the first sheet cannot be read (the workbook has no xl/worksheets/sheet1.xml"),
        (with_part_cut(&good, "xl/worksheets/sheet1.xml"), "the first sheet cannot be read (xl/worksheets/sheet1.xml"),
        (with_part_cut(&good, "xl/sharedStrings.xml"), "the first sheet cannot be read (xl/sharedStrings.xml"),
    ];
    for (bytes, says) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("账单.xlsx"), bytes).expect("write");
        let got = poll(&source(dir.path(), r#"format = "wechat-xlsx""#)).await;
        assert_eq!(unread(&got).len(), 1, "{says}: {:?}", unread(&got));
        assert!(unread(&got)[0].contains("账单.xlsx") && unread(&got)[0].contains(says), "{:?}", unread(&got));
        assert!(read(&got).is_empty());
    }
}

/// A format without account numbers needs exactly one account to put its transactions on: the
/// config says so (and a poll asked for more refuses, should a caller skip the config).
#[tokio::test]
async fn a_format_without_account_numbers_needs_one_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let two = config_text(&dir.path().join("state"), dir.path(), r#"format = "alipay-csv""#)
        + "\n[[account]]\nsource = \"wallet\"\nid = \"second\"\n";
    let error = Config::parse(&two, Path::new("test.toml")).map(drop).expect_err("two accounts");
    let says =
        "alipay-csv files do not name their account, so the source \"wallet\" needs exactly one [[account]] (it has 2)";
    assert!(error.to_string().contains(says), "{error}");
    let ofx = two.replace("alipay-csv", "ofx");
    assert!(Config::parse(&ofx, Path::new("test.toml")).is_ok(), "OFX names its accounts");

    let source = source(dir.path(), r#"format = "alipay-csv""#);
    let now = Utc::now();
    let error = source.poll(&[ACCOUNT.to_owned(), "other".to_owned()], now, now).await.expect_err("two accounts");
    assert!(error.to_string().contains("exactly one [[account]]"), "{error}");
}

/// The theft scenario through Alipay exports and the real binary: a baseline export, then a later
/// (overlapping) export with a large payment to a payee never seen before is `large_debit` and
/// `new_payee`, and nothing else; `check`, `history` and `status` say what was read; `run` on a
/// one-second schedule picks up a newly dropped file and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn payguard_once_finds_a_theft_in_an_alipay_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    let drop_dir = dir.path().join("exports");
    std::fs::create_dir(&drop_dir).expect("mkdir");
    let config = dir.path().join("payguard.toml");
    std::fs::write(&config, config_text(&dir.path().join("state"), &drop_dir, r#"format = "alipay-csv""#))
        .expect("write the config");
    let coffee = (beijing_ago(40), "咖啡店", "支出", "9.90", "交易成功", "2026-1");
    let salary = (beijing_ago(30), "工资", "收入", "5000.00", "交易成功", "2026-2");
    let rows = |list: &[(String, &'static str, &'static str, &'static str, &'static str, &'static str)]| {
        alipay(&list.iter().map(|(t, p, w, a, s, i)| (t.as_str(), *p, *w, *a, *s, *i)).collect::<Vec<_>>())
    };
    std::fs::write(drop_dir.join("alipay_record_1.csv"), rows(&[coffee.clone(), salary.clone()])).expect("write");
    let baseline = support::run(&config, &["once", "--json"]).await;
    assert_eq!(support::stdout_of(&baseline), "", "a baseline raises nothing");

    let theft = (beijing_ago(1), "陌生商户", "支出", "1800.00", "交易成功", "2026-3");
    std::fs::write(drop_dir.join("alipay_record_2.csv"), rows(&[coffee, salary, theft])).expect("write");
    let output = support::run(&config, &["once", "--json"]).await;
    let findings: Vec<Value> =
        support::stdout_of(&output).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"large_debit") && kinds.contains(&"new_payee"), "{kinds:?}");
    assert!(!kinds.contains(&"unexplained_change"), "the running sum moves by what was read: {kinds:?}");
    let debit = findings.iter().find(|f| f["kind"] == "large_debit").expect("large_debit");
    assert_eq!((debit["source"].as_str(), debit["account"].as_str()), (Some("wallet"), Some(ACCOUNT)));
    assert!(debit["title"].as_str().is_some_and(|t| t.contains("1800.00 CNY to 陌生商户")), "{debit}");

    let check = support::stdout_of(&support::run(&config, &["check"]).await);
    assert!(check.contains("alipay-csv in") && check.contains("low_balance means nothing"), "{check}");
    let history = support::stdout_of(&support::run(&config, &["history", ACCOUNT]).await);
    assert_eq!(history.matches("咖啡店").count(), 1, "the overlapping coffee is one: {history}");
    assert!(history.contains("陌生商户"), "{history}");

    // `run` on a one-second schedule reads a file dropped while it runs. The good file is written
    // before the bad one, so when the bad one is warned about the good one has been read.
    let every_second = std::fs::read_to_string(&config).expect("config").replace("*/30 * * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    let mut daemon = support::daemon_log::Logged::spawn(support::daemon(&config));
    std::fs::write(
        drop_dir.join("alipay_record_3.csv"),
        rows(&[(beijing_ago(0), "书店", "支出", "30.00", "交易成功", "2026-4")]),
    )
    .expect("write");
    std::fs::write(drop_dir.join("broken.csv"), b"not an export\n").expect("write");
    let warned = daemon.wait_for(&["broken.csv"], Duration::from_secs(30));
    assert!(warned.contains("a record could not be read"), "{warned}");
    support::signal(&daemon.child, "TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), Some(0));
    let history = support::stdout_of(&support::run(&config, &["history", ACCOUNT]).await);
    assert!(history.contains("书店"), "{history}");
    let status = support::stdout_of(&support::run(&config, &["status"]).await);
    assert!(status.contains("wallet (statements): ok") && status.contains("CNY"), "{status}");
    let alerts = support::stdout_of(&support::run(&config, &["alerts"]).await);
    let unread: Vec<&str> = alerts.lines().filter(|l| l.contains("unreadable_record")).collect();
    assert_eq!(unread.len(), 1, "one alert for the broken file: {alerts}");
    assert!(unread[0].contains("broken.csv"), "{alerts}");

    // `export` hands over the exports themselves, byte for byte, as the record of the theft.
    let out = dir.path().join("bundle");
    let said = support::stdout_of(
        &support::run(
            &config,
            &["export", "--account", ACCOUNT, "--since", "30d", "--out", &out.display().to_string()],
        )
        .await,
    );
    assert!(said.contains("record(s) the transactions came from in evidence/"), "{said}");
    let original = std::fs::read(drop_dir.join("alipay_record_2.csv")).expect("the export");
    let handed: Vec<Vec<u8>> = std::fs::read_dir(out.join("evidence"))
        .expect("evidence/")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    assert!(handed.contains(&original), "the export with the theft is in the bundle");
}

/// `check` reads the kind's keys and refuses what it cannot use, saying how to fix it.
#[test]
fn config_mistakes_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (format, says) in [
        ("", "needs format"),
        (r#"format = "qif""#, "unknown format \"qif\""),
        (r#"format = "csv""#, "[source.mapping]"),
        (
            "format = \"csv\"\n[source.mapping]\ndate = \"d\"\namount = \"a\"\ndebit = \"s\"\ncurrency = \"EUR\"",
            "either as amount",
        ),
        (
            "format = \"csv\"\n[source.mapping]\ndate = \"d\"\namount = \"a\"\ncurrency = \"EUR\"\nencoding = \"klingon\"",
            "unknown encoding",
        ),
    ] {
        let text = config_text(&dir.path().join("state"), dir.path(), format);
        let error = Config::parse(&text, Path::new("test.toml")).map(drop).expect_err(format);
        assert!(error.to_string().contains(says), "{format}: {error}");
    }
}

/// A statement too large for one store transaction is written in parts: every transaction is
/// stored once, the theft among them and the drop it made are said, and the parts' balances keep
/// it reconciled, so nothing is "unexplained".
#[tokio::test(flavor = "multi_thread")]
async fn a_large_statement_is_stored_whole_and_judged_once() {
    use payguard::daemon::{Clock, Engine};
    use payguard::model::{AccountRef, FindingKind};
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let text = config_text(&state, dir.path(), r#"format = "camt053""#);
    let config = Config::parse(&text, Path::new("test.toml")).expect("config");
    std::fs::create_dir_all(&state).expect("state dir");
    let store = payguard::store::Store::open(&state).expect("store");
    let engine = Engine::new(config, store.clone(), payguard::notify::Stream::Stderr, Clock::System).expect("engine");
    std::fs::write(dir.path().join("oct.xml"), camt(&[("B1", "2026-10-03", "-4.00", "Shop", "BOOK")], "10000.00"))
        .expect("write");
    let (_, runs) = engine.poll_all().await;
    assert!(runs[0].succeeded(), "the baseline: {:?}", runs[0].error);

    let coffees: Vec<String> = (0..4_500).map(|i| format!("N{i}")).collect();
    let mut entries: Vec<(&str, &str, &str, &str, &str)> =
        coffees.iter().map(|id| (id.as_str(), "2026-11-03", "-1.00", "Shop", "BOOK")).collect();
    entries.push(("THEFT", "2026-11-20", "-1600.00", "Thief Ltd", "BOOK"));
    std::fs::write(dir.path().join("nov.xml"), camt(&entries, "3900.00")).expect("write");
    let (_, runs) = engine.poll_all().await;
    assert!(runs[0].succeeded(), "the large statement: {:?} {:?}", runs[0].error, runs[0].store_error);
    let mut kinds: Vec<FindingKind> = runs[0].notices.iter().map(|(alert, _)| alert.finding.kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(kinds, vec![FindingKind::BalanceDrop, FindingKind::LargeDebit, FindingKind::NewPayee]);
    let account = AccountRef::new("wallet", ACCOUNT);
    let stored = store.transactions_between(&account, Utc::now() - chrono::TimeDelta::days(3650), None).expect("read");
    assert_eq!(stored.len(), 4_502);
    let record = store.account(&account).expect("read").expect("the account's record");
    assert!(record.last_poll_at > record.first_poll_at, "the last part says the account was polled");
    assert!(store.verify_audit().expect("verify").is_intact());
}

/// A read of more entries than one poll hands over comes in parts: each part says more waits and
/// is carried, the parts hold every entry once, identical id-less rows keep distinct ids across the
/// parts' border, a part not stored is handed over again, and a restart after a stored part goes on
/// from there, the ids derived as one uninterrupted read derives them.
#[tokio::test]
async fn a_large_read_is_handed_over_in_parts_and_goes_on_after_a_restart() {
    use payguard::source::statements::ENTRIES_PER_POLL;
    let dir = tempfile::tempdir().expect("temp dir");
    let coffee = "03.11.2026;Café;Kaffee;3,20;";
    let rows = vec![coffee; ENTRIES_PER_POLL + 1_500];
    std::fs::write(dir.path().join("year.csv"), bank_csv(&rows)).expect("write");
    let whole = source(dir.path(), CSV_MAPPING);
    let mut expected = Vec::new();
    loop {
        let (poll, _) = poll_kept(&whole).await;
        expected.extend(read(&poll).into_iter().map(|t| t.0));
        if !poll.more {
            break;
        }
    }
    expected.sort();
    expected.dedup();
    assert_eq!(expected.len(), rows.len(), "every identical coffee is one transaction of its own");

    let first = source(dir.path(), CSV_MAPPING);
    let now = Utc::now();
    let part = first.poll(&[ACCOUNT.to_owned()], now, now).await.expect("poll");
    assert!(part.more, "more waits after the first part");
    assert_eq!(read(&part).len(), ENTRIES_PER_POLL);
    assert!(part.accounts.iter().all(|(_, o)| o.as_ref().is_ok_and(|o| o.balance == BalanceSource::CarriedPart)));
    let (again, kept) = poll_kept(&first).await;
    assert!(read(&again) == read(&part), "a part not stored is handed over again");
    let kept = kept.expect("where the read stands is kept");

    let restarted = source(dir.path(), CSV_MAPPING);
    restarted.restore(&kept);
    let rest = poll(&restarted).await;
    assert!(!rest.more, "the read ends with its last part");
    assert_eq!(rest.accounts[0].1.as_ref().map(|o| o.balance).ok(), Some(BalanceSource::Carried));
    let mut ids: Vec<String> = read(&part).into_iter().chain(read(&rest)).map(|t| t.0).collect();
    ids.sort();
    assert!(ids == expected, "the parts hold every entry once, with the ids one read gives");
    assert!(read(&poll(&restarted).await).is_empty(), "the file is read");
}

/// The engine stores a read in parts as it comes: a theft in the first part and a payee never seen
/// in the last are said, each once; the balance (a CSV states none) is carried through the parts
/// to the sum of what the files post, so nothing is "unexplained"; the account's record is written
/// by the last part.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_in_parts_is_judged_part_by_part_and_its_balance_carried() {
    use payguard::daemon::{Clock, Engine};
    use payguard::model::{AccountRef, FindingKind};
    use payguard::source::statements::ENTRIES_PER_POLL;
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let config = Config::parse(&config_text(&state, dir.path(), CSV_MAPPING), Path::new("test.toml")).expect("config");
    std::fs::create_dir_all(&state).expect("state dir");
    let store = payguard::store::Store::open(&state).expect("store");
    let engine = Engine::new(config, store.clone(), payguard::notify::Stream::Stderr, Clock::System).expect("engine");
    let day = |days: i64| (Utc::now() - chrono::TimeDelta::days(days)).format("%d.%m.%Y").to_string();
    std::fs::write(dir.path().join("a.csv"), bank_csv(&[&format!("{};Café;Kaffee;3,20;", day(20))])).expect("write");
    let (_, runs) = engine.poll_all().await;
    assert!(runs[0].succeeded() && runs[0].notices.is_empty(), "the baseline: {:?}", runs[0].error);

    let coffees: Vec<String> =
        (0..2 * ENTRIES_PER_POLL).map(|i| format!("{};Café;Kaffee {i};1,00;", day(10))).collect();
    let mut rows: Vec<&str> = coffees.iter().map(String::as_str).collect();
    let theft = format!("{};Thief Ltd;Transfer;1600,00;", day(9));
    let stranger = format!("{};Unknown Shop;Goods;5,00;", day(1));
    rows.insert(0, &theft);
    rows.push(&stranger);
    std::fs::write(dir.path().join("b.csv"), bank_csv(&rows)).expect("write");
    let (_, runs) = engine.poll_all().await;
    assert!(runs[0].succeeded(), "the read: {:?} {:?}", runs[0].error, runs[0].store_error);
    let titles: Vec<(FindingKind, String)> =
        runs[0].notices.iter().map(|(alert, _)| (alert.finding.kind, alert.finding.title.clone())).collect();
    let said = |kind, payee: &str| titles.iter().filter(|(k, t)| *k == kind && t.contains(payee)).count();
    assert_eq!(said(FindingKind::LargeDebit, "Thief Ltd"), 1, "{titles:?}");
    assert_eq!(said(FindingKind::NewPayee, "Thief Ltd"), 1, "{titles:?}");
    assert_eq!(said(FindingKind::NewPayee, "Unknown Shop"), 1, "{titles:?}");
    assert!(titles.iter().all(|(k, _)| *k != FindingKind::UnexplainedChange), "{titles:?}");

    let account = AccountRef::new("wallet", ACCOUNT);
    let stored = store.transactions_between(&account, Utc::now() - chrono::TimeDelta::days(3650), None).expect("read");
    assert_eq!(stored.len(), rows.len() + 1);
    let posted: Decimal = stored.iter().map(|t| t.amount).sum();
    let last = store.snapshots_between(&account, Utc::now() - chrono::TimeDelta::days(1), None).expect("snapshots");
    assert_eq!(last.last().map(|s| s.balance), Some(posted), "carried to the sum of what posted");
    let record = store.account(&account).expect("read").expect("the account's record");
    assert!(record.last_poll_at > record.first_poll_at, "the last part says the account was polled");
    assert!(store.verify_audit().expect("verify").is_intact());
}
