//! The invariants the fuzz targets assert, in one copy. Every `fuzz_targets/*.rs` and
//! `tests/it/fuzz_seeds.rs` include this file with `#[path]`, so a fuzzed input and a seed in
//! `cargo test` are judged by the same code.
//!
//! Each check takes the raw input and panics, saying what broke, when an invariant fails. Refusing
//! an input is fine: a parser may return its error, as long as that error is well-formed (placed
//! inside the input, naming the host, never carrying a credential). The invariants are those of
//! ARCHITECTURE.md: money is a `Decimal` read from the text the platform sent, never a float;
//! secrets never reach a message; an account is read whole or fails; text for a person is bounded.

// Each fuzz target uses one check; the test uses them all.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use payguard::config::{Config, ConfigError, SourceConfig};
use payguard::model::{AccountRef, AccountStatus, Notice, NoticeKind, Observation, Phase, parse_amount};
use payguard::source::http_json::{HttpJsonConfig, map_account};
use payguard::source::notices::{feed, statuspage};
use payguard::source::simplefin::SimpleFin;
use payguard::source::{Poll, SourceError, SourceKind};
use rust_decimal::Decimal;
use serde_json::Value;

/// The password in the SimpleFIN access URL and the http-json bearer token, and what
/// `${env:PAYGUARD_FUZZ_SECRET}` resolves to in the config check.
pub const SECRET: &str = "Zq81kT";
/// A second credential of the same shape: a parse must come out the same with either.
const OTHER_SECRET: &str = "Xw47pR";
/// The variable [`setup`] sets to [`SECRET`], for configs that reference it.
pub const SECRET_ENV: &str = "PAYGUARD_FUZZ_SECRET";
/// The host of the SimpleFIN access URL: what errors may name instead of the URL.
const HOST: &str = "bank.example.com";
/// The largest amount a source may report either way (`MAX_AMOUNT` in `src/source/values.rs`): the
/// detectors' sums rely on it.
const MAX_AMOUNT: i64 = 1_000_000_000_000_000_000;
/// The longest title and update of a notice, in characters (`MAX_TITLE`, `MAX_UPDATE` in
/// `src/source/notices/mod.rs`).
const MAX_TITLE: usize = 300;
const MAX_UPDATE: usize = 2000;
/// The words a feed item's status may be (`OVER_WORDS` in `src/source/notices/feed.rs`).
const FEED_OVER_WORDS: &[&str] =
    &["resolved", "completed", "restored", "has ended", "已恢复", "已解决", "已完成", "已结束", "恢复正常"];

/// The time every parse is given as "now": 2026-09-21T14:13:20Z.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

/// Sets what the checks read from the environment, once per process and before any config is
/// parsed. Every check that reads the environment calls it first.
pub fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the only readers of the environment in these processes (fuzz targets and
        // tests/it/fuzz_seeds.rs) are the checks, and each calls `setup` before reading it; `Once`
        // holds every other caller until this write is done.
        unsafe { std::env::set_var(SECRET_ENV, SECRET) }
    });
}

// ---------------------------------------------------------------------------------------------
// SimpleFIN
// ---------------------------------------------------------------------------------------------

/// Two SimpleFIN sources that differ only in their password, built once.
fn simplefin_sources() -> &'static (SimpleFin, SimpleFin) {
    static SOURCES: OnceLock<(SimpleFin, SimpleFin)> = OnceLock::new();
    SOURCES.get_or_init(|| (simplefin_source(SECRET), simplefin_source(OTHER_SECRET)))
}

fn simplefin_source(password: &str) -> SimpleFin {
    let config = source_config(&format!(
        "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\nschedule = \"0 * * * *\"\n\
         access_url = \"https://user:{password}@{HOST}/simplefin\"\n"
    ));
    SimpleFin::of(&config).unwrap_or_else(|e| panic!("cannot build the simplefin source: {e}"))
}

