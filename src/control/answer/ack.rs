//! `payguard ack ID`: a person has seen the alert, or every alert of the incident; they are not
//! repeated, and an incident acknowledged gathers no new findings.

use chrono::Utc;

use super::Out;
use crate::control::exit;
use crate::store::Store;
use crate::text;

pub fn ack(store: &Store, out: &mut Out, alert_id: &str) -> anyhow::Result<u8> {
    let id = alert_id.trim();
    if id.starts_with("i-") {
        return ack_incident(store, out, id);
    }
    match store.acknowledge(id, Utc::now())? {
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

fn ack_incident(store: &Store, out: &mut Out, incident: &str) -> anyhow::Result<u8> {
    let alerts = store.acknowledge_incident(incident, Utc::now())?;
    let Some(first) = alerts.first() else {
        warn!(
            out,
            "payguard: no incident has the id {incident:?}; it is printed in every message about one (`payguard alerts` lists them)"
        );
        return Ok(exit::FAILURE);
    };
    store.flush_blocking()?;
    let account = text::clipped(&first.account().to_string(), text::LINE).into_owned();
    let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    say!(
        out,
        "acknowledged incident {incident} on {account}, {} alert(s): {}; they will not be repeated",
        alerts.len(),
        ids.join(", ")
    );
    Ok(exit::OK)
}
