//! `payguard ack ALERT_ID`: a person has seen the alert; it is not repeated.

use std::path::Path;

use chrono::Utc;

use super::{exit, load_config, open_store};

pub fn run(path: &Path, alert_id: &str) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    match store.acknowledge(alert_id.trim(), Utc::now())? {
        Some(alert) => {
            store.flush_blocking()?;
            println!("acknowledged {} ({} on {}): it will not be repeated", alert.id, alert.kind(), alert.account());
            Ok(exit::OK)
        }
        None => {
            eprintln!(
                "payguard: no alert has the id {alert_id:?}; the id is printed at the end of every alert message"
            );
            Ok(exit::FAILURE)
        }
    }
}
