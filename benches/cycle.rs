//! The cycle benchmark (issue 8): payguard against the physical limit of the machine it runs on.
//!
//! One run, in this order: the machine and its load; the limit (a bare reqwest loop fetching the
//! same `/accounts` answer from the same simulator, and payguard's own fetch + parse without the
//! store); full poll cycles of the real `Engine` over a generated bank of `PAYGUARD_BENCH_ACCOUNTS`
//! accounts (default 10,000), each with 10 new transactions per poll, until
//! `PAYGUARD_BENCH_TRANSACTIONS` (default 1,000,000) are stored; sled's raw insert rate for the same
//! records; the size and reopen time of the store that built; then the real `payguard run` binary,
//! first on that store with every account (peak RSS), then on a fresh store with 5 accounts idling
//! for `PAYGUARD_BENCH_IDLE_SECS` (default 60) between polls (CPU and RSS). The cycles run on a
//! manual clock an hour apart (SimpleFIN's budget allows 24 polls a day), so the detectors' 24-hour
//! lookback holds what a real day of hourly polls would. Every figure is printed with its target
//! and the load average when it was taken. Run: `cargo bench --bench cycle`; `PAYGUARD_BENCH_SKIP`
//! (a comma list of `bare`, `raw`, `binary`, `idle`) leaves parts out while tuning.

// A benchmark is test code: a failed unwrap ends the run with its reason, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Timelike, Utc};
use payguard::config::Config;
use payguard::daemon::{Clock, Engine};
use payguard::model::{AccountRef, Observation};
use payguard::notify::Stream;
use payguard::sim::{Load, Simulator};
use payguard::source::Source;
use payguard::store::Store;
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// What the run is asked to do, from the environment.
struct Settings {
    accounts: usize,
    transactions: u64,
    idle: Duration,
    bare_requests: usize,
    skip: Vec<String>,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
        };
        Settings {
            accounts: number("PAYGUARD_BENCH_ACCOUNTS", 10_000).max(1) as usize,
            transactions: number("PAYGUARD_BENCH_TRANSACTIONS", 1_000_000),
            idle: Duration::from_secs(number("PAYGUARD_BENCH_IDLE_SECS", 60)),
            bare_requests: number("PAYGUARD_BENCH_BARE_REQUESTS", 10).max(1) as usize,
            skip: std::env::var("PAYGUARD_BENCH_SKIP")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    fn runs(&self, part: &str) -> bool {
        !self.skip.iter().any(|s| s == part)
    }

    /// Full cycles needed to store the asked-for number of transactions; at least three, so there
    /// are steady cycles after the baseline.
    fn cycles(&self) -> usize {
        let per_cycle = (self.accounts * PER_POLL) as u64;
        (self.transactions.div_ceil(per_cycle) as usize).max(3)
    }
}

const PER_POLL: usize = 10;
const INTERVAL: TimeDelta = TimeDelta::hours(1);

fn main() {
    let settings = Settings::from_env();
    let timings = Timings::default();
    let subscriber = tracing_subscriber::registry().with(
        timings
            .clone()
            .with_filter(tracing_subscriber::filter::filter_fn(|m| m.is_span() && m.target().starts_with("payguard"))),
    );
    tracing::subscriber::set_global_default(subscriber).expect("install the span timer");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(run(settings, timings));
}

