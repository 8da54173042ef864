//! `payguard export`: the evidence bundle, built by the real binary from a store filled by real
//! polls of the simulated bank through the theft.

use crate::support;

use support::{run, stdout_of as ok};

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use payguard::sim::{Advance, Simulator, demo_script};
use sha2::{Digest as _, Sha256};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

const FILES: [&str; 5] = ["transactions.csv", "balances.csv", "alerts.json", "report.html", "MANIFEST.txt"];

/// Polls the simulated bank through the theft (four `once` runs) and returns the config.
async fn through_the_theft(sim: &Simulator, dir: &Path) -> PathBuf {
    let config = support::sim_config(dir, &sim.access_url(), "0 * * * *", "");
    for _ in 0..4 {
        sim.advance();
        assert_eq!(run(&config, &["once"]).await.status.code(), Some(0));
    }
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bundle_holds_exactly_the_stored_record() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = through_the_theft(&sim, dir.path()).await;
    let out = dir.path().join("evidence");
    let said =
        ok(&run(&config, &["export", "--account", "ACT-1", "--since", "2d", "--out", out.to_str().expect("utf-8")])
            .await);
    assert!(said.contains("audit chain intact"), "{said}");

    // The same transactions as `history` reads from the store: count, ids, amounts byte for byte.
    let history = ok(&run(&config, &["history", "ACT-1", "--format", "json", "--since", "2d"]).await);
    let stored: Vec<serde_json::Value> = history
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["type"] == "transaction")
        .map(|l| l["transaction"].clone())
        .collect();
    assert_eq!(stored.len(), 10);
    let csv = read(&out, "transactions.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("posted,amount,currency,payee,description,id,pending"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 10, "{csv}");
    for t in &stored {
        let (id, amount) = (t["id"].as_str().expect("id"), t["amount"].as_str().expect("amount"));
        assert!(rows.iter().any(|r| r.contains(&format!(",{amount},USD,")) && r.contains(id)), "{id} {amount}: {csv}");
    }
    assert!(rows.iter().any(|r| r.contains(",-720.00,USD,Crypto Swap Ltd,")), "{csv}");
    assert!(rows.iter().any(|r| r.contains(",-45.20,USD,Grocer's Market,")), "{csv}");

    let balances = read(&out, "balances.csv");
    assert_eq!(balances.lines().next(), Some("observed_at,balance,available,currency,status"));
    assert_eq!(balances.lines().count(), 1 + 4, "one row per poll: {balances}");
    assert!(balances.contains(",474.70,"), "{balances}");

    let alerts: Vec<serde_json::Value> = serde_json::from_str(&read(&out, "alerts.json")).expect("alerts.json");
    let kinds: Vec<&str> = alerts.iter().filter_map(|a| a["kind"].as_str()).collect();
    for kind in ["balance_drop", "velocity", "new_payee"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let ids: Vec<&str> = stored.iter().filter_map(|t| t["id"].as_str()).collect();
    for alert in &alerts {
        assert!(alert["state"].is_string() && alert["acknowledged"] == false, "{alert}");
        for cited in alert["transaction_ids"].as_array().expect("transaction_ids") {
            assert!(ids.contains(&cited.as_str().expect("id")), "{alert}");
        }
    }
    let velocity = alerts.iter().find(|a| a["kind"] == "velocity").expect("velocity");
    assert!(velocity["transaction_ids"].as_array().is_some_and(|ids| ids.len() >= 3), "{velocity}");

    let html = read(&out, "report.html");
    assert!(html.contains("<svg") && html.contains("</svg>"));
    assert_eq!(html.matches("class=\"alert-marker\"").count(), alerts.len(), "one marker per alert");
    for id in &ids {
        assert!(html.contains(id), "{id} in the report");
    }
    // The report names every alert, by the id its messages carried.
    for alert in &alerts {
        let id = alert["alert_id"].as_str().expect("alert_id");
        assert!(html.contains(id), "alert {id} in the report");
    }
    assert!(html.contains("ACT-1") && html.contains("Timeline") && !html.contains("<script"));

    // The manifest: each file's hash and size as the files are, the audit head, "intact".
    let manifest = read(&out, "MANIFEST.txt");
    for name in &FILES[..4] {
        let bytes = std::fs::read(out.join(name)).expect("read");
        let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert!(manifest.contains(&format!("{} {hash}  {name}\n", bytes.len())), "{name}: {manifest}");
    }
    let verify = ok(&run(&config, &["verify"]).await);
    let head = verify.split("head ").nth(1).map(str::trim).expect("head in verify's output");
    assert!(manifest.contains(&format!("hash {head}")), "{manifest}\n{verify}");
    assert!(manifest.contains("audit_chain: intact: "), "{manifest}");
    assert!(manifest.contains("account: ACT-1") && manifest.contains("payguard_version: "), "{manifest}");

    // Financial data: only the owner reads it.
    assert_eq!(std::fs::metadata(&out).expect("dir").permissions().mode() & 0o777, 0o700);
    for name in FILES {
        assert_eq!(std::fs::metadata(out.join(name)).expect("file").permissions().mode() & 0o777, 0o600, "{name}");
    }

    // No secret: the access URL (with its demo:demo credentials) is nowhere in the bundle.
    for name in FILES {
        let text = read(&out, name);
        assert!(!text.contains(&sim.access_url()) && !text.contains("demo:demo"), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_empty_directory_is_refused_and_left_alone() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = through_the_theft(&sim, dir.path()).await;
    let out = dir.path().join("taken");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("report.html"), "mine").expect("write");
    let refused =
        run(&config, &["export", "--account", "ACT-1", "--since", "2d", "--out", out.to_str().expect("utf-8")]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not empty"), "{refused:?}");
    let left: Vec<_> =
        std::fs::read_dir(&out).expect("read dir").filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("report.html")]);
    assert_eq!(read(&out, "report.html"), "mine");

    // An empty one is fine, and a range with nothing in it still makes a valid bundle.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let args = ["export", "--account", "ACT-1", "--since", "2001-01-01", "--until", "2001-02-01", "--out"];
    ok(&run(&config, &[&args[..], &[empty.to_str().expect("utf-8")]].concat()).await);
    assert_eq!(read(&empty, "transactions.csv").lines().count(), 1);
    assert_eq!(read(&empty, "alerts.json").trim(), "[]");
    assert!(read(&empty, "report.html").contains("No balances or alerts in this range"));
    assert_eq!(std::fs::metadata(&empty).expect("dir").permissions().mode() & 0o777, 0o700);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_record_a_transaction_came_from_is_handed_over_byte_for_byte() {
    let sim = Simulator::start(demo_script(), Advance::Manual).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = through_the_theft(&sim, dir.path()).await;
    let history = ok(&run(&config, &["history", "ACT-1", "--format", "json", "--since", "2d"]).await);
    let theft = history
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["type"] == "transaction" && l["transaction"]["payee"] == "Crypto Swap Ltd")
        .expect("the theft is stored");
    let id = theft["transaction"]["id"].as_str().expect("id").to_owned();

    // What a mail or statement source keeps with a poll: the record, as the platform wrote it.
    let mail = "From: alerts@bank.example\r\nSubject: =?UTF-8?B?5pSv5Ye6?=\r\n\r\nCard payment 720.00 USD to Crypto Swap Ltd\r\n";
    let record = payguard::model::Evidence::new(
        "2026-12-06 ../notice: payment 720.00".into(),
        mail.as_bytes().into(),
        vec![("ACT-1".into(), id)],
    );
    {
        let store = payguard::store::Store::open(&dir.path().join("state")).expect("store");
        store.keep_evidence("sim-bank", &[record]).expect("kept");
        store.flush_blocking().expect("flushed");
    }
    let out = dir.path().join("bundle");
    let said =
        ok(&run(&config, &["export", "--account", "ACT-1", "--since", "2d", "--out", out.to_str().expect("utf-8")])
            .await);
    assert!(said.contains("1 record(s) the transactions came from in evidence/"), "{said}");
    let sha: String = Sha256::digest(mail.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    // The bank's name for it is made safe for a file system: no path of its own.
    let name = format!("evidence/{}-2026-12-06_.._notice__payment_720.00", &sha[..12]);
    assert_eq!(std::fs::read(out.join(&name)).expect("the record is in the bundle"), mail.as_bytes());
    let manifest = read(&out, "MANIFEST.txt");
    assert!(manifest.contains(&format!("{} {sha}  {name}", mail.len())), "{manifest}");
    let mode = std::fs::metadata(out.join("evidence")).expect("evidence/").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // Its hash is in the audit chain, which still verifies.
    let verified = run(&config, &["verify"]).await;
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stderr));
}
