//! The one line `systemctl status` shows: whether the store takes writes, how much is watched,
//! what is firing, when the next poll is, which sources have spent their request budget, and
//! whether the running config is not the one on disk.

use super::Engine;
use crate::alert::AlertState;

/// "2 accounts, 0 firing, next poll 12:15", led by "STORE FAILING …" while the store cannot be
/// written, with "; bank: request budget spent until …" and "; reload failed: …" after.
pub fn status_line(engine: &Engine) -> String {
    let config = engine.config();
    let now = engine.clock().now();
    let firing = match engine.store().all_alerts() {
        Ok(alerts) => alerts.iter().filter(|a| a.state == AlertState::Firing).count().to_string(),
        Err(_) => "?".to_owned(),
    };
    let next = config
        .sources
        .iter()
        .map(|s| &s.schedule)
        .chain(config.notices.iter().map(|n| &n.schedule))
        .filter_map(|schedule| schedule.next_after(now, config.daemon.timezone))
        .min()
        .map(|t| t.with_timezone(&config.daemon.timezone).format("%H:%M").to_string())
        .unwrap_or_else(|| "never".to_owned());
    let mut line = format!("{} accounts, {firing} firing, next poll {next}", config.accounts.len());
    if let Some(failure) = engine.store().failure() {
        let since = failure.since.with_timezone(&config.daemon.timezone).format("%H:%M");
        // The status line is one line: an error's own line breaks would cut it.
        let error = failure.error.replace('\n', " ");
        line = format!("STORE FAILING since {since}, nothing is watched: {error}; {line}");
    }
    for source in &config.sources {
        if let Some(spent) = engine.store().source_health(&source.name).ok().and_then(|h| h.budget_spent) {
            let until = spent.until.with_timezone(&config.daemon.timezone).format("%H:%M");
            line.push_str(&format!("; {}: request budget spent, no polls until {until}", source.name));
        }
    }
    match engine.reload_failure() {
        // The status line is one line: the error's own line breaks would cut it.
        Some(error) => format!("{line}; reload failed, running the previous config: {}", error.replace('\n', " ")),
        None => line,
    }
}