async fn run(settings: Settings, timings: Timings) {
    let work = tempfile::Builder::new().prefix("payguard-bench-").tempdir().expect("a temp dir");
    let mut report = Report::default();
    machine(&mut report);
    let cycles = settings.cycles();
    // Simulated time ends an interval before the wall clock, so the real daemon's poll comes after.
    let first_poll_at = Utc::now() - INTERVAL * (cycles as i32 + 1);
    let load = Load { accounts: settings.accounts, per_poll: PER_POLL, first_poll_at, interval: INTERVAL };
    println!(
        "payguard cycle benchmark: {} accounts, {PER_POLL} new transactions each per poll, {cycles} cycles",
        settings.accounts
    );

    let limit = if settings.runs("bare") { Some(bare_limit(&load, &settings, &mut report).await) } else { None };

    let state = work.path().join("state");
    let cycles_figures = engine_cycles(&load, cycles, &state, &timings, &mut report).await;
    if let Some(limit) = limit {
        report.line(
            "payguard / bare request rate",
            format!("{:.2}", limit.seconds_per_request / cycles_figures.median_cycle.as_secs_f64()),
            ">= 0.5",
        );
    }
    if settings.runs("raw") {
        raw_sled(&load, &cycles_figures, work.path(), &mut report).await;
    }
    store_figures(&state, cycles_figures.transactions, &mut report);

    if settings.runs("binary") {
        let sim = Simulator::start_load(Load { first_poll_at: load.poll_time(cycles as u64), ..load.clone() })
            .await
            .expect("start the load simulator");
        binary_at_scale(&sim, settings.accounts, cycles_figures.transactions, &state, work.path(), &mut report).await;
    }
    if settings.runs("idle") {
        idle(&settings, work.path(), &mut report).await;
    }
    report.line("bench process peak RSS (simulator included)", mib(status_kib("self", "VmHWM")), "(context)");
    report.print();
    if std::env::var_os("PAYGUARD_BENCH_KEEP").is_some() {
        println!("kept {}", work.keep().display());
    }
}

/// A figure with its target and the load average when it was taken.
#[derive(Default)]
struct Report {
    lines: Vec<(String, String, String, String)>,
}

impl Report {
    fn line(&mut self, what: &str, value: String, target: &str) {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: String = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        println!("  {what}: {value}   [target {target}; load {load}]");
        self.lines.push((what.to_owned(), value, target.to_owned(), load));
    }

    fn print(&self) {
        println!("\n| figure | value | target | load (1/5/15 min) |\n|---|---|---|---|");
        for (what, value, target, load) in &self.lines {
            println!("| {what} | {value} | {target} | {load} |");
        }
    }
}

fn machine(report: &mut Report) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = memory.lines().next().unwrap_or_default().split_whitespace().nth(1).unwrap_or("?").to_owned();
    let uptime = Command::new("uptime").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    report.line(
        "machine",
        format!("{} x {}, {} MiB", cores, model.unwrap_or("?").trim(), memory.parse::<u64>().unwrap_or(0) / 1024),
        "(context)",
    );
    report.line("uptime at start", uptime.unwrap_or_default(), "(context)");
}

struct Limit {
    seconds_per_request: f64,
}

/// The limit: how fast a bare HTTP client gets the same answer from the same simulator, and how
/// fast payguard's source fetches and parses it (no store, no detectors).
async fn bare_limit(load: &Load, settings: &Settings, report: &mut Report) -> Limit {
    let sim = Simulator::start_load(load.clone()).await.expect("start the load simulator");
    let client = reqwest::Client::new();
    let url = format!("http://{}/simplefin/accounts", sim.addr());
    let since = load.first_poll_at.timestamp().to_string();
    let mut bytes = 0;
    let mut times = Vec::new();
    for _ in 0..settings.bare_requests {
        let started = Instant::now();
        let body = client
            .get(&url)
            .query(&[("start-date", since.as_str()), ("pending", "1")])
            .basic_auth(payguard::sim::USERNAME, Some(payguard::sim::PASSWORD))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("the simulator answers");
        bytes = body.bytes().await.expect("the whole answer").len();
        times.push(started.elapsed());
    }
    let rate = times.len() as f64 / times.iter().map(Duration::as_secs_f64).sum::<f64>();
    report.line("answer size", format!("{:.1} MB", bytes as f64 / 1e6), "(context)");
    report.line("LIMIT bare reqwest request rate (simulator generates + sends)", format!("{rate:.2} req/s"), "(limit)");
    report.line("LIMIT bare request time (median)", ms(percentile(&times, 0.5)), "(limit)");

    let config = Config::parse(
        &config_text(&ConfigSpec::new(load.accounts, Path::new("/nonexistent"), &sim)),
        Path::new("bench.toml"),
    )
    .expect("the bench config");
    let source = Source::new(&config.sources[0]).expect("the source");
    let accounts: Vec<String> = (0..load.accounts).map(Load::account_id).collect();
    let mut times = Vec::new();
    for _ in 0..settings.bare_requests.min(5) {
        let started = Instant::now();
        let poll = source.poll(&accounts, load.first_poll_at, Utc::now()).await.expect("a poll");
        times.push(started.elapsed());
        assert!(poll.accounts.iter().all(|(_, r)| r.is_ok()), "every account parses");
    }
    report.line("payguard fetch + parse only (median)", ms(percentile(&times, 0.5)), "(context)");
    Limit { seconds_per_request: 1.0 / rate }
}

