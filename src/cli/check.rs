//! `payguard check`: validate the config and show what it means.

use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;

use super::exit;
use crate::config::{Config, Duration, Secrets};
use crate::daemon::polling;
use crate::detect;

pub fn run(path: &Path, offline: bool) -> anyhow::Result<u8> {
    let secrets = if offline { Secrets::Skip } else { Secrets::Check };
    let config = match Config::load_with(path, secrets) {
        Ok(config) => config,
        // Several mistakes: every one, in file order, so one run of `check` finds them all.
        Err(error) if !error.more.is_empty() => {
            for mistake in error.all() {
                eprintln!("payguard: {mistake}");
            }
            eprintln!("payguard: {} mistakes in the config", error.all().count());
            return Ok(exit::CONFIG);
        }
        Err(error) => return Err(error.into()),
    };
    print!("{}", summary(&config));
    if offline {
        println!("\nsecrets were not read (--offline): check again where payguard runs to test them");
    }
    Ok(exit::OK)
}

/// A readable account of the config: never a secret, only hosts.
pub fn summary(config: &Config) -> String {
    let tz = config.daemon.timezone;
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", config.path.display());
    // Also logged by `Config::load`; here they stay next to what they are about.
    for warning in &config.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let _ = writeln!(out, "state in {}, schedules on {} time", config.daemon.state_dir.display(), tz);
    let _ = writeln!(out, "\nsources:");
    for source in &config.sources {
        let mut at = Utc::now();
        let mut next = Vec::new();
        for _ in 0..3 {
            match source.schedule.next_after(at, tz) {
                Some(t) => {
                    next.push(t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M:%S").to_string());
                    at = t;
                }
                None => break,
            }
        }
        let _ = writeln!(
            out,
            "  {} ({}, {}) schedule {:?}",
            source.name,
            source.kind.name(),
            source.kind.describe(),
            source.schedule.as_str()
        );
        let _ = writeln!(out, "    next polls: {}", if next.is_empty() { "never".to_owned() } else { next.join(", ") });
        if let Some(max) = source.polling.max_requests_per_day {
            let cost = source.kind.requests_per_poll(config.accounts_of(&source.name).count()) as usize;
            let runs = polling::runs_per_day(&source.schedule, tz, Utc::now(), 100_000);
            if runs * cost > max as usize {
                let _ = writeln!(
                    out,
                    "    warning: this schedule asks for {} requests a day, but max_requests_per_day = {max}: polls beyond the budget are skipped (and budget_exhausted fires each time it runs out); a schedule like \"7 * * * *\" (hourly) fits",
                    runs * cost
                );
            }
        }
        if let Some(allowed) = source.kind.get().polls_allowed_per_day() {
            let runs = polling::runs_per_day(&source.schedule, tz, Utc::now(), 100_000);
            if runs > allowed as usize {
                let _ = writeln!(
                    out,
                    "    warning: this schedule polls {runs} times a day, but the banks behind {} may allow as few as {allowed} reads a day per account: polls beyond what the provider reports as left are skipped until its quota resets",
                    source.kind.name()
                );
            }
        }
    }
    if !config.notices.is_empty() {
        let _ = writeln!(out, "\nnotices:");
    }
    for notice in &config.notices {
        let _ = writeln!(
            out,
            "  {} ({}, {}) schedule {:?}; maintenance announced again {} before it starts",
            notice.name,
            notice.kind.name(),
            notice.kind.describe(),
            notice.schedule.as_str(),
            Duration(notice.lead_time)
        );
    }
    let _ = writeln!(out, "\naccounts:");
    if config.accounts.is_empty() {
        let _ = writeln!(out, "  none: add [[account]] entries, or nothing is watched");
    }
    for account in &config.accounts {
        let _ = writeln!(out, "  {} \"{}\"", account.account, account.name);
        for line in detect::stated_rules(&account.rules) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let _ = writeln!(out, "\nchannels:");
    if config.channels.is_empty() {
        let _ = writeln!(out, "  none: findings are stored and logged, but nobody is told");
    }
    for channel in &config.channels {
        let limit = channel.max_per_hour.map(|n| format!(", at most {n} an hour")).unwrap_or_default();
        let target = channel.kind.describe();
        let target = if target.is_empty() { target } else { format!(", {target}") };
        let _ = writeln!(out, "  {} ({}{target}{limit})", channel.name, channel.kind.name());
    }
    let policy = &config.alerting;
    let _ = writeln!(
        out,
        "
alerting:"
    );
    for (i, route) in policy.routes.iter().enumerate() {
        let mut matchers: Vec<String> = Vec::new();
        if !route.severity.is_empty() {
            matchers
                .push(format!("severity {}", route.severity.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("|")));
        }
        if !route.kind.is_empty() {
            matchers.push(format!("kind {}", route.kind.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("|")));
        }
        if !route.account.is_empty() {
            matchers.push(format!("account {}", route.account.join("|")));
        }
        if !route.source.is_empty() {
            matchers.push(format!("source {}", route.source.join("|")));
        }
        let matchers = if matchers.is_empty() { "everything".to_owned() } else { matchers.join(", ") };
        let cont = if route.continue_matching { ", then keep matching" } else { "" };
        let _ = writeln!(out, "  route {i}: {matchers} → {}{cont}", route.channels.join(", "));
    }
    let _ = writeln!(
        out,
        "  otherwise → {}",
        if policy.default_channels.is_empty() { "nobody".to_owned() } else { policy.default_channels.join(", ") }
    );
    let _ = writeln!(
        out,
        "  repeat unacknowledged conditions every {}; resolutions {}; give up deliveries after {}",
        Duration(policy.repeat_interval),
        if policy.send_resolved { "sent" } else { "not sent" },
        Duration(config.max_delivery_age)
    );
    if let Some(quiet) = &policy.quiet_hours {
        let except: Vec<&str> = quiet.except.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(
            out,
            "  quiet hours {}–{}: held until they end{}",
            quiet.start.format("%H:%M"),
            quiet.end.format("%H:%M"),
            if except.is_empty() { String::new() } else { format!(", except {}", except.join(", ")) }
        );
    }
    out
}
