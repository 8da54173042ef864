//! Source faults end to end: the simulated bank misbehaves the ways real ones do (HTTP errors, a
//! hang, a trickle, cut and endless bodies, wrong types, absurd amounts, repeated ids, an empty
//! list, platform errors), and the real engine on a manual clock, or the real `payguard once`, must
//! say what went wrong without the credentials, count the failure towards `source_down` (at once
//! for refused credentials), judge no money from a failed poll or a failed account, and compare the
//! next good poll with the last good snapshot.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::config::Config;
use payguard::daemon::{Clock, Engine, SourceRun};
use payguard::model::{AccountRef, FindingKind};
use payguard::notify::Stream;
use payguard::sim::{Advance, Event, Fault, Script, ScriptAccount, Simulator, Step};
use payguard::store::Store;
use rust_decimal::Decimal;
use support::damage::drop_hours_of;
use support::reopen::reopened;

/// What the simulator's access URL carries; no message may contain it.
const CREDENTIALS: &str = "demo:demo";

/// Between two polls: past the longest backoff that three failures earn (four minutes).
const TICK: TimeDelta = TimeDelta::minutes(10);

/// `down_after` when the config does not say.
const DOWN_AFTER: usize = 3;

/// Two accounts with a quiet story (a baseline, then ordinary spending at known payees), and a
/// theft at the end for the test that needs one.
fn script() -> Script {
    let account = |id: &str, name: &str, cents: i64| ScriptAccount {
        id: id.into(),
        name: name.into(),
        currency: "USD".into(),
        opening_balance: Decimal::new(cents, 2),
    };
    let pay = |account: &str, payee: &str, cents: i64, minutes_ago: i64| Event {
        account: account.into(),
        amount: Decimal::new(cents, 2),
        payee: payee.into(),
        description: "Card payment".into(),
        minutes_ago,
        pending: false,
        id: None,
    };
    Script {
        accounts: vec![account("ACT-1", "Everyday", 250_000), account("ACT-2", "Savings", 900_000)],
        steps: vec![
            Step {
                caption: "baseline".into(),
                events: vec![
                    pay("ACT-1", "Grocer's Market", -4_520, 300),
                    pay("ACT-1", "City Transit", -1_200, 240),
                    pay("ACT-2", "Savings Interest", 1_250, 200),
                ],
            },
            Step {
                caption: "ordinary spending at known payees".into(),
                events: vec![pay("ACT-1", "Grocer's Market", -3_810, 5), pay("ACT-2", "Savings Interest", 1_310, 5)],
            },
            Step {
                caption: "a theft to a payee never seen before".into(),
                events: vec![pay("ACT-1", "QuickCash Transfer", -90_000, 1)],
            },
        ],
    }
}

/// The source's `timeout` for a fault: one second where the test waits for it to pass, the
/// default (30s) elsewhere, so a busy machine cannot time out a poll that should succeed.
fn timeout_for(fault: &Fault) -> &'static str {
    match fault {
        Fault::Hang | Fault::SlowDrip { .. } => "1s",
        _ => "30s",
    }
}

/// The shared simulated-bank config with ACT-2 added, `timeout` and room in the budget.
fn config_text(dir: &Path, access_url: &str, timeout: &str) -> String {
    let rest = "[[account]]\nsource = \"sim-bank\"\nid = \"ACT-2\"\nlearning_period = \"0s\"\n";
    let schedule = "schedule = \"*/5 * * * *\"";
    support::sim_config_text(dir, access_url, "*/5 * * * *", rest)
        .replace(schedule, &format!("{schedule}\ntimeout = \"{timeout}\"\nmax_requests_per_day = 1000"))
}

/// The simulated bank and the real engine polling it on a clock the test moves.
struct Bank {
    sim: Simulator,
    engine: Arc<Engine>,
    clock: Clock,
    at: DateTime<Utc>,
    _dir: tempfile::TempDir,
}