/// The one `[[source]]` of a config the checks write themselves: built the way the daemon builds
/// it, so the checks follow the config's shape rather than restate its structs.
fn source_config(text: &str) -> SourceConfig {
    let mut config = Config::parse(text, Path::new("checks.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    config.sources.remove(0)
}

/// `SimpleFin::parse` on one `/accounts` answer, asking for two accounts and for none.
///
/// - the result is the same with either password, and names it nowhere unless the body does;
/// - an error is `Malformed` naming the host, or the platform's own words;
/// - one entry per account asked for, in order; unconfigured accounts are not ones asked for;
/// - every amount equals the exact decimal value of the text sent, with its digits (see
///   [`assert_exact_amount`]); transaction ids are unique and non-empty;
/// - no plain decimal anywhere in the answer is refused by `parse_amount`.
pub fn simplefin(body: &[u8]) {
    assert_json_keeps_number_text();
    if let Ok(root) = serde_json::from_slice::<Value>(body) {
        assert_plain_decimals_read(&root);
    }
    let (source, twin) = simplefin_sources();
    for wanted in [&["acct-1", "acct-2"][..], &[]] {
        let wanted: Vec<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
        let result = source.parse(body, &wanted, now());
        let rendered = render_poll(&result);
        let other = render_poll(&twin.parse(body, &wanted, now()));
        assert_eq!(rendered, other, "the parse depends on the access URL's password");
        assert_no_secret(&rendered, body);
        match result {
            Err(e) => assert_poll_error(&e),
            Ok(poll) => check_simplefin_poll(body, &wanted, &poll),
        }
    }
}

/// Everything a parse says, as it would reach a log or a message.
fn render_poll(result: &Result<Poll, SourceError>) -> String {
    match result {
        Err(e) => format!("{e}\n{e:?}"),
        Ok(poll) => {
            let errors: Vec<String> =
                poll.accounts.iter().filter_map(|(_, r)| r.as_ref().err()).map(ToString::to_string).collect();
            format!("{poll:?}\n{}", errors.join("\n"))
        }
    }
}

/// The error of a whole poll: the answer was unusable, or the platform said why.
fn assert_poll_error(e: &SourceError) {
    match e {
        SourceError::Malformed { host, detail } => {
            assert_eq!(host, HOST, "a malformed answer must name the host");
            assert!(!detail.is_empty(), "a malformed answer must say what is wrong");
        }
        SourceError::Platform(_) => {}
        other => panic!("parsing an answer cannot fail with {other:?}"),
    }
}

fn check_simplefin_poll(body: &[u8], wanted: &[String], poll: &Poll) {
    let asked: Vec<&str> = poll.accounts.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(asked, wanted, "one entry per account asked for, in the order asked");
    for id in &poll.unconfigured {
        assert!(!wanted.contains(id), "account {id:?} was asked for but reported as unconfigured");
    }
    let root: Value = serde_json::from_slice(body).expect("a body that parsed is JSON");
    for (id, result) in &poll.accounts {
        let observation = match result {
            Err(SourceError::Malformed { host, .. }) => {
                assert_eq!(host, HOST, "a malformed account must name the host");
                continue;
            }
            Err(SourceError::Platform(_) | SourceError::MissingAccount(_)) => continue,
            Err(other) => panic!("account {id}: parsing cannot fail with {other:?}"),
            Ok(observation) => observation,
        };
        // The parse reads the first account listed with this id.
        let raw = root
            .get("accounts")
            .and_then(Value::as_array)
            .and_then(|accounts| accounts.iter().find(|a| a.get("id").and_then(json_text).as_deref() == Some(id)))
            .unwrap_or_else(|| panic!("account {id} was read but is not in the answer"));
        let field = |name: &str| raw.get(name).filter(|v| !v.is_null());
        assert_eq!(observation.account, AccountRef::new("bank", id.as_str()));
        assert_eq!(observation.snapshot.observed_at, now(), "a snapshot is taken at the poll's time");
        let balance = field("balance").unwrap_or_else(|| panic!("account {id} was read without a balance"));
        assert_exact_amount(observation.snapshot.balance, balance, "balance");
        match (observation.snapshot.available, field("available-balance")) {
            (Some(found), Some(raw)) => assert_exact_amount(found, raw, "available-balance"),
            (None, None) => {}
            (found, raw) => panic!("available-balance read as {found:?} from {raw:?}"),
        }
        let raw_transactions = match field("transactions") {
            Some(Value::Array(list)) => list.as_slice(),
            _ => &[],
        };
        check_transactions(observation, raw_transactions, |tx| tx.get("amount"));
    }
}

/// The transactions of an account read whole: each amount exact, in the order listed (repeats of one
/// transaction dropped), ids unique and non-empty.
fn check_transactions(observation: &Observation, raw: &[Value], amount_of: impl Fn(&Value) -> Option<&Value>) {
    let mut ids = std::collections::HashSet::new();
    let mut next = 0;
    for tx in &observation.transactions {
        assert!(!tx.id.is_empty(), "a transaction without an id: {tx:?}");
        assert!(ids.insert(tx.id.as_str()), "transaction id {:?} is listed twice", tx.id);
        assert_eq!(tx.payee_key, payguard::model::payee_key(&tx.payee), "payee_key is the payee's key");
        let at = raw[next..]
            .iter()
            .position(|r| amount_of(r).is_some_and(|a| exact_amount_of(a) == Some(tx.amount)))
            .unwrap_or_else(|| {
                panic!("amount {} of {:?} is not the exact value of any amount listed", tx.amount, tx.id)
            });
        let listed = amount_of(&raw[next + at]).expect("found above");
        assert_exact_amount(tx.amount, listed, "transaction amount");
        next += at + 1;
    }
    assert!(observation.transactions.len() <= raw.len(), "more transactions than the answer listed");
}

// ---------------------------------------------------------------------------------------------
// http-json
// ---------------------------------------------------------------------------------------------

/// The two mappings every http-json input is read with: the example config's nested one (fixed
/// currency, pending words), and one whose transactions answer is a bare array and whose currency
/// is read from the balance answer.
fn http_json_configs(token: &str) -> [HttpJsonConfig; 2] {
    let base = "https://api.wallet.example/v1/accounts/{account}";
    let nested = format!(
        r#"[[source]]
name = "wallet"
kind = "http-json"
schedule = "*/15 * * * *"
balance_url = "{base}"
transactions_url = "{base}"
currency = "EUR"
auth = {{ type = "bearer", token = "{token}" }}
[source.mapping]
balance = "/data/balance"
available = "/data/available"
status = "/data/status"
transactions = "/data/transactions"
id = "/id"
posted = "/booked_at"
amount = "/amount"
payee = "/counterparty/name"
description = "/description"
pending = "/status"
pending_values = ["pending", "authorised"]
"#
    );
    let bare = format!(
        r#"[[source]]
name = "wallet"
kind = "http-json"
schedule = "*/15 * * * *"
balance_url = "{base}/balance"
transactions_url = "{base}/transactions"
auth = {{ type = "bearer", token = "{token}" }}
[source.mapping]
balance = "/balance/amount"
currency = "/balance/currency"
transactions = ""
posted = "/date"
amount = "/value"
payee = "/payee"
pending = "/pending"
"#
    );
    [nested, bare].map(|text| match source_config(&text).kind {
        SourceKind::HttpJson(http) => *http,
        other => panic!("an http-json config built {other:?}"),
    })
}

/// `map_account` on a balance answer and a transactions answer: the input up to its first NUL
/// byte is the balance answer, the rest the transactions answer; without a NUL, one answer is both
/// (`balance_url` = `transactions_url`). Inputs that are not JSON never reach the mapper.
///
/// - the result is the same with either token, and names it nowhere unless the input does;
/// - balance and available equal the exact value of what is at their pointers; the currency is the
///   configured one or the text at its pointer;
/// - transactions: each amount exact, in the order listed, ids unique and non-empty;
/// - no plain decimal anywhere in either answer is refused by `parse_amount`.
pub fn http_json(data: &[u8]) {
    assert_json_keeps_number_text();
    let (balance_text, transactions_text) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let (Ok(balance_doc), Ok(transactions_doc)) =
        (serde_json::from_slice::<Value>(balance_text), serde_json::from_slice::<Value>(transactions_text))
    else {
        return;
    };
    assert_plain_decimals_read(&balance_doc);
    assert_plain_decimals_read(&transactions_doc);
    let account = AccountRef::new("wallet", "W-42");
    static CONFIGS: OnceLock<[[HttpJsonConfig; 2]; 2]> = OnceLock::new();
    let [configs, twins] = CONFIGS.get_or_init(|| [http_json_configs(SECRET), http_json_configs(OTHER_SECRET)]);
    for (config, twin) in configs.iter().zip(twins) {
        let result = map_account(config, &account, &balance_doc, &transactions_doc, now());
        let rendered = format!("{result:?}");
        let other = format!("{:?}", map_account(twin, &account, &balance_doc, &transactions_doc, now()));
        assert_eq!(rendered, other, "the mapping depends on the source's credentials");
        assert_no_secret(&rendered, data);
        let observation = match result {
            Err(message) => {
                assert!(!message.is_empty(), "an unusable account must say why");
                continue;
            }
            Ok(observation) => observation,
        };
        let m = &config.mapping;
        let at = |doc: &Value, pointer: &str| doc.pointer(pointer).filter(|v| !v.is_null()).cloned();
        assert_eq!(observation.account, account);
        assert_eq!(observation.snapshot.observed_at, now(), "a snapshot is taken at the poll's time");
        assert_eq!(observation.snapshot.as_of, None, "http-json reports no balance date");
        let balance = at(&balance_doc, &m.balance).expect("an account was read without a balance");
        assert_exact_amount(observation.snapshot.balance, &balance, "balance");
        match (observation.snapshot.available, m.available.as_deref().and_then(|p| at(&balance_doc, p))) {
            (Some(found), Some(raw)) => assert_exact_amount(found, &raw, "available"),
            (None, None) => {}
            (found, raw) => panic!("available read as {found:?} from {raw:?}"),
        }
        let currency = match &m.currency {
            Some(pointer) => at(&balance_doc, pointer).as_ref().and_then(json_text),
            None => config.currency.clone(),
        };
        assert_eq!(Some(&observation.snapshot.currency), currency.as_ref(), "the currency is the one given");
        if m.status.as_deref().and_then(|p| at(&balance_doc, p)).is_none() {
            assert_eq!(observation.snapshot.status, AccountStatus::Unknown, "no status word, no status");
        }
        let raw_transactions = match transactions_doc.pointer(&m.transactions) {
            Some(Value::Array(list)) => list.as_slice(),
            other => panic!("transactions were read from {other:?}"),
        };
        check_transactions(&observation, raw_transactions, |tx| tx.pointer(&m.amount));
    }
}

// ---------------------------------------------------------------------------------------------
// Notices
// ---------------------------------------------------------------------------------------------

/// `statuspage::read_list` on one body, read as each of the three lists (a `summary.json` holds
/// both `scheduled_maintenances` and `incidents`, so one seed feeds all three).
///
/// - an error names the endpoint it came from;
/// - one notice per listed item, in order, with the item's id and status word;
/// - the phase is the status word's (or the list's for words payguard does not know); the kind is
///   maintenance for the maintenance lists and for maintenance words among incidents;
/// - title and update are plain text within their bounds.
pub fn statuspage(body: &[u8]) {
    let doc = serde_json::from_slice::<Value>(body).ok();
    let lists = [
        (statuspage::List::Upcoming, "/api/v2/scheduled-maintenances/upcoming.json", "scheduled_maintenances"),
        (statuspage::List::Active, "/api/v2/scheduled-maintenances/active.json", "scheduled_maintenances"),
        (statuspage::List::Unresolved, "/api/v2/incidents/unresolved.json", "incidents"),
    ];
    for (list, path, key) in lists {
        let result = statuspage::read_list("bank-status", list, body);
        assert_eq!(result, statuspage::read_list("bank-status", list, body), "the same answer reads the same");
        let notices = match result {
            Err(message) => {
                assert!(message.starts_with(&format!("{path}: ")), "an error names its endpoint: {message}");
                continue;
            }
            Ok(notices) => notices,
        };
        let items = doc
            .as_ref()
            .and_then(|d| d.get(key))
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{path} was read without a {key:?} list"));
        assert_eq!(notices.len(), items.len(), "{path}: one notice per item");
        for (notice, item) in notices.iter().zip(items) {
            let word = |pointer: &str| item.pointer(pointer).filter(|v| !v.is_null()).and_then(json_text);
            assert_eq!(Some(&notice.id), word("/id").as_ref(), "{path}: the item's own id");
            assert_eq!(Some(&notice.status), word("/status").as_ref(), "{path}: the item's own status word");
            let status = notice.status.trim().to_ascii_lowercase();
            let known = match status.as_str() {
                "scheduled" => Some(Phase::Upcoming),
                "in_progress" | "verifying" | "investigating" | "identified" | "monitoring" => Some(Phase::Active),
                "completed" | "resolved" | "postmortem" => Some(Phase::Over),
                _ => None,
            };
            let list_phase = if list == statuspage::List::Upcoming { Phase::Upcoming } else { Phase::Active };
            assert_eq!(notice.phase, known.unwrap_or(list_phase), "{path}: phase of status {:?}", notice.status);
            let maintenance_word = matches!(status.as_str(), "scheduled" | "in_progress" | "verifying" | "completed");
            let kind = if list != statuspage::List::Unresolved || maintenance_word {
                NoticeKind::Maintenance
            } else {
                NoticeKind::Incident
            };
            assert_eq!(notice.kind, kind, "{path}: kind of status {:?}", notice.status);
            assert_eq!(notice.source, "bank-status");
            assert_plain_text(&notice.title, MAX_TITLE, "title");
            assert_plain_text(&notice.update, MAX_UPDATE, "update");
        }
    }
}

/// `feed::read_feed` on one body (RSS, Atom or JSON Feed), with no keyword filter and with one.
///
/// - an error says the body is not a feed;
/// - every notice has a non-empty, trimmed id (feed-rs's random ids are replaced by stable ones);
/// - title (never empty) and update are plain text within their bounds;
/// - the phase is over exactly when a finishing word was found, and the status is that word;
/// - kept items contain a keyword; maintenance items a maintenance keyword, incidents none;
/// - a feed carries no times of its own for maintenance, no impact, no components.
pub fn feed(body: &[u8]) {
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<String>>();
    let filters = [
        (Vec::new(), words(&["maintenance", "维护"])),
        (words(&["outage", "payment", "支付"]), words(&["maintenance"])),
    ];
    for (keywords, maintenance) in &filters {
        let result = feed::read_feed("wallet-news", body, keywords, maintenance);
        assert_eq!(result, feed::read_feed("wallet-news", body, keywords, maintenance), "the same feed reads the same");
        let notices = match result {
            Err(message) => {
                assert!(message.starts_with("not an RSS or Atom feed"), "an unreadable feed says so: {message}");
                continue;
            }
            Ok(notices) => notices,
        };
        for notice in &notices {
            check_feed_notice(notice, keywords, maintenance);
        }
    }
}

fn check_feed_notice(notice: &Notice, keywords: &[String], maintenance: &[String]) {
    assert_eq!(notice.source, "wallet-news");
    assert!(!notice.id.is_empty() && notice.id == notice.id.trim(), "a feed item's id: {:?}", notice.id);
    assert!(!notice.title.is_empty(), "an untitled item is called (untitled)");
    assert_plain_text(&notice.title, MAX_TITLE, "title");
    assert_plain_text(&notice.update, MAX_UPDATE, "update");
    assert!(
        notice.status.is_empty() || FEED_OVER_WORDS.contains(&notice.status.as_str()),
        "a feed's status is a finishing word or nothing: {:?}",
        notice.status
    );
    assert_eq!(notice.phase == Phase::Over, !notice.status.is_empty(), "over exactly when a finishing word was found");
    assert_ne!(notice.phase, Phase::Upcoming, "feed items are never upcoming");
    assert_eq!((notice.starts_at, notice.ends_at), (None, None), "feed prose times are not parsed");
    assert_eq!(notice.impact, None);
    assert!(notice.components.is_empty());
    if let Some(url) = &notice.url {
        assert!(!url.is_empty() && url == url.trim(), "a link is trimmed and non-empty: {url:?}");
    }
    // What the item's words were matched against: its title (empty when it had none) and summary.
    let mut haystacks = vec![format!("{}\n{}", notice.title, notice.update).to_lowercase()];
    if notice.title == "(untitled)" {
        haystacks.push(format!("\n{}", notice.update).to_lowercase());
    }
    let mentions = |words: &[String], h: &String| words.iter().any(|w| h.contains(w.as_str()));
    if !keywords.is_empty() {
        assert!(haystacks.iter().any(|h| mentions(keywords, h)), "kept an item without a keyword: {notice:?}");
    }
    match notice.kind {
        NoticeKind::Maintenance => {
            assert!(haystacks.iter().any(|h| mentions(maintenance, h)), "maintenance without its word: {notice:?}");
        }
        NoticeKind::Incident => {
            assert!(haystacks.iter().any(|h| !mentions(maintenance, h)), "maintenance called an incident: {notice:?}");
        }
    }
    if !notice.status.is_empty() {
        assert!(haystacks.iter().any(|h| h.contains(&notice.status)), "status {:?} is not in the item", notice.status);
    }
}

/// Text for a person: whitespace collapsed to single spaces, nothing at either end, at most `max`
/// characters.
fn assert_plain_text(text: &str, max: usize, what: &str) {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(text, collapsed, "the {what} is not collapsed plain text");
    assert!(text.chars().count() <= max, "the {what} is longer than {max} characters");
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// `Config::parse` on one file's text (inputs that are not UTF-8 never get that far: the loader
/// reads a `String`).
///
/// - an error names the path, and its line and column lie inside the text (both zero only for
///   errors with no place); its key has none of serde's internal names;
/// - a config names something to watch, unique non-empty source names, notice names that are not
///   source names, accounts of existing sources configured once, and URLs `check_url` accepts;
/// - a secret resolved from `${env:…}` appears in no error and in no `Debug` of the config;
/// - the same text parses the same.
///
/// Texts that mention `file` are skipped: `${file:PATH}` reads PATH, and the fuzzer must not make
/// the check read `/dev/zero` or wait on a FIFO.
pub fn config(data: &[u8]) {
    setup();
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.to_ascii_lowercase().contains("file") {
        return;
    }
    let path = Path::new("fuzz.toml");
    let result = Config::parse(text, path);
    let rendered = match &result {
        Ok(config) => format!("{config:?}"),
        Err(e) => format!("{e}\n{e:?}"),
    };
    let again = match Config::parse(text, path) {
        Ok(config) => format!("{config:?}"),
        Err(e) => format!("{e}\n{e:?}"),
    };
    assert_eq!(rendered, again, "the same text parses the same");
    assert_no_secret(&rendered, data);
    match &result {
        Err(e) => assert_config_error(e, text, path),
        Ok(config) => check_config(config, path),
    }
}

fn assert_config_error(e: &ConfigError, text: &str, path: &Path) {
    assert_eq!(e.path, path, "an error names the file");
    assert!(!e.message.is_empty(), "an error says what is wrong");
    assert!(e.to_string().starts_with(&path.display().to_string()), "an error starts with the file: {e}");
    // A syntax error's key is read off the text (whatever precedes `=`); any other comes from serde,
    // whose name for the inside of a `Spanned` value must not reach people.
    let internal = "$__serde_spanned_private_value";
    assert!(!e.key.contains(internal) || text.contains(internal), "serde's internals in the key: {:?}", e.key);
    if e.line == 0 {
        assert_eq!(e.column, 0, "an error without a line has no column: {e}");
        return;
    }
    let line = text.split('\n').nth(e.line - 1).unwrap_or_else(|| {
        panic!("line {} is past the end of the text ({} lines): {e}", e.line, text.split('\n').count())
    });
    let last_column = line.chars().count() + 1;
    assert!(
        (1..=last_column).contains(&e.column),
        "column {} is outside line {} (1..={last_column}): {e}",
        e.column,
        e.line
    );
}

fn check_config(config: &Config, path: &Path) {
    assert_eq!(config.path, path);
    assert!(!config.sources.is_empty() || !config.notices.is_empty(), "a config watches something");
    let mut names = std::collections::HashSet::new();
    for source in &config.sources {
        assert!(!source.name.trim().is_empty(), "a source without a name");
        assert!(names.insert(source.name.as_str()), "source name {:?} is used twice", source.name);
        assert!(source.polling.overlap <= chrono::TimeDelta::days(90), "overlap is at most 90 days");
        match &source.kind {
            SourceKind::SimpleFin(simplefin) => {
                // Config::parse resolves every secret: an unresolved one fails the check too.
                let checked = simplefin
                    .access_url
                    .expose()
                    .map_err(|e| e.to_string())
                    .and_then(|url| payguard::source::check_url(url, source.http.allow_insecure_http));
                assert!(checked.is_ok(), "an unchecked access_url");
            }
            SourceKind::HttpJson(http) => {
                for url in [&http.balance_url, &http.transactions_url] {
                    let url = url.replace("{account}", "x");
                    let checked = payguard::source::check_url(&url, source.http.allow_insecure_http);
                    assert!(checked.is_ok(), "an unchecked URL {url:?}");
                }
            }
            // The provider kinds take one `api_base`, checked by `Entry::url` like these; the two
            // above are the kinds whose URLs come from the person, whole.
            _ => {}
        }
    }
    let mut notices = std::collections::HashSet::new();
    for notice in &config.notices {
        assert!(!names.contains(notice.name.as_str()), "notice {:?} shares a source's name", notice.name);
        assert!(notices.insert(notice.name.as_str()), "notice name {:?} is used twice", notice.name);
    }
    let mut accounts = std::collections::HashSet::new();
    for account in &config.accounts {
        assert!(names.contains(account.account.source.as_str()), "account of an unknown source: {account:?}");
        assert!(accounts.insert(&account.account), "account {:?} is configured twice", account.account);
    }
}

// ---------------------------------------------------------------------------------------------
// Money and secrets, shared
// ---------------------------------------------------------------------------------------------

/// serde_json is built with `arbitrary_precision` (through payguard), so a JSON number keeps the
/// digits it was sent with; without it, amounts would pass through an `f64` before payguard sees
/// them, and the exactness checks below would compare with the float's digits.
fn assert_json_keeps_number_text() {
    let number: Value = serde_json::from_str("0.10").expect("JSON");
    assert_eq!(number.to_string(), "0.10", "serde_json reads numbers through f64: arbitrary_precision is off");
}

/// A JSON string as itself, a number as its text (what payguard's `text` and `amount` read).
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An amount read from `raw` is the exact value of its text, worked out here digit by digit:
/// `"0.1"` is one tenth and `0.10` keeps its two places (a float would give
/// 0.1000000000000000055… or lose the zero). It lies within the bound the detectors rely on.
fn assert_exact_amount(found: Decimal, raw: &Value, what: &str) {
    let text = json_text(raw).unwrap_or_else(|| panic!("{what} {found} was read from {raw}, not a string or number"));
    let Some(exact) = exact_value(&text) else {
        panic!("{what} {found} was read from {text:?}, whose exact value is no Decimal: rounded or misread");
    };
    assert_eq!(found, exact.value, "{what} read from {text:?} is not its exact value");
    if let Some(places) = exact.places {
        assert_eq!(found.scale(), places, "{what} read from {text:?} lost or gained decimal places: {found}");
    }
    assert!(found.abs() <= Decimal::from(MAX_AMOUNT), "{what} {found} is beyond the bound the detectors rely on");
}

/// `exact_value` of what `raw` says, as a value to compare: `None` when it is no exact amount.
fn exact_amount_of(raw: &Value) -> Option<Decimal> {
    json_text(raw).and_then(|t| exact_value(&t)).map(|e| e.value)
}

/// `parse_amount` never refuses a plain decimal: every string or number anywhere in `value` that is
/// written `[+-]digits[.digits]` (no leading zeros, no exponent) and fits a `Decimal` reads as its
/// exact value. Refusing one would fail its account on a perfectly good answer.
fn assert_plain_decimals_read(value: &Value) {
    match value {
        Value::Array(items) => items.iter().for_each(assert_plain_decimals_read),
        Value::Object(members) => members.values().for_each(assert_plain_decimals_read),
        leaf => {
            let Some(text) = json_text(leaf) else { return };
            let trimmed = text.trim();
            let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
            let (int, frac) = match unsigned.split_once('.') {
                Some((int, frac)) => (int, Some(frac)),
                None => (unsigned, None),
            };
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let plain = digits(int) && (int == "0" || !int.starts_with('0')) && frac.is_none_or(digits);
            if let (true, Some(exact)) = (plain, exact_value(trimmed)) {
                assert_eq!(parse_amount(&text).ok(), Some(exact.value), "the plain decimal {text:?} was refused");
            }
        }
    }
}

/// The exact value of decimal text, and how many places it has after the point when written
/// without an exponent.
struct Exact {
    value: Decimal,
    places: Option<u32>,
}

/// `[+-]digits[.digits][e[+-]digits]`, at least one digit before the exponent, evaluated without
/// any float: the digits as an integer, scaled by the places and the exponent. `None` when the text
/// is not such a number or its value does not fit a `Decimal` exactly (more than 28 places after
/// the exponent is applied, or more than 96 bits of digits).
fn exact_value(text: &str) -> Option<Exact> {
    let text = text.trim();
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let negative = text.starts_with('-');
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        None => (unsigned, None),
        Some((m, e)) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (m, Some(e.parse::<i64>().ok()?))
        }
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.len() + frac.len() == 0 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let mut units: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let mut scale = i64::try_from(frac.len()).ok()?.checked_sub(exponent.unwrap_or(0))?;
    if scale < 0 {
        // Zero stays zero; anything else gains -scale zeros, which fit an i128 only up to 38 digits.
        let zeros = u32::try_from(-scale).ok().filter(|z| *z <= 38)?;
        units = if units == 0 { 0 } else { units.checked_mul(10i128.checked_pow(zeros)?)? };
        scale = 0;
    }
    let scale = u32::try_from(scale).ok().filter(|s| *s <= 28)?;
    let value = Decimal::try_from_i128_with_scale(if negative { -units } else { units }, scale).ok()?;
    let places = if exponent.is_none() { u32::try_from(frac.len()).ok() } else { None };
    Some(Exact { value, places })
}

/// No credential in `rendered`, unless the input itself could spell it: it contains it, or a
/// backslash (JSON and TOML escapes can spell any character).
fn assert_no_secret(rendered: &str, input: &[u8]) {
    let spells = |s: &str| input.windows(s.len()).any(|w| w == s.as_bytes()) || input.contains(&b'\\');
    for secret in [SECRET, OTHER_SECRET] {
        if !spells(secret) {
            assert!(!rendered.contains(secret), "the credential {secret:?} leaked into: {rendered}");
        }
    }
}
