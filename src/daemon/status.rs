//! The one line `systemctl status` shows: how much is watched, what is firing, when the next poll
//! is, and whether the running config is not the one on disk.

use super::Engine;
use crate::alert::AlertState;

/// "2 accounts, 0 firing, next poll 12:15", with "; reload failed: …" after a bad reload.
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
    let line = format!("{} accounts, {firing} firing, next poll {next}", config.accounts.len());
    match engine.reload_failure() {
        // The status line is one line: the error's own line breaks would cut it.
        Some(error) => format!("{line}; reload failed, running the previous config: {}", error.replace('\n', " ")),
        None => line,
    }
}