impl Bank {
    async fn start(timeout: &str) -> Bank {
        let sim = Simulator::start(script(), Advance::Manual).await.expect("simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::parse(&config_text(dir.path(), &sim.access_url(), timeout), Path::new("faults.toml"))
            .expect("config");
        std::fs::create_dir_all(&config.daemon.state_dir).expect("state dir");
        let store = Store::open(&config.daemon.state_dir).expect("store");
        let at = Utc::now();
        let clock = Clock::manual(at);
        let engine = Arc::new(Engine::new(config, store, Stream::Stderr, clock.clone()).expect("engine"));
        Bank { sim, engine, clock, at, _dir: dir }
    }

    /// A bank whose baseline has been read, with ordinary spending waiting to be seen.
    async fn after_baseline(timeout: &str) -> Bank {
        let mut bank = Bank::start(timeout).await;
        assert!(bank.sim.advance(), "the baseline step");
        let baseline = bank.poll().await;
        assert!(baseline.succeeded() && baseline.accounts_ok == 2, "{baseline:?}");
        assert!(baseline.notices.is_empty(), "a baseline is quiet: {:?}", said(&baseline));
        assert!(bank.sim.advance(), "the spending step");
        bank
    }

    /// Moves the clock one tick on and polls the bank there.
    async fn poll(&mut self) -> SourceRun {
        self.at += TICK;
        self.clock.set(self.at);
        let run = self.engine.poll_source(0, self.at).await;
        assert!(!format!("{run:?}").contains(CREDENTIALS), "the credentials leaked: {run:?}");
        run
    }

    /// Stops the engine, changes its store's sled database with `damage` (what a disk fault or an
    /// older release's bug could leave behind), and starts a new engine on it, on the same clock.
    fn with_damaged_store(self, damage: impl FnOnce(&sled::Db)) -> Bank {
        let Bank { sim, engine, clock, at, _dir } = self;
        let config = engine.config().clone();
        drop(engine);
        let dir = &config.daemon.state_dir;
        let db = reopened(|| sled::Config::new().path(dir).flush_every_ms(None).open()).expect("sled");
        damage(&db);
        db.flush().expect("flush");
        drop(db);
        let store = reopened(|| Store::open(dir)).expect("the store");
        let engine = Arc::new(Engine::new(config, store, Stream::Stderr, clock.clone()).expect("engine"));
        Bank { sim, engine, clock, at, _dir }
    }

    /// How many snapshots the store holds of `account`: one per good poll of it.
    fn snapshots(&self, account: &str) -> usize {
        let account = AccountRef::new("sim-bank", account);
        self.engine.store().snapshots_between(&account, DateTime::<Utc>::MIN_UTC, None).expect("snapshots").len()
    }

    /// Every alert the store holds about the accounts' money (not the source's health).
    fn money_alerts(&self) -> Vec<String> {
        ["ACT-1", "ACT-2"]
            .iter()
            .flat_map(|a| self.engine.store().alerts_of(&AccountRef::new("sim-bank", *a)).expect("alerts"))
            .map(|a| format!("{}: {}", a.kind(), a.finding.title))
            .collect()
    }
}

/// The messages a poll made owed, as (kind, event).
fn said(run: &SourceRun) -> Vec<(String, String)> {
    run.notices.iter().map(|(a, e)| (a.kind().as_str().to_owned(), e.as_str().to_owned())).collect()
}

/// What a poll said about money: anything but the source's health.
fn money(run: &SourceRun) -> Vec<(String, String)> {
    said(run).into_iter().filter(|(kind, _)| kind != FindingKind::SourceDown.as_str()).collect()
}

/// What a poll said about `source_down`, if anything.
fn down(run: &SourceRun) -> Option<String> {
    said(run).into_iter().find(|(kind, _)| kind == FindingKind::SourceDown.as_str()).map(|(_, event)| event)
}

/// The text of `source_down` as said, to check it carries the reason.
fn down_detail(run: &SourceRun) -> String {
    run.notices
        .iter()
        .find(|(a, _)| a.kind() == FindingKind::SourceDown)
        .map(|(a, _)| a.finding.detail.clone())
        .unwrap_or_default()
}

/// A fault that fails the whole poll: each failure says `needle`; `source_down` fires on the
/// `down_after`-th in a row and not before; nothing about money is judged or stored meanwhile; the
/// next good poll resolves `source_down` and, compared with the baseline, finds nothing.
async fn source_fails(fault: Fault, needle: &str) {
    let mut bank = Bank::after_baseline(timeout_for(&fault)).await;
    bank.sim.inject(vec![fault.clone(); DOWN_AFTER]);
    for failure in 1..=DOWN_AFTER {
        let run = bank.poll().await;
        let error = run.error.as_ref().map(ToString::to_string);
        let error = error.unwrap_or_else(|| panic!("{fault:?}: poll {failure} should fail: {run:?}"));
        assert!(error.contains(needle), "{fault:?}: {error:?} should say {needle:?}");
        assert_eq!((run.accounts_ok, run.failures.len()), (0, 0), "{fault:?}: nothing was read: {run:?}");
        assert_eq!(money(&run), [], "{fault:?}: a failed poll judges no money");
        let expected = (failure == DOWN_AFTER).then(|| "firing".to_owned());
        assert_eq!(down(&run), expected, "{fault:?}: source_down after failure {failure}");
        if failure == DOWN_AFTER {
            assert!(down_detail(&run).contains(needle), "{fault:?}: the alert says why: {}", down_detail(&run));
        }
    }
    let recovered = bank.poll().await;
    assert!(recovered.succeeded() && recovered.accounts_ok == 2, "{fault:?}: {recovered:?}");
    assert_eq!(down(&recovered).as_deref(), Some("resolved"), "{fault:?}: recovery is noticed");
    assert_eq!(money(&recovered), [], "{fault:?}: compared with the last good snapshot, all is well");
    assert_eq!((bank.snapshots("ACT-1"), bank.snapshots("ACT-2")), (2, 2), "{fault:?}: failed polls store nothing");
    assert_eq!(bank.money_alerts(), Vec::<String>::new(), "{fault:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_500_counts_towards_source_down() {
    source_fails(Fault::InternalError, "answered HTTP 500").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_502_counts_towards_source_down() {
    source_fails(Fault::BadGateway, "answered HTTP 502").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_429_counts_towards_source_down() {
    source_fails(Fault::RateLimited { retry_after: 60 }, "rate-limiting us (HTTP 429); it asks us to wait 60s").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hang_times_out() {
    source_fails(Fault::Hang, "did not answer within 1s").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_drip_times_out() {
    source_fails(Fault::SlowDrip { every: Duration::from_millis(50) }, "did not answer within 1s").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_shorter_than_its_length_is_refused() {
    source_fails(Fault::ShortBody, "broke off its answer after").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_cut_mid_way_is_refused() {
    source_fails(Fault::CutJson, "not JSON: the answer ends mid-way").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mb_body_is_cut_off() {
    source_fails(Fault::Huge { bytes: 100_000_000 }, "sent more than 16777216 bytes").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_account_list_counts_towards_source_down() {
    source_fails(Fault::NoAccounts, "lists no accounts at all").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_error_counts_towards_source_down() {
    let fault = Fault::ErrList { code: "con.unavailable".into(), msg: "The bank is not answering".into() };
    source_fails(fault, "the platform reported: con.unavailable: The bank is not answering").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nan_as_a_json_number_fails_the_answer() {
    source_fails(Fault::RawBalance { account: "ACT-1".into(), json: "NaN".into() }, "\"balance\":NaN,").await;
}

/// Money that moved while the source was down is judged once it answers again, against the last
/// good snapshot: the theft is neither lost in the outage nor blamed on it.
#[tokio::test(flavor = "multi_thread")]
async fn a_theft_during_an_outage_is_caught_when_the_source_returns() {
    let mut bank = Bank::after_baseline("30s").await;
    bank.sim.inject(vec![Fault::InternalError; DOWN_AFTER]);
    assert!(bank.sim.advance(), "the theft step");
    for _ in 0..DOWN_AFTER {
        let run = bank.poll().await;
        assert!(run.error.is_some() && money(&run).is_empty(), "{run:?}");
    }
    let recovered = bank.poll().await;
    assert!(recovered.succeeded(), "{recovered:?}");
    assert_eq!(down(&recovered).as_deref(), Some("resolved"));
    let mut caught = money(&recovered);
    caught.sort();
    let firing = |kind: &str| (kind.to_owned(), "firing".to_owned());
    assert_eq!(caught, [firing("balance_drop"), firing("new_payee")]);
    let drop =
        recovered.notices.iter().find(|(a, _)| a.kind() == FindingKind::BalanceDrop).map(|(a, _)| a.finding.amount);
    assert_eq!(drop, Some(Some(Decimal::new(93_810, 2))), "the drop since the baseline, spending and theft together");
}

/// Refused credentials: `source_down` at once, saying someone else may have changed them; the
/// next good poll resolves it.
async fn credentials_refused(fault: Fault, needle: &str) {
    let mut bank = Bank::after_baseline(timeout_for(&fault)).await;
    bank.sim.inject([fault.clone()]);
    let run = bank.poll().await;
    let error = run.error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(error.contains(needle), "{fault:?}: {error:?}");
    assert_eq!(down(&run).as_deref(), Some("firing"), "{fault:?}: at once, not after {DOWN_AFTER}");
    assert!(down_detail(&run).contains("someone else may have"), "{}", down_detail(&run));
    assert_eq!(money(&run), []);
    let recovered = bank.poll().await;
    assert!(recovered.succeeded(), "{recovered:?}");
    assert_eq!(down(&recovered).as_deref(), Some("resolved"));
    assert_eq!(money(&recovered), []);
    assert_eq!((bank.snapshots("ACT-1"), bank.snapshots("ACT-2")), (2, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_403_fires_source_down_at_once() {
    credentials_refused(Fault::Forbidden, "refused the credentials (HTTP 403)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_auth_error_fires_source_down_at_once() {
    let fault = Fault::ErrList { code: "gen.auth".into(), msg: "Authentication failed".into() };
    credentials_refused(fault, "gen.auth: Authentication failed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_obeyed() {
    let mut bank = Bank::after_baseline("30s").await;
    bank.sim.inject([Fault::RateLimited { retry_after: 1800 }]);
    let limited = bank.poll().await;
    assert!(limited.error.as_ref().is_some_and(|e| e.to_string().contains("wait 1800s")), "{limited:?}");
    let requests = bank.sim.requests();
    for _ in 0..2 {
        let waiting = bank.poll().await;
        assert!(waiting.skipped.is_some(), "within the half hour asked for: {waiting:?}");
    }
    assert_eq!(bank.sim.requests(), requests, "no request while asked to wait");
    let after = bank.poll().await;
    assert!(after.succeeded() && after.accounts_ok == 2, "{after:?}");
    assert_eq!(said(&after), [], "one 429 is not an outage");
}

/// A damaged record in one account's past fails that account, not the others written in the same
/// store transaction: a poll writes its accounts in groups, and a group whose write fails is
/// written again one account at a time.
#[tokio::test]
async fn a_damaged_account_fails_alone_not_with_its_write_group() {
    let bank = Bank::after_baseline("30s").await;
    // ACT-2's hours of transactions go missing while its id index still names them.
    let mut bank = bank.with_damaged_store(|db| assert!(drop_hours_of(db, "ACT-2") > 0, "ACT-2 had transactions"));
    let run = bank.poll().await;
    assert!(run.error.is_none(), "the answer as a whole was read: {run:?}");
    assert_eq!(run.accounts_ok, 1, "ACT-1 was written: {run:?}");
    let failures: Vec<(&str, &str)> = run.failures.iter().map(|f| (f.account.as_str(), f.error.as_str())).collect();
    assert!(matches!(failures[..], [("ACT-2", e)] if e.contains("corrupt")), "{failures:?}");
    assert_eq!((bank.snapshots("ACT-1"), bank.snapshots("ACT-2")), (2, 1), "ACT-1's poll stored, ACT-2's not");
}

/// A fault in one account's data: that account fails whole, with `needle` in its error, the other
/// is read, and nothing is judged or stored for the failed one. The source answers, but after
/// `down_after` such polls the unwatched account is alerted on (`source_down` naming it); once the
/// fault clears, that resolves, and the account is compared with its last good snapshot.
async fn account_fails(fault: Fault, account: &str, needle: &str) {
    let other = if account == "ACT-1" { "ACT-2" } else { "ACT-1" };
    let mut bank = Bank::after_baseline(timeout_for(&fault)).await;
    bank.sim.inject(vec![fault.clone(); DOWN_AFTER]);
    for poll in 1..=DOWN_AFTER {
        let run = bank.poll().await;
        assert!(run.error.is_none(), "{fault:?}: the answer as a whole was read: {run:?}");
        assert_eq!(run.accounts_ok, 1, "{fault:?}: {other} was read: {run:?}");
        let failures: Vec<(&str, &str)> = run.failures.iter().map(|f| (f.account.as_str(), f.error.as_str())).collect();
        assert!(
            matches!(failures[..], [(a, e)] if a == account && e.contains(needle)),
            "{fault:?}: {failures:?} should say {needle:?}"
        );
        if poll < DOWN_AFTER {
            assert_eq!(said(&run), [], "{fault:?}: nothing yet about the failed account");
        } else {
            assert_eq!(
                said(&run),
                [("source_down".to_owned(), "firing".to_owned())],
                "{fault:?}: the unwatched account is said"
            );
            let title = &run.notices[0].0.finding.title;
            assert!(title.contains(&format!("account {account} cannot be read")), "{fault:?}: {title}");
        }
    }
    let recovered = bank.poll().await;
    assert!(recovered.succeeded() && recovered.accounts_ok == 2, "{fault:?}: {recovered:?}");
    assert_eq!(
        said(&recovered),
        [("source_down".to_owned(), "resolved".to_owned())],
        "{fault:?}: read again, and compared with the last good snapshot all is well"
    );
    assert_eq!(bank.snapshots(account), 2, "{fault:?}: the failed polls of {account} stored nothing");
    assert_eq!(bank.snapshots(other), 2 + DOWN_AFTER, "{fault:?}: {other} was stored each time");
    assert_eq!(bank.money_alerts(), Vec::<String>::new(), "{fault:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_balance_object_fails_its_account() {
    account_fails(
        Fault::BalanceObject { account: "ACT-1".into() },
        "ACT-1",
        "balance should be a decimal amount, found an object",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_as_a_string_fail_their_account() {
    account_fails(
        Fault::TransactionsString { account: "ACT-2".into() },
        "ACT-2",
        "`transactions` should be an array, found a string",
    )
    .await;
}

/// Absurd amounts, as JSON numbers and as strings, in a balance and in a transaction: each is
/// refused with its text quoted as sent (never rounded, never a float), failing its account.
#[tokio::test(flavor = "multi_thread")]
async fn absurd_amounts_are_refused_not_rounded() {
    let forty = "1234567890123456789012345678901234567890";
    let quoted_forty = format!("\"{forty}\"");
    let forty_refused = format!("\"{forty}\" is too large or too precise");
    let cases = [
        // serde_json keeps a number's digits; only the exponent's form changes.
        ("1e400", "\"1e+400\" is too large or too precise"),
        ("\"1e400\"", "\"1e400\" is too large or too precise"),
        ("\"1e-400\"", "\"1e-400\" is too large or too precise"),
        (forty, &forty_refused),
        (&quoted_forty, &forty_refused),
        ("\"NaN\"", "\"NaN\" is not a decimal amount"),
        // Decimal's own edge: it parses, and would overflow the detectors' sums.
        ("-79228162514264337593543950335", "more than any account holds"),
        ("\"79228162514264337593543950335\"", "more than any account holds"),
    ];
    for (json, needle) in cases {
        account_fails(Fault::RawBalance { account: "ACT-2".into(), json: json.into() }, "ACT-2", needle).await;
        account_fails(Fault::RawAmount { account: "ACT-1".into(), json: json.into() }, "ACT-1", needle).await;
    }
}

/// Every transaction listed twice with its id: counted once, so reconciliation, payee counts and
/// the store see one of each.
#[tokio::test(flavor = "multi_thread")]
async fn duplicate_ids_in_one_answer_count_once() {
    let mut bank = Bank::after_baseline("30s").await;
    bank.sim.inject([Fault::DuplicateIds { account: "ACT-1".into() }]);
    let run = bank.poll().await;
    assert!(run.succeeded(), "{run:?}");
    assert_eq!(said(&run), [], "no unexplained change, no double charge");
    let account = AccountRef::new("sim-bank", "ACT-1");
    let stored =
        bank.engine.store().transactions_between(&account, DateTime::<Utc>::MIN_UTC, None).expect("transactions");
    assert_eq!(stored.len(), 3, "{stored:?}");
    let payees = bank.engine.store().payees(&account).expect("payees");
    let grocer = payees.iter().find(|p| p.name == "Grocer's Market").map(|p| p.count);
    assert_eq!(grocer, Some(2), "{payees:?}");
    let again = bank.poll().await;
    assert_eq!(said(&again), []);
}

// ---- `payguard once` ----

struct Once {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn once_setup(access_url: &str, timeout: &str) -> Once {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("payguard.toml");
    std::fs::write(&config, config_text(dir.path(), access_url, timeout)).expect("write the config");
    Once { dir, config }
}

async fn once(setup: &Once) -> std::process::Output {
    support::run(&setup.config, &["once", "--json"]).await
}

/// One fault through the real binary, after a good baseline run: exit 75, the reason on stderr,
/// no credentials, nothing about money on stdout. Returns stderr.
async fn once_fails(fault: Fault, needle: &str) -> String {
    let sim = Simulator::start(script(), Advance::Manual).await.expect("simulator");
    let setup = once_setup(&sim.access_url(), timeout_for(&fault));
    sim.advance();
    let baseline = once(&setup).await;
    assert_eq!(baseline.status.code(), Some(0), "{}", String::from_utf8_lossy(&baseline.stderr));
    sim.advance();
    sim.inject([fault.clone()]);
    let output = once(&setup).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(75), "{fault:?}: {stderr}");
    assert!(stderr.contains(needle), "{fault:?}: {stderr}");
    assert!(!stderr.contains(CREDENTIALS), "{fault:?}: credentials leaked: {stderr}");
    assert!(!stderr.contains("panicked"), "{fault:?}: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        let finding: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(finding["kind"], "source_down", "{fault:?}: a failed poll judges no money: {line}");
    }
    setup.dir.close().expect("remove the temp dir");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn once_exits_75_when_the_source_fails() {
    once_fails(Fault::Forbidden, "refused the credentials (HTTP 403)").await;
    once_fails(Fault::Hang, "did not answer within 1s").await;
    once_fails(Fault::Huge { bytes: 100_000_000 }, "sent more than 16777216 bytes").await;
}

/// An account whose data is unusable fails the run, and the other account is still checked.
#[tokio::test(flavor = "multi_thread")]
async fn once_exits_75_when_one_account_is_unusable() {
    let cases = [
        (
            Fault::RawBalance { account: "ACT-2".into(), json: "1e400".into() },
            "account ACT-2: balance: \"1e+400\" is too large",
        ),
        (
            Fault::BalanceObject { account: "ACT-1".into() },
            "account ACT-1: balance should be a decimal amount, found an object",
        ),
        (Fault::TransactionsString { account: "ACT-2".into() }, "account ACT-2: `transactions` should be an array"),
    ];
    for (fault, needle) in cases {
        let stderr = once_fails(fault, needle).await;
        assert!(stderr.contains("checked 1 account"), "{stderr}");
    }
}
