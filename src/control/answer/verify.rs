//! `payguard verify`: walks the store's hash-chained audit log and says whether it is intact.
//!
//! A broken chain exits 1 (`exit::FAILURE`), not 74 or 75: the store was read fine, and what it
//! holds was altered or damaged, which trying again will not change. A chain that is intact but
//! shorter than its anchor recorded (the store lost its newest writes, or an old copy was put
//! back) exits 65 (`exit::ROLLED_BACK`) and says how many entries are missing.

use super::Out;
use crate::control::exit;
use crate::store::Store;

pub fn verify(store: &Store, out: &mut Out) -> anyhow::Result<u8> {
    let report = store.verify_audit()?;
    let rollbacks = store.rollbacks()?;
    let code = match &report.broken {
        None => {
            let words = if rollbacks.is_empty() { "intact" } else { "intact as far as it goes" };
            say!(out, "audit chain {words}: {} entries, head {}", report.entries, report.head);
            exit::OK
        }
        Some(link) => {
            say!(out, "audit chain broken: {link}");
            say!(out, "the {} entries before it verify; the last of them hashes to {}", report.entries, report.head);
            exit::FAILURE
        }
    };
    for found in &rollbacks {
        say!(out, "audit chain rolled back: {}", found.rollback);
        say!(out, "  recorded in {}; remove that file once this is looked into", found.path.display());
    }
    Ok(if code == exit::OK && !rollbacks.is_empty() { exit::ROLLED_BACK } else { code })
}