struct CycleFigures {
    median_cycle: Duration,
    transactions: u64,
    /// One steady cycle's observations, kept for the raw sled comparison.
    sample: Vec<Observation>,
}

/// Full poll cycles of the real engine: fetch, parse, ingest, detect, enqueue, flush.
async fn engine_cycles(
    load: &Load,
    cycles: usize,
    state: &Path,
    timings: &Timings,
    report: &mut Report,
) -> CycleFigures {
    let sim = Simulator::start_load(load.clone()).await.expect("start the load simulator");
    std::fs::create_dir_all(state).expect("the state dir");
    let config = Config::parse(&config_text(&ConfigSpec::new(load.accounts, state, &sim)), Path::new("bench.toml"))
        .expect("the bench config");
    let store = Store::open(state).expect("open the store");
    let clock = Clock::manual(load.first_poll_at);
    let engine = Engine::new(config, store, Stream::Stderr, clock.clone()).expect("an engine");
    let mut cycle_times = Vec::new();
    let mut steady_spans: HashMap<&'static str, Vec<Duration>> = HashMap::new();
    let started_all = Instant::now();
    let mut notices = 0;
    for cycle in 0..cycles {
        let now = load.poll_time(cycle as u64) + TimeDelta::seconds(1);
        clock.set(now);
        timings.take();
        let started = Instant::now();
        let run = engine.poll_source(0, now).await;
        let took = started.elapsed();
        assert!(run.succeeded(), "cycle {cycle} failed: {:?} {:?}", run.error, run.failures.first());
        assert_eq!(run.accounts_ok, load.accounts);
        notices += run.notices.len();
        let spans = timings.take();
        if cycle == 0 {
            report.line("baseline cycle (first poll of every account)", ms(took), "(context)");
        } else {
            cycle_times.push(took);
            for (name, times) in spans {
                steady_spans.entry(name).or_default().extend(times);
            }
        }
        if cycle % 10 == 0 || cycle + 1 == cycles {
            eprintln!("  cycle {cycle}: {} ({} notices so far)", ms(took), notices);
        }
    }
    let total = started_all.elapsed();
    let transactions = (cycles * load.accounts * PER_POLL) as u64;
    let median = percentile(&cycle_times, 0.5);
    report.line(
        &format!("cycle time over {} accounts (median of {} steady cycles)", load.accounts, cycle_times.len()),
        ms(median),
        "<= 1000 ms",
    );
    report.line("cycle time p99", ms(percentile(&cycle_times, 0.99)), "<= 1000 ms");
    report.line("accounts/s (steady)", format!("{:.0}", load.accounts as f64 / median.as_secs_f64()), "(>= 10000)");
    report.line(
        "transactions/s ingested (steady)",
        format!("{:.0}", (load.accounts * PER_POLL) as f64 / median.as_secs_f64()),
        "(>= 100000)",
    );
    report.line(
        &format!("{transactions} transactions ingested, all cycles"),
        format!("{:.1} s", total.as_secs_f64()),
        "<= 10 s for 1M",
    );
    let cost = steady_spans.remove("account").unwrap_or_default();
    report.line("per-account ingest+detect+enqueue p50", us(percentile(&cost, 0.5)), "(context)");
    report.line("per-account ingest+detect+enqueue p99", us(percentile(&cost, 0.99)), "<= 5 ms");
    report.line("per-account max", us(percentile(&cost, 1.0)), "(context)");
    let waited = steady_spans.remove("waited").unwrap_or_default();
    report.line(
        "  an account's wait from its judging to its group's commit",
        format!("p50 {}, p99 {}", us(percentile(&waited, 0.5)), us(percentile(&waited, 0.99))),
        "(context)",
    );
    let per_cycle = |name: &str, spans: &HashMap<&'static str, Vec<Duration>>| {
        spans.get(name).map(|t| percentile(t, 0.5)).unwrap_or_default()
    };
    report.line("stage: fetch + parse (median per cycle)", ms(per_cycle("fetch", &steady_spans)), "(context)");
    report.line(
        "stage: ingest, all accounts (median per cycle)",
        ms(per_cycle("accounts", &steady_spans)),
        "(context)",
    );
    let per_account = |name: &str| {
        let times = steady_spans.get(name).map(Vec::as_slice).unwrap_or_default();
        format!("p50 {}, p99 {}", us(percentile(times, 0.5)), us(percentile(times, 0.99)))
    };
    report.line("  of which judging it (history read, detectors, plan)", per_account("ingest"), "(context)");
    report.line("    of which the history read", per_account("history"), "(context)");
    report.line(
        "  and its share of its group's write; a group's write (one sled transaction)",
        per_account("write"),
        "(context)",
    );
    report.line(
        "stage: flush, the durable point (median per cycle)",
        ms(per_cycle("flush", &steady_spans)),
        "(context)",
    );
    report.line("alerts announced over the run", notices.to_string(), "(context)");

    // One more answer, parsed but not stored: the records the raw sled run writes.
    let source = Source::new(&engine.config().sources[0]).expect("the source");
    let accounts: Vec<String> = (0..load.accounts).map(Load::account_id).collect();
    let poll = source.poll(&accounts, load.first_poll_at, Utc::now()).await.expect("a poll");
    let sample = poll.accounts.into_iter().filter_map(|(_, r)| r.ok()).collect();
    CycleFigures { median_cycle: median, transactions, sample }
}

