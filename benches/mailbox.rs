//! The mailbox benchmark (issue 17): a `kind = "imap"` source on a real Dovecot (the integration
//! tests' server, over TLS on loopback) whose folder holds 20,000 mails, 2,000 of them bank
//! notices its rule reads and the rest newsletters from other senders. The folder is filled by
//! writing the maildir's files directly (the tests' helper appends each mail over IMAP in a session
//! of its own, some 25 ms a mail), and Dovecot indexes them before anything is timed. Then the real
//! `Engine` on a real sled store polls three times: a first poll of all 20,000 mails; a steady
//! poll after 10 more are appended over IMAP (4 of them notices); and a poll with no new mail.
//! Printed per poll: its wall time and this process's CPU time; what Dovecot says the session
//! fetched (its logout line's `hdr_count` and `body_count`: the headers of each new mail, the whole
//! of candidates only; target: a steady poll costs no more than its new mails); the transactions
//! stored; and the process's resident memory with its peak. Dovecot re-reads a changed maildir
//! when a session next opens the folder; the bench does that just before each poll and prints its
//! time apart. Run: `cargo bench --bench mailbox` as root (Dovecot runs as root
//! here); without Dovecot it says so and exits 0. `PAYGUARD_BENCH_MAILS` sets the folder's size (a
//! tenth of it notices).

// A benchmark is test code: a failed unwrap ends the run with its reason, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // the tests use more of it
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;

mod support;

use std::path::Path;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use payguard::config::Config;
use payguard::daemon::{Clock, Engine};
use payguard::model::AccountRef;
use payguard::notify::Stream;
use payguard::store::Store;
use support::{cpu_ms, status_kib};

use dovecot::{Dovecot, PASSWORD, USER};

const FOLDER: &str = "Bank";
const ACCOUNT: &str = "card-1234";

fn main() {
    let mails: usize = std::env::var("PAYGUARD_BENCH_MAILS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    // SAFETY: no other thread runs yet. The source trusts the system's CAs, which this names; the
    // file is written once Dovecot has made its CA.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = match Dovecot::start().await {
            Ok(server) => server,
            Err(reason) => {
                println!("mailbox benchmark skipped: {reason}");
                return;
            }
        };
        std::fs::copy(server.ca_file(), &ca).unwrap();
        println!("mailbox benchmark: the imap source through the real engine, on a real sled store and Dovecot\n");
        let filling = Instant::now();
        server.deliver(FOLDER, (0..mails).map(|n| if n % 10 == 3 { notice(n) } else { newsletter(n) }));
        let (indexed, held) = open_folder(&server).await;
        assert_eq!(held, mails, "Dovecot sees every mail written");
        println!(
            "filled {FOLDER} with {mails} mails in {} ms, {indexed} ms of it Dovecot indexing them\n",
            filling.elapsed().as_millis()
        );

        let config = Config::parse(&config_text(dir.path(), server.port), Path::new("bench.toml")).unwrap();
        std::fs::create_dir_all(&config.daemon.state_dir).unwrap();
        let store = Store::open(&config.daemon.state_dir).unwrap();
        let engine = Engine::new(config, store.clone(), Stream::Stderr, Clock::System).unwrap();

        poll("first poll", &server, &engine, &store).await;
        for n in mails..mails + 10 {
            let mail = if n % 10 < 4 { notice(n) } else { newsletter(n) };
            server.append(FOLDER, &mail).await;
        }
        poll("steady poll", &server, &engine, &store).await;
        poll("no new mail", &server, &engine, &store).await;
    });
}

