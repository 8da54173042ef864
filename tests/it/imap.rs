//! `kind = "imap"` end to end against a real Dovecot (see `support::dovecot`): bank notices in
//! English, in GBK Chinese and in HTML only are read by the source's rules through the real
//! binary; mail no rule matches is counted; each mail is read once across runs and across a
//! changed UIDVALIDITY; nothing is flagged; a theft is found through the mailbox; a wrong
//! password is `source_down` at once. Root only (Dovecot runs as root here; CI runs as root).

use crate::support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::dovecot::{Dovecot, PASSWORD, USER};

const FOLDER: &str = "Bank";
/// Only guards against a hang.
const BOUND: Duration = Duration::from_secs(60);

/// Dovecot, or `None` with the reason printed: the test then has nothing to run against.
async fn dovecot() -> Option<Dovecot> {
    match Dovecot::start().await {
        Ok(server) => Some(server),
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

fn config(port: u16, dir: &Path, password: &str, rest: &str) -> PathBuf {
    let text = format!(
        r#"[daemon]
state_dir = "{state}"

[[source]]
name = "mail"
kind = "imap"
host = "localhost"
port = {port}
username = "{USER}"
password = "{password}"
folder = "{FOLDER}"
schedule = "0 * * * *"

[[source.rule]]
account = "card-1234"
from = "examplebank.com"
pattern = '(?P<direction>charged|credited) (?P<currency>[A-Z]{{3}}) (?P<amount>[\d,.]+) at (?P<payee>.+?) on (?P<time>\d{{4}}-\d\d-\d\d \d\d:\d\d)\. Available balance: [A-Z]{{3}} (?P<balance>[\d,.]+)'
out_words = ["charged"]

[[source.rule]]
account = "cmb-5678"
from = "cmbchina.com"
subject = "交易提醒"
pattern = '(?P<direction>支出|收入)人民币(?P<amount>[\d,.]+)元，商户：(?P<payee>[^，]+)，余额(?P<balance>[\d,.]+)元'
out_words = ["支出"]
currency = "CNY"

[[account]]
source = "mail"
id = "card-1234"
large_debit = "1000.00"
learning_period = "0s"

[[account]]
source = "mail"
id = "cmb-5678"
learning_period = "0s"
{rest}"#,
        state = dir.join("state").display(),
    );
    let path = dir.join("payguard.toml");
    std::fs::write(&path, text).expect("write the config");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    path
}

fn command(server: &Dovecot, config: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.env("SSL_CERT_FILE", server.ca_file()).arg("--config").arg(config).arg("--log-level").arg("info");
    command
}

async fn payguard(server: &Dovecot, config: &Path, args: &[&str]) -> Output {
    let mut command = command(server, config);
    command.args(args);
    tokio::task::spawn_blocking(move || command.output().expect("run payguard")).await.expect("join")
}

/// How many notices a run read and how many mails no rule matched, as its log says.
fn read_counts(output: &Output) -> Option<(u32, u32)> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.contains("new mail read"))?;
    let number = |key: &str| -> u32 {
        let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
        line[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a count")
    };
    Some((number("matched="), number("unmatched=")))
}

/// The transactions kept for `account`: (amount, payee) in time order.
async fn history(server: &Dovecot, config: &Path, account: &str) -> Vec<(String, String)> {
    let output = payguard(server, config, &["history", account, "--since", "3650d", "--format", "json"]).await;
    let text = support::stdout_of(&output);
    let mut found: Vec<(String, String, String)> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .filter(|record| record["type"] == "transaction")
        .map(|record| {
            let t = &record["transaction"];
            let field = |name: &str| t[name].as_str().map_or_else(|| t[name].to_string(), str::to_owned);
            (field("posted"), field("amount"), field("payee"))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, amount, payee)| (amount, payee)).collect()
}

fn card_notice(id: &str, verb: &str, amount: &str, payee: &str, time: &str, balance: &str) -> Vec<u8> {
    format!(
        "From: Example Bank <alerts@examplebank.com>\r\nTo: alice@example.org\r\nSubject: Card alert\r\n\
         Date: Mon, 30 Nov 2026 09:30:00 +0000\r\nMessage-ID: <{id}@examplebank.com>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Your card ending 1234 was {verb} USD {amount} at {payee} on {time}. Available balance: USD {balance}\r\n"
    )
    .into_bytes()
}

/// A Chinese bank's notice as such banks send it: GBK text, base64, the subject an encoded word.
fn gbk_notice() -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = "尊敬的客户：您尾号5678的账户于11月30日10:00支出人民币1,234.50元，商户：某某商店，余额8,000.00元。";
    let (gbk, _, _) = encoding_rs::GBK.encode(body);
    let (subject, _, _) = encoding_rs::GBK.encode("招商银行交易提醒");
    format!(
        "From: =?GBK?B?{from}?= <95555@message.cmbchina.com>\r\nTo: alice@example.org\r\nSubject: =?GBK?B?{subject}?=\r\n\
         Date: Mon, 30 Nov 2026 10:00:30 +0800\r\nMessage-ID: <cmb-1@cmbchina.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n",
        from = b64.encode(encoding_rs::GBK.encode("招商银行").0),
        subject = b64.encode(subject),
        body = b64.encode(gbk),
    )
    .into_bytes()
}