/// sled on its own, two ways, each over three rounds of one cycle's records (so the trees are not
/// empty) with one flush per round, no reads, no transactions, no detectors:
/// - the transactions of a cycle, one plain insert each, as JSON: sled's raw rate for the records;
/// - every record an ingest writes per account (snapshot, hour of transactions, 10 id-index
///   entries, 10 payees, the account, an audit entry and head: 25 inserts), with values of the
///   sizes payguard writes: the bound this schema puts on accounts per second.
async fn raw_sled(load: &Load, figures: &CycleFigures, dir: &Path, report: &mut Report) {
    const ROUNDS: usize = 3;
    let key = |a: &AccountRef, rest: &[&[u8]]| {
        let mut k = Vec::with_capacity(a.source.len() + a.account.len() + 32);
        k.extend_from_slice(&(a.source.len() as u16).to_be_bytes());
        k.extend_from_slice(a.source.as_bytes());
        k.extend_from_slice(&(a.account.len() as u16).to_be_bytes());
        k.extend_from_slice(a.account.as_bytes());
        rest.iter().for_each(|r| k.extend_from_slice(r));
        k
    };
    let db = sled::Config::new().path(dir.join("raw-tx")).flush_every_ms(None).open().expect("a raw sled db");
    let transactions = db.open_tree("t").expect("tree");
    let mut count = 0u64;
    let started = Instant::now();
    for round in 0..ROUNDS as u8 {
        for obs in &figures.sample {
            for tx in &obs.transactions {
                let k = key(&obs.account, &[&[round], tx.id.as_bytes()]);
                transactions.insert(k, serde_json::to_vec(tx).expect("json")).expect("insert");
                count += 1;
            }
        }
        db.flush_async().await.expect("flush");
    }
    let raw_rate = count as f64 / started.elapsed().as_secs_f64();
    drop((transactions, db));
    let ours = (load.accounts * PER_POLL) as f64 / figures.median_cycle.as_secs_f64();
    report.line(
        "LIMIT sled raw inserts of the transactions (JSON) + 1 flush",
        format!("{raw_rate:.0} tx/s"),
        "(limit)",
    );
    report.line("payguard / sled raw transaction insert rate", format!("{:.2}", ours / raw_rate), "(context)");

    let db = sled::Config::new().path(dir.join("raw-all")).flush_every_ms(None).open().expect("a raw sled db");
    let trees: Vec<sled::Tree> =
        ["s", "t", "i", "p", "a", "u"].iter().map(|t| db.open_tree(t).expect("tree")).collect();
    let (bucket, small, payee, audit, head) = (vec![7u8; 420], [7u8; 8], vec![7u8; 44], vec![7u8; 520], vec![7u8; 90]);
    let mut seq = 0u64;
    let started = Instant::now();
    for round in 0..ROUNDS as u8 {
        for obs in &figures.sample {
            let a = &obs.account;
            trees[0].insert(key(a, &[&[round], b"snapshot"]), &bucket[..40]).expect("insert");
            trees[1].insert(key(a, &[&[round], b"hour"]), bucket.as_slice()).expect("insert");
            for tx in &obs.transactions {
                trees[2].insert(key(a, &[&[round], tx.id.as_bytes()]), &small).expect("insert");
                trees[3].insert(key(a, &[tx.payee_key.as_bytes()]), payee.as_slice()).expect("insert");
            }
            trees[4].insert(key(a, &[]), &payee[..30]).expect("insert");
            seq += 1;
            trees[5].insert(seq.to_be_bytes(), audit.as_slice()).expect("insert");
            trees[5].insert(b"head", head.as_slice()).expect("insert");
        }
        db.flush_async().await.expect("flush");
    }
    let accounts_rate = (figures.sample.len() * ROUNDS) as f64 / started.elapsed().as_secs_f64();
    let ours = load.accounts as f64 / figures.median_cycle.as_secs_f64();
    report.line(
        "LIMIT sled raw inserts of every record an ingest writes (25/account) + 1 flush",
        format!("{accounts_rate:.0} accounts/s"),
        "(limit)",
    );
    report.line("payguard / that bound (accounts/s)", format!("{:.2}", ours / accounts_rate), "(context)");
}

