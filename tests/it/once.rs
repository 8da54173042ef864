//! `payguard once` end to end: the real binary polls the simulated bank over HTTP, stores in sled,
//! detects, and prints JSON lines that scripts can rely on.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use payguard::sim::{Advance, Simulator, demo_script};
use serde_json::Value;

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn setup(access_url: &str, extra_accounts: &str) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let rest = format!("{extra_accounts}\n[[channel]]\nname = \"terminal\"\nkind = \"console\"\n");
    let config = support::sim_config(dir.path(), access_url, "*/5 * * * *", &rest);
    Setup { dir, config }
}

async fn once(config: &Path, json: bool) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.arg("--config").arg(config).arg("once");
    if json {
        command.arg("--json");
    }
    tokio::task::spawn_blocking(move || command.output().expect("run payguard")).await.expect("join")
}

/// Every stdout line is a JSON object with the promised fields.
fn findings(output: &Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            for field in ["kind", "severity", "account", "title"] {
                assert!(value.get(field).is_some_and(|v| v.is_string()), "{field} missing in {line}");
            }
            value
        })
        .collect()
}

fn kinds(findings: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = findings.iter().filter_map(|f| f["kind"].as_str().map(str::to_owned)).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[tokio::test(flavor = "multi_thread")]
async fn a_baseline_is_quiet_and_a_theft_is_caught_once() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let setup = setup(&sim.access_url(), "");

    assert!(sim.advance(), "baseline step");
    let baseline = once(&setup.config, true).await;
    assert_eq!(baseline.status.code(), Some(0), "{}", String::from_utf8_lossy(&baseline.stderr));
    assert_eq!(findings(&baseline), Vec::<Value>::new());

    assert!(sim.advance(), "normal spending step");
    let normal = once(&setup.config, true).await;
    assert_eq!(findings(&normal), Vec::<Value>::new(), "normal spending at known places");

    assert!(sim.advance() && sim.advance(), "quiet step, then the theft");
    let theft = once(&setup.config, true).await;
    assert_eq!(theft.status.code(), Some(0));
    let found = findings(&theft);
    assert_eq!(kinds(&found), ["balance_drop", "new_payee", "velocity"]);
    assert!(found.iter().all(|f| f["account"] == "ACT-1" && f["source"] == "sim-bank"));
    let drop = found.iter().find(|f| f["kind"] == "balance_drop").expect("a balance drop");
    assert_eq!(drop["severity"], "critical");
    assert_eq!(drop["amount"], "2188.10", "{drop}");
    assert_eq!(drop["threshold"]["key"], "drop_abs");
    let mut new_payees: Vec<&str> =
        found.iter().filter(|f| f["kind"] == "new_payee").filter_map(|f| f["payees"][0].as_str()).collect();
    new_payees.sort();
    assert_eq!(new_payees, ["Crypto Swap Ltd", "GiftCard Hub", "QuickCash Transfer"]);
    // The console channel spoke on stderr, leaving stdout to JSON.
    let stderr = String::from_utf8_lossy(&theft.stderr);
    assert!(stderr.contains("What to do"), "{stderr}");

    // The same state polled again: ongoing problems are not said twice.
    let again = once(&setup.config, true).await;
    assert_eq!(findings(&again), Vec::<Value>::new());
    drop_dir(setup);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_json_the_console_speaks_on_stdout() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let setup = setup(&sim.access_url(), "");
    for _ in 0..4 {
        sim.advance();
        let output = once(&setup.config, false).await;
        assert_eq!(output.status.code(), Some(0));
    }
    // Four polls in: the theft was the last, and its alerts went to the terminal.
    let last = once(&setup.config, false).await;
    assert!(String::from_utf8_lossy(&last.stdout).is_empty(), "nothing new on the fifth poll");
    drop_dir(setup);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_the_source_lacks_fails_the_run_but_not_the_others() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let setup = setup(&sim.access_url(), "[[account]]\nsource = \"sim-bank\"\nid = \"ACT-404\"\n");
    sim.advance();
    let output = once(&setup.config, true).await;
    assert_eq!(output.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ACT-404") && stderr.contains("did not report account"), "{stderr}");
    assert!(stderr.contains("checked 1 account"), "ACT-1 was still checked: {stderr}");
    drop_dir(setup);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_platform_exits_75_and_says_why() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let url = sim.access_url();
    drop(sim);
    let setup = setup(&url, "");
    let output = once(&setup.config, true).await;
    assert_eq!(output.status.code(), Some(75));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach 127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("demo:demo"), "credentials leaked: {stderr}");
    drop_dir(setup);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_in_use_is_reported_not_corrupted() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let setup = setup(&sim.access_url(), "");
    let state = setup.dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let held = payguard::store::Store::open(&state).expect("open the store first");
    let output = once(&setup.config, true).await;
    assert_eq!(output.status.code(), Some(75));
    assert!(String::from_utf8_lossy(&output.stderr).contains("in use by another payguard process"));
    drop(held);
    sim.advance();
    assert_eq!(once(&setup.config, true).await.status.code(), Some(0), "usable once released");
    drop_dir(setup);
}

fn drop_dir(setup: Setup) {
    setup.dir.close().expect("remove the temp dir");
}

/// Messages tell their times on the configured clock: a `zh-CN` config on `Asia/Shanghai` says
/// 北京时间 and never UTC; an English one on `Europe/Berlin` writes the offset in the finding's
/// words, while the JSON's own times stay RFC 3339 in UTC.
#[tokio::test(flavor = "multi_thread")]
async fn messages_tell_times_on_the_configured_clock() {
    for (daemon, says, json) in [
        ("language = \"zh-CN\"\ntimezone = \"Asia/Shanghai\"\n", "北京时间", false),
        ("timezone = \"Europe/Berlin\"\n", "+01:00", true),
    ] {
        let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
        let setup = setup(&sim.access_url(), "");
        let text = std::fs::read_to_string(&setup.config).expect("config");
        std::fs::write(&setup.config, text.replacen("[daemon]\n", &format!("[daemon]\n{daemon}"), 1)).expect("write");
        let mut said = String::new();
        for _ in 0..4 {
            sim.advance();
            let output = once(&setup.config, json).await;
            assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
            said.push_str(&String::from_utf8_lossy(&output.stdout));
            said.push_str(&String::from_utf8_lossy(&output.stderr));
        }
        assert!(said.contains(says), "{says} in: {said}");
        assert!(!said.contains(" UTC"), "no UTC in: {said}");
        if json {
            let theft: Vec<Value> = said.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            assert!(!theft.is_empty(), "the theft is found: {said}");
            assert!(theft.iter().all(|f| f["observed_at"].as_str().is_some_and(|t| t.ends_with('Z'))), "{theft:?}");
        }
        drop_dir(setup);
    }
}