/// Polls once and prints what it cost. Dovecot re-reads a maildir that changed when a session next
/// opens it (a second for 20,000 files here), whoever that is: it is done first and shown apart,
/// since it is this server's storage at work, not the source's.
async fn poll(label: &str, server: &Dovecot, engine: &Engine, store: &Store) {
    let (resync, _) = open_folder(server).await;
    let stored_before = stored(store);
    let before = status_kib("VmRSS");
    let cpu = cpu_ms();
    let started = Instant::now();
    let (_, runs) = engine.poll_all().await;
    let took = started.elapsed();
    let cpu = cpu_ms() - cpu;
    let after = status_kib("VmRSS");
    let peak = status_kib("VmHWM");
    assert!(runs.iter().all(|r| r.error.is_none() && r.store_error.is_none()), "the poll failed");
    let (headers, bodies) = server.last_session_fetched().await;
    println!(
        "{label:<12} {:>5} ms (payguard's CPU {cpu:>4} ms; Dovecot's resync before it {resync:>4} ms): headers fetched {headers:>5}, bodies fetched {bodies:>4}, transactions stored {:>4}; RSS {} -> {} MiB, peak so far {} MiB",
        took.as_millis(),
        stored(store) - stored_before,
        before / 1024,
        after / 1024,
        peak / 1024,
    );
}

/// Opens the folder as a poll would: how long the server took, in ms, and how many mails it holds.
async fn open_folder(server: &Dovecot) -> (u128, usize) {
    let mut session = server.session().await;
    let started = Instant::now();
    let exists = session.examine(FOLDER).await.unwrap().exists;
    let took = started.elapsed().as_millis();
    session.logout().await.unwrap();
    (took, exists as usize)
}

fn stored(store: &Store) -> usize {
    store
        .transactions_between(&AccountRef::new("mail", ACCOUNT), Utc::now() - TimeDelta::days(3650), None)
        .unwrap()
        .len()
}

fn config_text(dir: &Path, port: u16) -> String {
    format!(
        r#"[daemon]
state_dir = "{state}"

[[source]]
name = "mail"
kind = "imap"
host = "localhost"
port = {port}
username = "{USER}"
password = "{PASSWORD}"
folder = "{FOLDER}"
schedule = "0 * * * *"

[[source.rule]]
account = "{ACCOUNT}"
from = "examplebank.com"
subject = "card alert"
pattern = '(?P<direction>charged|credited) (?P<currency>[A-Z]{{3}}) (?P<amount>[\d,.]+) at (?P<payee>.+?) on (?P<time>\d{{4}}-\d\d-\d\d \d\d:\d\d)\. Available balance: [A-Z]{{3}} (?P<balance>[\d,.]+)'
out_words = ["charged"]

[[account]]
source = "mail"
id = "{ACCOUNT}"
learning_period = "0s"
"#,
        state = dir.join("state").display(),
    )
}

/// The `n`th mail's time: mail `n` of the folder arrived `n` minutes after the first, which was
/// about 300 days ago at 20,000 mails.
fn time_of(n: usize) -> chrono::DateTime<Utc> {
    Utc::now() - TimeDelta::days(300) + TimeDelta::minutes(n as i64 * 21)
}

/// A card notice the rule reads: a payment to one of 200 payees.
fn notice(n: usize) -> Vec<u8> {
    let at = time_of(n);
    format!(
        "From: Example Bank <alerts@examplebank.com>\r\nTo: alice@example.org\r\nSubject: Card alert\r\n\
         Date: {date}\r\nMessage-ID: <n-{n}@examplebank.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your card ending 1234 was charged USD {amount}.{cents:02} at Payee {payee} on {time}. Available balance: USD 5,000.00\r\n",
        date = at.to_rfc2822(),
        amount = 1 + n % 90,
        cents = n % 100,
        payee = n % 200,
        time = at.format("%Y-%m-%d %H:%M"),
    )
    .into_bytes()
}

/// Mail from one of 50 other senders, about a kilobyte of text.
fn newsletter(n: usize) -> Vec<u8> {
    format!(
        "From: Shop {shop} <news@shop{shop}.example>\r\nTo: alice@example.org\r\nSubject: This week's offers, issue {n}\r\n\
         Date: {date}\r\nMessage-ID: <news-{n}@shop{shop}.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        shop = n % 50,
        date = time_of(n).to_rfc2822(),
        body = "Everything charged USD 1.00 less this week, at every shop near you.\r\n".repeat(15),
    )
    .into_bytes()
}
