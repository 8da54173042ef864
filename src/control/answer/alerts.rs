//! `payguard alerts [--all]`: what is firing (or everything payguard has said).

use super::Out;
use crate::alert::AlertState;
use crate::config::Config;
use crate::control::exit;
use crate::store::Store;
use crate::text;

pub fn alerts(config: &Config, store: &Store, out: &mut Out, all: bool) -> anyhow::Result<u8> {
    let mut alerts = store.all_alerts()?;
    alerts.retain(|a| all || a.state == AlertState::Firing);
    alerts.sort_by_key(|a| std::cmp::Reverse(a.last_seen));
    if alerts.is_empty() {
        say!(out, "{}", if all { "no alerts yet" } else { "nothing is firing" });
        return Ok(exit::OK);
    }
    say!(
        out,
        "{:<12}  {:<12}  {:<8}  {:<8}  {:<18}  {:<14}  {:<16}  title",
        "id",
        "incident",
        "state",
        "severity",
        "kind",
        "subject",
        "first fired"
    );
    for a in alerts {
        let f = &a.finding;
        let state = match (a.state, a.acknowledged_at) {
            (AlertState::Resolved, _) => "resolved",
            (AlertState::Firing, Some(_)) => "acked",
            (AlertState::Firing, None) => "firing",
        };
        say!(
            out,
            "{:<12}  {:<12}  {:<8}  {:<8}  {:<18}  {:<14}  {:<16}  {}",
            a.id,
            a.incident.as_deref().unwrap_or("-"),
            state,
            f.severity,
            f.kind,
            text::clipped(f.subject(), text::LINE),
            text::time(a.first_fired, config.daemon.timezone),
            text::clipped(&f.title, text::LINE)
        );
    }
    Ok(exit::OK)
}