/// The store built by the cycles: bytes per transaction and the time to open it again.
fn store_figures(state: &Path, transactions: u64, report: &mut Report) {
    let (len, allocated) = dir_size(state);
    report.line(
        &format!("store size, {transactions} transactions"),
        format!("{:.1} MB ({:.1} MB allocated)", len as f64 / 1e6, allocated as f64 / 1e6),
        "(context)",
    );
    report.line("store bytes per transaction", format!("{:.0}", len as f64 / transactions as f64), "<= 300");
    let started = Instant::now();
    let store = Store::open(state).expect("reopen the store");
    let opened = started.elapsed();
    let head = store.audit_head().expect("read after reopening");
    report.line(
        &format!("store reopen ({transactions} transactions, {} audit entries)", head.seq),
        ms(opened),
        "<= 1000 ms",
    );
    drop(store);
    // What the files hold live, tree by tree (keys + values): the rest of their size is sled's
    // log-structured overhead (stale page versions, headers, partly empty segments).
    let db = sled::Config::new().path(state).flush_every_ms(None).open().expect("open the store with sled");
    let mut live = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("a tree");
        let (mut entries, mut bytes) = (0u64, 0u64);
        for (k, v) in tree.iter().flatten() {
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        if entries > 0 {
            live.push((String::from_utf8_lossy(&name).into_owned(), entries, bytes));
        }
    }
    live.sort_by_key(|t| std::cmp::Reverse(t.2));
    let total: u64 = live.iter().map(|t| t.2).sum();
    let trees: Vec<String> = live
        .iter()
        .map(|(name, entries, bytes)| {
            format!("{name} {:.0} B/tx ({entries} entries)", *bytes as f64 / transactions as f64)
        })
        .collect();
    report.line(
        "live keys + values per transaction",
        format!("{:.0} B: {}", total as f64 / transactions as f64, trees.join(", ")),
        "(context)",
    );
}

