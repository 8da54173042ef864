//! The statement-file benchmark (issue 17): a 100,000-row CSV export and a 20 MB CAMT.053 file,
//! each dropped into a `kind = "statements"` folder and read, judged and stored by one poll of the
//! real `Engine` on a real sled store. Printed per file: its size and rows, the poll's wall time
//! (target: a 100,000-row file in the store within 5 s), the transactions stored, and the process's
//! resident memory before and after with the poll's own peak (and its growth over before),
//! beside the same figures for a file a tenth the size, so memory's growth with the file's size
//! can be read off (target: flat). Run:
//! `cargo bench --bench statements`; `PAYGUARD_BENCH_ROWS` changes the CSV's rows.

// A benchmark is test code: a failed unwrap ends the run with its reason, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use payguard::config::Config;
use payguard::daemon::{Clock, Engine};
use payguard::model::AccountRef;
use payguard::notify::Stream;
use payguard::store::Store;
use support::{Counting, reset_peak, status_kib};

#[global_allocator]
static HEAP: Counting = Counting;

const IBAN: &str = "DE89370400440532013000";

/// The files polled, each in a process of its own, so one's memory is not another's: (label,
/// format, rows of the CSV or bytes of the CAMT file, at `rows` rows).
fn cases(rows: usize) -> [(&'static str, &'static str, usize); 4] {
    [
        ("csv, a tenth", "csv", rows / 10),
        ("csv", "csv", rows),
        // 20 MB at 100,000 rows, and in proportion.
        ("camt053, a tenth", "camt053", rows * 20),
        ("camt053", "camt053", rows * 200),
    ]
}

fn main() {
    let rows: usize = std::env::var("PAYGUARD_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    if let Some(case) = std::env::var("PAYGUARD_BENCH_CASE").ok().and_then(|c| c.parse::<usize>().ok()) {
        let (label, format, size) = cases(rows)[case];
        let file = if format == "csv" { csv(size) } else { camt(size) };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(poll_file(label, format, file));
        return;
    }
    println!(
        "statements benchmark: one poll of the real engine per file, on a real sled store, each in a process of its own\n"
    );
    for case in 0..cases(rows).len() {
        let run = std::process::Command::new(std::env::current_exe().unwrap())
            .env("PAYGUARD_BENCH_CASE", case.to_string())
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        print!("{}", String::from_utf8_lossy(&run.stdout));
    }
}

/// Drops `file` into a fresh statements folder, polls once, and prints what it cost.
async fn poll_file(label: &str, format: &str, (file, rows): (Vec<u8>, usize)) {
    let dir = tempfile::tempdir().unwrap();
    let drop_dir = dir.path().join("exports");
    std::fs::create_dir(&drop_dir).unwrap();
    let name = if format == "csv" { "export.csv" } else { "statement.xml" };
    std::fs::write(drop_dir.join(name), &file).unwrap();
    let size = file.len();
    // The bench's own copy of the file is not the poll's to hold.
    drop(file);
    let account = if format == "csv" { "main" } else { IBAN };
    let config = Config::parse(&config_text(dir.path(), &drop_dir, format, account), Path::new("bench.toml")).unwrap();
    std::fs::create_dir_all(&config.daemon.state_dir).unwrap();
    let store = Store::open(&config.daemon.state_dir).unwrap();
    let engine = Engine::new(config, store.clone(), Stream::Stderr, Clock::System).unwrap();
    let before = status_kib("VmRSS");
    let held = Counting::live();
    reset_peak();
    Counting::reset_peak();
    let started = Instant::now();
    let runs = engine.poll_all().await;
    let took = started.elapsed();
    let after = status_kib("VmRSS");
    let peak = status_kib("VmHWM");
    let heap_peak = Counting::peak().saturating_sub(held);
    let stored = store
        .transactions_between(&AccountRef::new("bank", account), Utc::now() - TimeDelta::days(3650), None)
        .unwrap()
        .len();
    assert!(runs.1.iter().all(|r| r.error.is_none()), "the poll failed");
    let mut line = String::new();
    let _ = write!(
        line,
        "{label:<18} {:>6.1} MB {rows:>7} rows: stored {stored:>7} in {:>6} ms ({:>7.0} rows/s); RSS {} -> {} MiB, the poll's peak {} MiB (+{} MiB); heap at most +{:.1} MiB",
        size as f64 / 1e6,
        took.as_millis(),
        rows as f64 / took.as_secs_f64(),
        before / 1024,
        after / 1024,
        peak / 1024,
        peak.saturating_sub(before) / 1024,
        heap_peak as f64 / (1 << 20) as f64,
    );
    println!("{line}");
}

fn config_text(dir: &Path, drop_dir: &Path, format: &str, account: &str) -> String {
    let mapping = match format {
        "csv" => {
            "\n[source.mapping]\ndate = \"date\"\namount = \"amount\"\npayee = \"payee\"\ndescription = \"memo\"\nid = \"id\"\ncurrency = \"EUR\"\n"
        }
        _ => "",
    };
    format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"statements\"\ndir = \"{}\"\nformat = \"{format}\"\nschedule = \"0 * * * *\"\n{mapping}\n[[account]]\nsource = \"bank\"\nid = \"{account}\"\nlearning_period = \"0s\"\n",
        dir.join("state").display(),
        drop_dir.display()
    )
}

/// A CSV export of `rows` rows over the last 300 days, each a payment to one of 500 payees.
fn csv(rows: usize) -> (Vec<u8>, usize) {
    let start = Utc::now() - TimeDelta::days(300);
    let mut text = String::from("date,amount,payee,memo,id\n");
    for i in 0..rows {
        let day = (start + TimeDelta::minutes((i as i64 * 300 * 24 * 60) / rows.max(1) as i64)).format("%Y-%m-%d");
        let _ = writeln!(text, "{day},-{}.{:02},Payee {},Card payment {i},tx-{i}", 1 + i % 90, i % 100, i % 500);
    }
    (text.into_bytes(), rows)
}

/// A CAMT.053 statement of about `bytes` bytes: entries over the last 300 days with a closing
/// balance.
fn camt(bytes: usize) -> (Vec<u8>, usize) {
    let mut text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-12-01T06:00:00+01:00</CreDtTm></GrpHdr>\n<Stmt><Id>S1</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">1000000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{}</Dt></Dt></Bal>\n",
        Utc::now().format("%Y-%m-%d")
    );
    let start = Utc::now() - TimeDelta::days(300);
    let mut rows = 0;
    while text.len() < bytes {
        let day = (start + TimeDelta::minutes(rows as i64 % (300 * 24 * 60))).format("%Y-%m-%d");
        let _ = writeln!(
            text,
            "<Ntry><Amt Ccy=\"EUR\">{}.{:02}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>REF{rows}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Cdtr><Pty><Nm>Payee {}</Nm></Pty></Cdtr></RltdPties><RmtInf><Ustrd>Invoice {rows}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>",
            1 + rows % 90,
            rows % 100,
            rows % 500
        );
        rows += 1;
    }
    text.push_str("</Stmt></BkToCstmrStmt></Document>\n");
    (text.into_bytes(), rows)
}
