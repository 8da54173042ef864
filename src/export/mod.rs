//! `payguard export`: an evidence bundle about one account over a range of time, for a person to
//! hand to the platform, the bank or the police.
//!
//! The bundle is a directory of plain files: `transactions.csv`, `balances.csv`, `alerts.json`,
//! `report.html` (a self-contained page with a hand-written SVG chart), `evidence/` (the mails and
//! statement files the transactions came from, byte for byte, when a source kept them) and
//! `MANIFEST.txt` (each file's SHA-256 and size, and the audit chain's head and verification at
//! export time, so a recipient can tell the files were not edited after export and tie them to the
//! store's chain, where each kept record's hash is logged).
//!
//! It is built from store data and the account's and source's names only: nothing from the config's
//! sources or channels (access URLs, tokens) can reach it. Files are 0600 and the directory 0700,
//! because they hold financial data; an existing non-empty directory is never written into.

pub mod chart;
pub mod csv;
pub mod report;

use std::fmt::Write as _;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::alert::Alert;
use crate::model::{AccountRef, Snapshot, Transaction};
use crate::notify::render::alert_json;
use crate::store::{AuditHead, AuditReport, Kept, Store, StoreError};

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Everything the bundle says, gathered from the store in one go.
pub struct Bundle {
    pub account: AccountRef,
    pub since: DateTime<Utc>,
    /// The end of the range, exclusive; the export time when none was asked for.
    pub until: DateTime<Utc>,
    pub exported_at: DateTime<Utc>,
    pub version: String,
    /// The account's currency (transactions carry none of their own).
    pub currency: String,
    pub snapshots: Vec<Snapshot>,
    pub transactions: Vec<Transaction>,
    /// The account's alerts that first fired or were last seen in the range, by first firing.
    pub alerts: Vec<Alert>,
    /// The records the transactions came from (mails, statement files), each once.
    pub evidence: Vec<Kept>,
    pub audit_head: AuditHead,
    pub audit: AuditReport,
    /// The clock the report shows times on (`[daemon] timezone`).
    pub zone: chrono_tz::Tz,
}

impl Bundle {
    /// Reads what the bundle holds. The chain is verified here, at export time, so the manifest
    /// states what was true when these files were made.
    pub fn gather(
        store: &Store,
        account: &AccountRef,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        zone: chrono_tz::Tz,
    ) -> Result<Bundle, StoreError> {
        let until = until.unwrap_or(now);
        let snapshots = store.snapshots_between(account, since, Some(until))?;
        let transactions = store.transactions_between(account, since, Some(until))?;
        let in_range = |t: DateTime<Utc>| since <= t && t < until;
        let mut alerts: Vec<Alert> = store
            .alerts_of(account)?
            .into_iter()
            .filter(|a| in_range(a.first_fired) || in_range(a.last_seen))
            .collect();
        alerts.sort_by(|a, b| (a.first_fired, &a.id).cmp(&(b.first_fired, &b.id)));
        let currency = match snapshots.last() {
            Some(s) => s.currency.clone(),
            None => store.account(account)?.map(|r| r.currency).unwrap_or_default(),
        };
        let evidence = store.evidence_of(account, transactions.iter().map(|t| t.id.as_str()))?;
        let audit_head = store.audit_head()?;
        let audit = store.verify_audit()?;
        Ok(Bundle {
            account: account.clone(),
            since,
            until,
            exported_at: now,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            currency,
            snapshots,
            transactions,
            alerts,
            evidence,
            audit_head,
            audit,
            zone,
        })
    }

    /// What verifying the chain found, in the manifest's words.
    pub fn audit_status(&self) -> String {
        match &self.audit.broken {
            None => format!("intact: {} entries", self.audit.entries),
            Some(link) => format!("broken: {link} (the {} entries before it verify)", self.audit.entries),
        }
    }