/// The real daemon on the big store, polling every account: its peak RSS.
async fn binary_at_scale(
    sim: &Simulator,
    accounts: usize,
    transactions: u64,
    state: &Path,
    work: &Path,
    report: &mut Report,
) {
    let dir = work.join("binary-scale");
    std::fs::create_dir_all(&dir).expect("a dir");
    let mut spec = ConfigSpec::new(accounts, state, sim);
    spec.schedule = "* * * * * *".to_owned();
    spec.socket = Some(dir.join("control.sock"));
    let config = write_config(&dir, &spec);
    let requests = sim.requests();
    let mut daemon = Daemon::start(&config, &dir);
    // Opened, its config read, and not yet polled: what the store and the config cost at rest.
    daemon.wait_for_log("payguard started", Duration::from_secs(120));
    std::thread::sleep(Duration::from_millis(300));
    let at_rest = if sim.requests() == requests { Some(status_kib(&daemon.pid(), "VmRSS")) } else { None };
    daemon.wait_for_polls(2, Duration::from_secs(300));
    let polled = sim.requests() - requests;
    let hwm = status_kib(&daemon.pid(), "VmHWM");
    let rss = status_kib(&daemon.pid(), "VmRSS");
    report.line(
        &format!("payguard run peak RSS, {accounts} accounts, {transactions}-transaction store ({polled} polls)"),
        format!(
            "{} (now {}; anonymous {}, file-backed {})",
            mib(hwm),
            mib(rss),
            mib(status_kib(&daemon.pid(), "RssAnon")),
            mib(status_kib(&daemon.pid(), "RssFile"))
        ),
        "<= 60 MiB",
    );
    if let Some(kib) = at_rest {
        report.line("  the same daemon after opening the store, before its first poll", mib(kib), "(context)");
    }
    daemon.stop();
}

/// The real daemon with five accounts: one poll, then a minute of idling; CPU and RSS.
async fn idle(settings: &Settings, work: &Path, report: &mut Report) {
    let dir = work.join("idle");
    std::fs::create_dir_all(&dir).expect("a dir");
    let sim = Simulator::start_load(Load::new(5)).await.expect("start the load simulator");
    let mut spec = ConfigSpec::new(5, &dir.join("state"), &sim);
    // Once a day, a few seconds from now: one poll, then nothing scheduled for the idle minute.
    let at = Utc::now() + TimeDelta::seconds(4);
    spec.schedule = format!("{} {} {} * * *", at.second(), at.minute(), at.hour());
    spec.socket = Some(dir.join("control.sock"));
    let config = write_config(&dir, &spec);
    let mut daemon = Daemon::start(&config, &dir);
    daemon.wait_for_polls(1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let pid = daemon.pid();
    let (ticks0, ns0, switches0) = (cpu_ticks(&pid), cpu_ns(&pid), switches(&pid));
    let by_thread0 = thread_switches(&pid);
    tokio::time::sleep(settings.idle).await;
    let (ticks1, ns1, switches1) = (cpu_ticks(&pid), cpu_ns(&pid), switches(&pid));
    let (cpu, switched) = (growth(&ns0, &ns1), growth(&switches0, &switches1));
    let exited = ns0.keys().filter(|t| !ns1.contains_key(*t)).count();
    let mut woke: HashMap<String, u64> = HashMap::new();
    for (tid, (name, n)) in thread_switches(&pid) {
        let before = by_thread0.get(&tid).map_or(0, |(_, b)| *b);
        *woke.entry(name).or_default() += n.saturating_sub(before);
    }
    let mut woke: Vec<(String, u64)> = woke.into_iter().filter(|(_, n)| *n > 0).collect();
    woke.sort_by_key(|w| std::cmp::Reverse(w.1));
    let woke: Vec<String> = woke.iter().map(|(name, n)| format!("{name} {n}")).collect();
    let per_minute = 60.0 / settings.idle.as_secs_f64();
    let tick_ms = 1000.0 / clock_ticks_per_second();
    report.line(
        &format!("idle CPU between polls, 5 accounts, over {} s", settings.idle.as_secs()),
        format!(
            "{:.1} ms/min (utime+stime {:.0} ms; scheduler {:.2} ms; {} context switches/min; {exited} threads exited)",
            cpu as f64 / 1e6 * per_minute,
            ticks1.saturating_sub(ticks0) as f64 * tick_ms * per_minute,
            cpu as f64 / 1e6,
            (switched as f64 * per_minute).round()
        ),
        "<= 10 ms/min",
    );
    report.line("  who woke during the idle time (thread: context switches)", woke.join(", "), "(context)");
    report.line(
        "payguard run RSS idle, 5 accounts",
        format!(
            "{} (peak {}; anonymous {}, file-backed {})",
            mib(status_kib(&pid, "VmRSS")),
            mib(status_kib(&pid, "VmHWM")),
            mib(status_kib(&pid, "RssAnon")),
            mib(status_kib(&pid, "RssFile"))
        ),
        "<= 10 MiB",
    );
    report.line(
        "payguard run threads",
        std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0).to_string(),
        "(context)",
    );
    daemon.stop();
}