fn html_notice() -> Vec<u8> {
    b"From: Example Bank <alerts@examplebank.com>\r\nTo: alice@example.org\r\nSubject: Card alert\r\n\
      Date: Mon, 30 Nov 2026 12:05:00 +0000\r\nMessage-ID: <html-1@examplebank.com>\r\nMIME-Version: 1.0\r\n\
      Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
      <html><body><p>Your card ending 1234 was charged USD 7.25 at Book Shop on 2026-11-30 12:00. Availa=\r\n\
      ble balance: USD 4,950.25</p></body></html>\r\n"
        .to_vec()
}

fn newsletter() -> Vec<u8> {
    b"From: Shop <news@shop.example>\r\nSubject: Our winter sale\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\n\
      Message-ID: <sale@shop.example>\r\n\r\nEverything charged USD 1.00 less.\r\n"
        .to_vec()
}

/// From the bank, but not a notice any pattern reads.
fn statement_ready() -> Vec<u8> {
    b"From: Example Bank <alerts@examplebank.com>\r\nSubject: Your statement is ready\r\n\
      Date: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <stmt@examplebank.com>\r\n\r\nLog in to read it.\r\n"
        .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_are_read_by_the_rules_once_each_and_left_unread() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    server.append(FOLDER, &card_notice("c-1", "charged", "42.50", "Corner Cafe", "2026-11-30 09:15", "4,957.50")).await;
    server.append(FOLDER, &gbk_notice()).await;
    server.append(FOLDER, &html_notice()).await;
    server.append(FOLDER, &newsletter()).await;
    server.append(FOLDER, &statement_ready()).await;

    let first = payguard(&server, &config, &["once"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(read_counts(&first), Some((3, 2)), "three notices, two other mails: {}", server.log());
    assert_eq!(
        history(&server, &config, "card-1234").await,
        [("-42.50".into(), "Corner Cafe".into()), ("-7.25".into(), "Book Shop".into())],
        "the English notice and the HTML-only one"
    );
    assert_eq!(history(&server, &config, "cmb-5678").await, [("-1234.50".into(), "某某商店".into())], "GBK decoded");
    // EXAMINE: the poll read the mail without marking it read.
    let flags = server.flags(FOLDER).await;
    assert_eq!(flags.len(), 5);
    assert!(flags.iter().all(|f| f.iter().all(|flag| !flag.contains("Seen"))), "{flags:?}");

    // A second run reads only what arrived since; a third, nothing.
    server.append(FOLDER, &card_notice("c-2", "credited", "100.00", "Refund Co", "2026-11-30 13:00", "5,050.25")).await;
    let second = payguard(&server, &config, &["once"]).await;
    assert_eq!(read_counts(&second), Some((1, 0)), "{}", String::from_utf8_lossy(&second.stderr));
    let card = history(&server, &config, "card-1234").await;
    assert_eq!(card.last(), Some(&("100.00".into(), "Refund Co".into())), "a credit is money in: {card:?}");
    assert_eq!(card.len(), 3);
    let third = payguard(&server, &config, &["once"]).await;
    assert_eq!(read_counts(&third), None, "{}", String::from_utf8_lossy(&third.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_fetches_headers_of_new_mail_and_bodies_of_candidates_only() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    server.append(FOLDER, &card_notice("c-1", "charged", "42.50", "Corner Cafe", "2026-11-30 09:15", "4,957.50")).await;
    server.append(FOLDER, &newsletter()).await;
    server.append(FOLDER, &statement_ready()).await;
    payguard(&server, &config, &["once"]).await;
    // Dovecot's count: three mails' headers; the bodies of the two from the bank.
    assert_eq!(server.last_session_fetched().await, (3, 2), "{}", server.log());

    server.append(FOLDER, &newsletter()).await;
    payguard(&server, &config, &["once"]).await;
    assert_eq!(server.last_session_fetched().await, (1, 0), "only the new mail's headers");

    // Nothing new: the folder's UIDNEXT says so, and nothing is fetched.
    payguard(&server, &config, &["once"]).await;
    assert_eq!(server.last_session_fetched().await, (0, 0), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_uidvalidity_does_not_make_old_mail_new() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    let coffee = card_notice("c-1", "charged", "4.50", "Corner Cafe", "2026-11-30 09:15", "4,995.50");
    server.append(FOLDER, &coffee).await;
    assert_eq!(read_counts(&payguard(&server, &config, &["once"]).await), Some((1, 0)));

    // The folder is rebuilt (a restore, a server move): same mail, new UIDs, new UIDVALIDITY.
    server.recreate(FOLDER).await;
    server.append(FOLDER, &coffee).await;
    let after = payguard(&server, &config, &["once"]).await;
    let stderr = String::from_utf8_lossy(&after.stderr);
    assert_eq!(read_counts(&after), None, "{stderr}");
    assert!(stderr.contains("UIDVALIDITY changed"), "{stderr}");
    // What arrives after that is new.
    server.append(FOLDER, &card_notice("c-2", "charged", "3.00", "Bakery", "2026-11-30 10:00", "4,992.50")).await;
    assert_eq!(read_counts(&payguard(&server, &config, &["once"]).await), Some((1, 0)));
    assert_eq!(history(&server, &config, "card-1234").await.len(), 2);
}

/// What `payguard once --json` found, as JSON objects.
async fn findings(server: &Dovecot, config: &Path) -> Vec<Value> {
    support::stdout_of(&payguard(server, config, &["once", "--json"]).await)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// A config on `server` whose first poll, a coffee, has been read as the accounts' baseline.
async fn after_a_baseline(server: &Dovecot) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    server.append(FOLDER, &card_notice("c-1", "charged", "4.50", "Corner Cafe", "2026-11-30 09:15", "9,995.50")).await;
    assert_eq!(findings(server, &config).await, Vec::<Value>::new(), "the first poll is the baseline");
    (dir, config)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_theft_is_found_through_the_mailbox() {
    let Some(server) = dovecot().await else { return };
    let (dir, config) = after_a_baseline(&server).await;

    server
        .append(FOLDER, &card_notice("t-1", "charged", "1,600.00", "Quick Cash Ltd", "2026-11-30 09:40", "8,395.50"))
        .await;
    let found = findings(&server, &config).await;
    let mut kinds: Vec<&str> = found.iter().filter_map(|f| f["kind"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["large_debit", "new_payee"], "{found:?}");

    // `check` and `status` say where the mail is read, never the password.
    let check = support::stdout_of(&payguard(&server, &config, &["check"]).await);
    assert!(check.contains(&format!("mail (imap, localhost:{}, folder Bank, user alice)", server.port)), "{check}");
    let status = support::stdout_of(&payguard(&server, &config, &["status"]).await);
    assert!(status.contains("mail (imap): ok"), "{status}");
    assert!(!check.contains(PASSWORD) && !status.contains(PASSWORD), "{check}{status}");

    // `export` hands over the bank's notice of the theft itself, as the mail arrived.
    let out = dir.path().join("bundle");
    let args = ["export", "--account", "card-1234", "--since", "30d", "--out", &out.display().to_string()];
    let said = support::stdout_of(&payguard(&server, &config, &args).await);
    assert!(said.contains("record(s) the transactions came from in evidence/"), "{said}");
    let theft = card_notice("t-1", "charged", "1,600.00", "Quick Cash Ltd", "2026-11-30 09:40", "8,395.50");
    let handed: Vec<Vec<u8>> = std::fs::read_dir(out.join("evidence"))
        .expect("evidence/")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    assert!(handed.contains(&theft), "the notice of the theft is in the bundle, byte for byte");
}

/// A notice a rule matches but whose amount is no number is money payguard cannot judge: one
/// `unreadable_record` naming the mail, said once; the notices beside it are read.
#[tokio::test(flavor = "multi_thread")]
async fn a_notice_that_cannot_be_read_is_one_alert_naming_the_mail() {
    let Some(server) = dovecot().await else { return };
    let (_dir, config) = after_a_baseline(&server).await;

    server
        .append(FOLDER, &card_notice("u-1", "charged", "1.6.00", "Quick Cash Ltd", "2026-11-30 09:40", "8,395.50"))
        .await;
    server.append(FOLDER, &card_notice("c-2", "charged", "3.00", "Corner Cafe", "2026-11-30 09:50", "9,992.50")).await;
    let found = findings(&server, &config).await;
    let unread: Vec<&Value> = found.iter().filter(|f| f["kind"] == "unreadable_record").collect();
    assert_eq!(unread.len(), 1, "{found:?}");
    let title = unread[0]["title"].as_str().unwrap_or_default();
    assert!(title.contains("Card alert") && title.contains("examplebank.com"), "{title}");
    let detail = unread[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("\"1.6.00\", which is not a number"), "{detail}");
    assert_eq!(history(&server, &config, "card-1234").await.len(), 2, "the notices beside it are read");
    assert_eq!(findings(&server, &config).await, Vec::<Value>::new(), "said once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_source_down_at_once() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), "not-the-password", "");
    let output = payguard(&server, &config, &["once", "--json"]).await;
    let found: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let down: Vec<&Value> = found.iter().filter(|f| f["kind"] == "source_down").collect();
    assert_eq!(down.len(), 1, "{found:?} {}", String::from_utf8_lossy(&output.stderr));
    let said = down[0].to_string();
    assert!(said.contains("localhost refused the credentials"), "{said}");
    assert!(
        !said.contains("not-the-password") && !String::from_utf8_lossy(&output.stderr).contains("not-the-password")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_reads_new_mail_on_its_schedule_and_stops_on_sigterm() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    let every_second = std::fs::read_to_string(&config).expect("config").replace("0 * * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    server.append(FOLDER, &card_notice("c-1", "charged", "4.50", "Corner Cafe", "2026-11-30 09:15", "995.50")).await;
    let mut daemon =
        command(&server, &config).arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("run");
    let (lines, reads) = std::sync::mpsc::channel();
    let stderr = daemon.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("new mail read") && lines.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        let line = reads.recv_timeout(BOUND).unwrap_or_else(|_| panic!("no poll read {what}"));
        assert!(line.contains("matched=1 unmatched=0"), "{what}: {line}");
    };
    next("the first notice");
    server.append(FOLDER, &card_notice("c-2", "charged", "3.00", "Bakery", "2026-11-30 10:00", "992.50")).await;
    next("the new notice");
    support::signal(&daemon, "TERM");
    let deadline = Instant::now() + BOUND;
    let stopped = loop {
        if let Some(status) = daemon.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "payguard run did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(stopped.code(), Some(0));
    assert_eq!(history(&server, &config, "card-1234").await.len(), 2);
}

#[test]
fn a_bad_pattern_a_rule_for_no_account_or_clear_text_to_another_host_is_a_config_error_at_its_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(993, dir.path(), PASSWORD, "");
    let good = std::fs::read_to_string(&config).expect("config");
    let first_pattern = good.lines().find(|l| l.starts_with("pattern = ")).expect("a pattern").to_owned();
    let cases = [
        (
            first_pattern.clone(),
            "pattern = 'charged (?P<sum>[0-9.]+)'".to_owned(),
            "source[0].rule[0].pattern",
            "no (?P<amount>…) group",
        ),
        (
            first_pattern,
            "pattern = 'charged ([0-9.]+'".to_owned(),
            "source[0].rule[0].pattern",
            "not a regular expression",
        ),
        (
            "host = \"localhost\"".to_owned(),
            "host = \"imap.example.com\"\ntls = \"none\"".to_owned(),
            "source[0].tls",
            "clear text",
        ),
        ("host = \"localhost\"".to_owned(), "host = \"localhost\"\ntls = \"plain\"".to_owned(), "source[0]", "tls"),
        // A typo in a rule's account would leave every notice it reads unwatched.
        (
            "account = \"cmb-5678\"\nfrom".to_owned(),
            "account = \"cmb-5687\"\nfrom".to_owned(),
            "source[0].rule[1].account",
            "\"cmb-5687\", which is no [[account]] of the source \"mail\"",
        ),
    ];
    for (from, to, key, says) in cases {
        std::fs::write(&config, good.replacen(&from, &to, 1)).expect("write the config");
        let output = support::payguard(&config, &["check"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{to}: {stderr}");
        assert!(stderr.contains(key) && stderr.contains(says), "{to}: {stderr}");
    }
    // On this machine, clear text is allowed.
    std::fs::write(&config, good.replacen("host = \"localhost\"", "host = \"127.0.0.1\"\ntls = \"none\"", 1))
        .expect("write");
    support::stdout_of(&support::payguard(&config, &["check"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_upgrades_before_the_password_is_sent() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.starttls_port, dir.path(), PASSWORD, "");
    let text = std::fs::read_to_string(&config).expect("config").replacen(
        "host = \"localhost\"",
        "host = \"localhost\"\ntls = \"starttls\"",
        1,
    );
    std::fs::write(&config, &text).expect("write the config");
    server.append(FOLDER, &gbk_notice()).await;
    let before = server.log().len();
    assert_eq!(read_counts(&payguard(&server, &config, &["once"]).await), Some((1, 0)), "{}", server.log());
    // Dovecot trusts clear text from this machine, so its log says whether the login was over TLS.
    let logins: Vec<String> =
        server.log()[before..].lines().filter(|l| l.contains("Login: user=<alice>")).map(str::to_owned).collect();
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert!(logins[0].contains(", TLS"), "{logins:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn imap_test_shows_what_each_rule_reads() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    server.append(FOLDER, &newsletter()).await;
    server
        .append(FOLDER, &card_notice("c-1", "charged", "42.50", "Corner\u{202e}Cafe", "2026-11-30 09:15", "4,957.50"))
        .await;
    server.append(FOLDER, &gbk_notice()).await;
    server.append(FOLDER, &statement_ready()).await;

    let output = payguard(&server, &config, &["imap-test", "--source", "mail", "--limit", "3"]).await;
    let shown = support::stdout_of(&output);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 6, "the latest three mails, two lines each: {shown}");
    assert!(
        lines[0].starts_with("2026-11-30 09:30 +00:00  Example Bank <alerts@examplebank.com>  \"Card alert\""),
        "{shown}"
    );
    assert_eq!(
        lines[1],
        "  rule[0] -> account card-1234: amount -42.50 USD, payee \"Corner\\u{202e}Cafe\", balance 4957.50, time 2026-11-30T09:15:00+00:00",
        "the hidden character is shown, not obeyed"
    );
    assert!(lines[2].contains("招商银行 <95555@message.cmbchina.com>  \"招商银行交易提醒\""), "{shown}");
    assert!(
        lines[3].contains("rule[1] -> account cmb-5678: amount -1234.50 CNY, payee \"某某商店\", balance 8000.00"),
        "{shown}"
    );
    assert!(lines[4].contains("\"Your statement is ready\""), "{shown}");
    assert_eq!(lines[5], "  no rule matched (rule[0]: from and subject match, the pattern does not)");
    // Read-only: the mails stay unread, and nothing is stored.
    assert!(server.flags(FOLDER).await.iter().all(|f| f.iter().all(|flag| !flag.contains("Seen"))));
    assert!(!dir.path().join("state").exists() || history(&server, &config, "card-1234").await.is_empty());

    let wrong = payguard(&server, &config, &["imap-test", "--source", "nope"]).await;
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no [[source]] is named \"nope\" (the sources are: mail)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_over_max_body_is_not_fetched() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "");
    let capped = std::fs::read_to_string(&config).expect("config").replacen(
        "schedule = ",
        "max_body = \"2KiB\"\nschedule = ",
        1,
    );
    std::fs::write(&config, capped).expect("write the config");
    let mut huge = card_notice("big", "charged", "9.99", "Padding Inc", "2026-11-30 09:15", "1.00");
    huge.extend(std::iter::repeat_n(b'x', 4096));
    server.append(FOLDER, &huge).await;
    server.append(FOLDER, &card_notice("c-1", "charged", "4.50", "Corner Cafe", "2026-11-30 09:16", "995.50")).await;
    let output = payguard(&server, &config, &["once"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(read_counts(&output), Some((1, 1)), "{stderr}");
    assert!(stderr.contains("a mail is larger than max_body; it is skipped"), "{stderr}");
    assert_eq!(history(&server, &config, "card-1234").await, [("-4.50".into(), "Corner Cafe".into())]);
}

/// An account no notice has been about is not reported: a balance of zero for it would be judged
/// (`low_balance` at once, under `min_balance`) and would be the baseline its first real balance
/// is compared with.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_is_reported_once_a_notice_is_about_it() {
    let Some(server) = dovecot().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(server.port, dir.path(), PASSWORD, "min_balance = \"100.00\"\n");
    server.append(FOLDER, &newsletter()).await;
    assert_eq!(findings(&server, &config).await, Vec::<Value>::new());
    // The first notice states a balance of 8,000.00: it is the account's baseline.
    server.append(FOLDER, &gbk_notice()).await;
    assert_eq!(findings(&server, &config).await, Vec::<Value>::new());
    let status = support::stdout_of(&payguard(&server, &config, &["status"]).await);
    assert!(status.contains("8000.00 CNY"), "{status}");
}

/// A server that accepts the connection and never greets: the poll fails within `timeout`.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_fails_the_poll_within_its_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = silent.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(port, dir.path(), PASSWORD, "");
    let text = std::fs::read_to_string(&config).expect("config").replacen(
        "host = \"localhost\"",
        "host = \"127.0.0.1\"\ntls = \"none\"\ntimeout = \"1s\"",
        1,
    );
    std::fs::write(&config, text).expect("write the config");
    let started = Instant::now();
    let output = support::run(&config, &["once"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("127.0.0.1 did not answer within 1s"), "{stderr}");
    assert!(started.elapsed() < BOUND);
}