    /// `alerts.json`: `alert_json` for each, with its lifecycle beside it.
    pub fn alerts_json(&self) -> String {
        let alerts: Vec<Value> = self
            .alerts
            .iter()
            .map(|a| {
                let mut value = alert_json(a);
                if let Value::Object(map) = &mut value {
                    let at = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()));
                    map.insert("last_seen".into(), Value::String(a.last_seen.to_rfc3339()));
                    map.insert("resolved_at".into(), at(a.resolved_at));
                    map.insert("acknowledged".into(), Value::Bool(a.acknowledged_at.is_some()));
                    map.insert("acknowledged_at".into(), at(a.acknowledged_at));
                }
                value
            })
            .collect();
        let text = serde_json::to_string_pretty(&alerts).unwrap_or_else(|_| "[]".to_owned());
        let mut text = crate::text::json_text(text);
        text.push('\n');
        text
    }

    /// The bundle's data files, by name, in the order the manifest lists them: the tables and the
    /// report, then each kept record under `evidence/`, named by the start of its hash and its own
    /// name made safe for a file system.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = [
            ("transactions.csv", csv::transactions(&self.transactions, &self.currency)),
            ("balances.csv", csv::balances(&self.snapshots)),
            ("alerts.json", self.alerts_json()),
            ("report.html", report::render(self)),
        ]
        .into_iter()
        .map(|(name, text)| (name.to_owned(), text.into_bytes()))
        .collect();
        for record in &self.evidence {
            let prefix = record.sha256.get(..12).unwrap_or(&record.sha256);
            files.push((format!("{EVIDENCE_DIR}/{prefix}-{}", file_name(&record.name)), record.bytes.clone()));
        }
        files
    }

    /// `MANIFEST.txt` for `files`.
    pub fn manifest(&self, files: &[(String, Vec<u8>)]) -> String {
        let mut out = String::from("payguard evidence bundle\n\n");
        let _ = writeln!(out, "account: {}", self.account.account);
        let _ = writeln!(out, "source: {}", self.account.source);
        let _ = writeln!(out, "range: {} to {} (end exclusive)", self.since.to_rfc3339(), self.until.to_rfc3339());
        let _ = writeln!(out, "exported_at: {}", self.exported_at.to_rfc3339());
        let _ = writeln!(out, "payguard_version: {}", self.version);
        let _ = writeln!(out, "audit_head: seq {} hash {}", self.audit_head.seq, self.audit_head.hash);
        let _ = writeln!(out, "audit_chain: {}", self.audit_status());
        // sha256sum's own line shape after the size, so `sha256sum -c` can check them once trimmed.
        let _ = writeln!(out, "\nfiles (bytes, SHA-256, name):");
        for (name, contents) in files {
            let _ = writeln!(out, "{} {}  {name}", contents.len(), crate::model::sha256_hex(contents));
        }
        out
    }
}

/// Fails unless `dir` is absent or an empty directory: an export never mixes with or replaces
/// other files. Called before the store is even opened, so a refusal touches nothing.
pub fn check_target(dir: &Path) -> io::Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is not empty: an export goes into a new or empty directory", dir.display()),
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io::Error::new(e.kind(), format!("cannot use {} for the export: {e}", dir.display()))),
    }
}

/// Writes the bundle into `dir` (created 0700, or an existing empty directory narrowed to 0700);
/// returns the names written.
pub fn write(bundle: &Bundle, dir: &Path) -> io::Result<Vec<String>> {
    check_target(dir)?;
    match DirBuilder::new().recursive(false).mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))),
    }
    // The umask may have narrowed the mode, and an existing directory has its own: say 0700.
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))?;
    let files = bundle.files();
    let manifest = bundle.manifest(&files);
    if !bundle.evidence.is_empty() {
        DirBuilder::new().mode(DIR_MODE).create(dir.join(EVIDENCE_DIR))?;
    }
    let mut names = Vec::new();
    let all = files.iter().map(|(n, c)| (n.as_str(), c.as_slice())).chain([("MANIFEST.txt", manifest.as_bytes())]);
    for (name, contents) in all {
        let path = dir.join(name);
        // create_new: should anything appear in the directory meanwhile, it is not overwritten.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display())))?;
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
        file.write_all(contents)?;
        file.sync_all()?;
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Where the kept records go in the bundle.
pub const EVIDENCE_DIR: &str = "evidence";

/// A record's name as a file name: letters, digits, `.`, `-` and `_` kept, anything else `_`, at
/// most 80 characters, never `.` or `..`: the name came from a bank.
fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(80)
        .collect();
    if safe.trim_matches('.').is_empty() { "record".to_owned() } else { safe }
}