/// What differs between the configs the bench writes.
struct ConfigSpec {
    accounts: usize,
    state: PathBuf,
    access_url: String,
    schedule: String,
    socket: Option<PathBuf>,
}

impl ConfigSpec {
    fn new(accounts: usize, state: &Path, sim: &Simulator) -> ConfigSpec {
        ConfigSpec {
            accounts,
            state: state.to_owned(),
            access_url: sim.access_url(),
            schedule: "0 * * * *".to_owned(),
            socket: None,
        }
    }
}

/// A config watching the generated bank: every account with a large-debit rule (one account in a
/// hundred trips it per poll) and a console channel for the messages that owes.
fn config_text(spec: &ConfigSpec) -> String {
    use std::fmt::Write as _;
    let quote = |p: &Path| p.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    let mut text = format!("[daemon]\nstate_dir = \"{}\"\ntimezone = \"UTC\"\n", quote(&spec.state));
    if let Some(socket) = &spec.socket {
        let _ = writeln!(text, "control_socket = \"{}\"", quote(socket));
    }
    let _ = write!(
        text,
        "\n[[source]]\nname = \"load\"\nkind = \"simplefin\"\naccess_url = \"{}\"\nschedule = \"{}\"\n\
         max_requests_per_day = 1000000\nmax_body = \"1GiB\"\ntimeout = \"300s\"\n\n\
         [[channel]]\nname = \"console\"\nkind = \"console\"\n",
        spec.access_url, spec.schedule
    );
    for index in 0..spec.accounts {
        let _ = write!(
            text,
            "\n[[account]]\nsource = \"load\"\nid = \"{}\"\nlarge_debit = \"500.00\"\n",
            Load::account_id(index)
        );
    }
    text
}

fn write_config(dir: &Path, spec: &ConfigSpec) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("payguard.toml");
    std::fs::write(&path, config_text(spec)).expect("write the config");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod the config");
    path
}

