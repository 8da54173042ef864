//! `payguard check`: validate the config and show what it means.

use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;

use super::{exit, load_config};
use crate::config::{ChannelKind, Config, Duration, Secrets, SourceKind};
use crate::daemon::polling;
use crate::detect;

pub fn run(path: &Path) -> anyhow::Result<u8> {
    let config = load_config(path, Secrets::Check)?;
    print!("{}", summary(&config));
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
        let target = match &source.kind {
            SourceKind::SimpleFin { access_url } => secret_host(access_url),
            SourceKind::HttpJson(http) => host(&http.balance_url),
        };
        let _ = writeln!(
            out,
            "  {} ({}, {}) schedule {:?}",
            source.name,
            source.kind.name(),
            target,
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
    }
    if !config.notices.is_empty() {
        let _ = writeln!(out, "\nnotices:");
    }
    for notice in &config.notices {
        let kind = match &notice.kind {
            crate::config::NoticeSourceKind::Statuspage { url, .. } => format!("statuspage, {}", host(url)),
            crate::config::NoticeSourceKind::Feed { url, .. } => format!("feed, {}", host(url)),
            crate::config::NoticeSourceKind::HttpJson(http) => format!("http-json, {}", host(&http.url)),
        };
        let _ = writeln!(
            out,
            "  {} ({kind}) schedule {:?}; maintenance announced again {} before it starts",
            notice.name,
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
        let _ = writeln!(out, "  {} ({}{}{limit})", channel.name, channel.kind.name(), channel_target(&channel.kind));
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

/// Where a channel delivers, without secrets: a mail host, a provider, a webhook host.
fn channel_target(kind: &ChannelKind) -> String {
    match kind {
        ChannelKind::Console | ChannelKind::Desktop => String::new(),
        ChannelKind::Email(email) => format!(", {}:{} to {}", email.host, email.port, email.to.join(", ")),
        ChannelKind::Sms(sms) => match &sms.provider {
            crate::config::SmsProvider::Twilio { .. } => format!(", twilio to {}", sms.to.join(", ")),
            crate::config::SmsProvider::Http { url, .. } => {
                format!(", {} to {}", secret_host(url), sms.to.join(", "))
            }
        },
        ChannelKind::Webhook(hook) => format!(", {:?} preset, {}", hook.preset, secret_host(&hook.url)).to_lowercase(),
    }
}

/// [`host`] of a URL that is a secret, or the reference it was not resolved from here.
fn secret_host(url: &crate::config::Secret) -> String {
    url.expose().map_or_else(|unresolved| format!("{} (not resolved here)", unresolved.reference()), host)
}

/// Scheme, host and port: never the login, path or query. The config has already checked the URL
/// (with its entry's `allow_insecure_http`), so this only reads it.
fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{}://{h}:{p}", u.scheme()),
                None => format!("{}://{h}", u.scheme()),
            })
        })
        .unwrap_or_else(|| "?".to_owned())
}
