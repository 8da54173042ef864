//! `payguard verify`: walks the store's hash-chained audit log and says whether it is intact.
//!
//! A broken chain exits 1 (`exit::FAILURE`), not 74 or 75: the store was read fine, and what it
//! holds was altered or damaged, which trying again will not change.

use super::Out;
use crate::cli::exit;
use crate::store::Store;

pub fn verify(store: &Store, out: &mut Out) -> anyhow::Result<u8> {
    let report = store.verify_audit()?;
    match &report.broken {
        None => {
            say!(out, "audit chain intact: {} entries, head {}", report.entries, report.head);
            Ok(exit::OK)
        }
        Some(link) => {
            say!(out, "audit chain broken: {link}");
            say!(out, "the {} entries before it verify; the last of them hashes to {}", report.entries, report.head);
            Ok(exit::FAILURE)
        }
    }
}