/// A `payguard run` child, stopped with SIGTERM (or killed) when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, dir: &Path) -> Daemon {
        let log = dir.join("daemon.log");
        let file = std::fs::File::create(&log).expect("the daemon log");
        // PAYGUARD_BENCH_DAEMON_WRAPPER runs the daemon under a tool (`env MALLOC_ARENA_MAX=1`,
        // `heaptrack -o /tmp/pg`), for diagnosis; the figures then include the tool's effect.
        let wrapper = std::env::var("PAYGUARD_BENCH_DAEMON_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(tool) => {
                let mut command = Command::new(tool);
                command.args(words).arg(env!("CARGO_BIN_EXE_payguard"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_payguard")),
        };
        let child = command
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("RUST_LOG", "info")
            .env_remove("JOURNAL_STREAM")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start payguard run");
        Daemon { child, log }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn wait_for_polls(&mut self, polls: usize, guard: Duration) {
        self.wait_for_log_count("poll done", polls, guard);
    }

    fn wait_for_log(&mut self, line: &str, guard: Duration) {
        self.wait_for_log_count(line, 1, guard);
    }

    fn wait_for_log_count(&mut self, line: &str, count: usize, guard: Duration) {
        let deadline = Instant::now() + guard;
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.matches(line).count() >= count {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("payguard run exited ({status}) before logging {line:?} {count} times:\n{log}");
            }
            assert!(Instant::now() < deadline, "payguard run did not log {line:?} {count} times in time:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid()).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Span durations by name, from creation to close: `ingest` (judging one account), `write` (one
/// group's transaction), `fetch`, `flush`; and two per account derived from them: `account`, its
/// cost (its judging and its share of its group's write), and `waited`, from the start of its
/// judging until its group's write committed.
#[derive(Clone, Default)]
struct Timings {
    spans: Arc<Mutex<HashMap<&'static str, Vec<Duration>>>>,
    /// The accounts judged since the last group write: when each started, how long it took.
    judged: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

struct Started(Instant);

impl Timings {
    fn take(&self) -> HashMap<&'static str, Vec<Duration>> {
        std::mem::take(&mut *self.spans.lock().expect("the timings lock"))
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Timings {
    fn on_new_span(&self, _: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(started) = span.extensions().get::<Started>().map(|s| s.0) else { return };
        let took = started.elapsed();
        let mut spans = self.spans.lock().expect("the timings lock");
        spans.entry(span.name()).or_default().push(took);
        let mut judged = self.judged.lock().expect("the timings lock");
        match span.name() {
            "ingest" => judged.push((started, took)),
            // The engine writes a group right after judging it, on the same thread.
            "write" if !judged.is_empty() => {
                let share = took / judged.len() as u32;
                for (began, judging) in judged.drain(..) {
                    spans.entry("account").or_default().push(judging + share);
                    spans.entry("waited").or_default().push(began.elapsed());
                }
            }
            _ => {}
        }
    }
}

fn percentile(times: &[Duration], q: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are plain.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<u64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)
}

/// CPU time of each thread of a process in nanoseconds (`schedstat`, finer than the ticks), by
/// thread id.
fn cpu_ns(pid: &str) -> HashMap<String, u64> {
    per_thread(pid, |task| {
        let stat = std::fs::read_to_string(format!("{task}/schedstat")).ok()?;
        stat.split_whitespace().next()?.parse().ok()
    })
}

/// Voluntary and involuntary context switches of each thread (how often anything woke it), by
/// thread id.
fn switches(pid: &str) -> HashMap<String, u64> {
    per_thread(pid, |task| {
        let status = std::fs::read_to_string(format!("{task}/status")).ok()?;
        Some(
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
                .sum(),
        )
    })
}

fn per_thread(pid: &str, read: impl Fn(&str) -> Option<u64>) -> HashMap<String, u64> {
    threads(pid).into_iter().filter_map(|t| Some((t.clone(), read(&format!("/proc/{pid}/task/{t}"))?))).collect()
}

/// How much per-thread counters grew between two readings. A thread that exited in between takes
/// its counts with it (sled lets an idle I/O thread go after a few seconds), so only the threads
/// alive at the end are summed: what an exiting thread did in its last moments is not counted.
fn growth(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> u64 {
    after.iter().map(|(t, v)| v.saturating_sub(before.get(t).copied().unwrap_or(0))).sum()
}

/// Each thread's name and context switches, by thread id.
fn thread_switches(pid: &str) -> HashMap<String, (String, u64)> {
    threads(pid)
        .into_iter()
        .map(|t| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/status")).unwrap_or_default();
            let n = status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
                .sum();
            (t, (name.trim().to_owned(), n))
        })
        .collect()
}

fn threads(pid: &str) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Bytes in the files under `dir`: their lengths, and the blocks the filesystem gave them.
fn dir_size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (len, blocks) = dir_size(&entry.path());
            total = (total.0 + len, total.1 + blocks);
        } else {
            total = (total.0 + meta.len(), total.1 + meta.blocks() * 512);
        }
    }
    total
}
