//! `payguard alerts [--all]`: what is firing (or everything payguard has said).

use std::path::Path;

use super::{exit, load_config, open_store};
use crate::alert::AlertState;

pub fn run(path: &Path, all: bool) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    let mut alerts = store.all_alerts()?;
    alerts.retain(|a| all || a.state == AlertState::Firing);
    alerts.sort_by_key(|a| std::cmp::Reverse(a.last_seen));
    if alerts.is_empty() {
        println!("{}", if all { "no alerts yet" } else { "nothing is firing" });
        return Ok(exit::OK);
    }
    println!(
        "{:<12}  {:<8}  {:<8}  {:<18}  {:<14}  {:<16}  title",
        "id", "state", "severity", "kind", "subject", "first fired"
    );
    for a in alerts {
        let f = &a.finding;
        let state = match (a.state, a.acknowledged_at) {
            (AlertState::Resolved, _) => "resolved",
            (AlertState::Firing, Some(_)) => "acked",
            (AlertState::Firing, None) => "firing",
        };
        println!(
            "{:<12}  {:<8}  {:<8}  {:<18}  {:<14}  {:<16}  {}",
            a.id,
            state,
            f.severity,
            f.kind,
            f.subject(),
            a.first_fired.format("%Y-%m-%d %H:%M"),
            f.title
        );
    }
    Ok(exit::OK)
}
