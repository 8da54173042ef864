//! `payguard ack ALERT_ID`: a person has seen the alert; it is not repeated.

use chrono::Utc;

use super::Out;
use crate::control::exit;
use crate::store::Store;
use crate::text;

pub fn ack(store: &Store, out: &mut Out, alert_id: &str) -> anyhow::Result<u8> {
    match store.acknowledge(alert_id.trim(), Utc::now())? {
        Some(alert) => {
            store.flush_blocking()?;
            let account = text::clipped(&alert.account().to_string(), text::LINE).into_owned();
            say!(out, "acknowledged {} ({} on {account}): it will not be repeated", alert.id, alert.kind());
            Ok(exit::OK)
        }
        None => {
            warn!(
                out,
                "payguard: no alert has the id {alert_id:?}; the id is printed at the end of every alert message"
            );
            Ok(exit::FAILURE)
        }
    }
}
