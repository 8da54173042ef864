//! `payguard export --account A --since T --out DIR`: an evidence bundle about one account (see
//! `crate::export`). The directory is checked before the store is opened, so a refusal changes
//! nothing; a broken audit chain is still exported (the manifest says so) and warned about here.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;

use super::{exit, load_config, open_store};
use crate::config::Secrets;
use crate::control::answer::account_named;
use crate::control::time::parse_time;
use crate::export::{self, Bundle};

pub fn run(
    path: &Path,
    id: &str,
    source: Option<&str>,
    since: &str,
    until: Option<&str>,
    out: &Path,
) -> anyhow::Result<u8> {
    let config = load_config(path, Secrets::Skip)?;
    let account = account_named(&config, id, source)?;
    let now = Utc::now();
    let since = parse_time(since, now).context("--since")?;
    let until = until.map(|t| parse_time(t, now)).transpose().context("--until")?;
    if until.is_some_and(|u| u <= since) {
        anyhow::bail!("--until must be after --since");
    }
    export::check_target(out)?;
    let store = open_store(&config)?;
    let bundle = Bundle::gather(&store, &account, since, until, now, config.daemon.timezone)?;
    drop(store);
    let names = export::write(&bundle, out).with_context(|| format!("cannot write the export to {}", out.display()))?;
    let evidence_dir = format!("{}/", export::EVIDENCE_DIR);
    let (records, names): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| n.starts_with(&evidence_dir));
    let records = match records.len() {
        0 => String::new(),
        n => format!(", {n} record(s) the transactions came from in {evidence_dir}"),
    };
    println!(
        "wrote {} to {}: {} transaction(s), {} balance(s), {} alert(s){records}; audit chain {}",
        names.join(", "),
        out.display(),
        bundle.transactions.len(),
        bundle.snapshots.len(),
        bundle.alerts.len(),
        bundle.audit_status()
    );
    if !bundle.audit.is_intact() {
        eprintln!("payguard: warning: the audit chain is broken; MANIFEST.txt records where");
    }
    Ok(exit::OK)
}
