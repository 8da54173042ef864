//! `payguard verify`: walks the store's hash-chained audit log and says whether it is intact.
//!
//! A broken chain exits 1 (`exit::FAILURE`), not 74 or 75: the store was read fine, and what it
//! holds was altered or damaged, which trying again will not change.

use std::path::Path;

use super::{exit, load_config, open_store};

pub fn run(path: &Path) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    let report = store.verify_audit()?;
    match &report.broken {
        None => {
            println!("audit chain intact: {} entries, head {}", report.entries, report.head);
            Ok(exit::OK)
        }
        Some(link) => {
            println!("audit chain broken: {link}");
            println!("the {} entries before it verify; the last of them hashes to {}", report.entries, report.head);
            Ok(exit::FAILURE)
        }
    }
}
