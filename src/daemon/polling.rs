//! Polite polling: a daily request budget the scheduler never exceeds, the platform's
//! `Retry-After`, and exponential backoff after failures. Pure bookkeeping on [`SourceHealth`]; the
//! engine asks before each poll and records after it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Polling;
use crate::model::{BudgetSpent, SourceHealth};
use crate::source::SourceError;
use crate::text;

const DAY: TimeDelta = TimeDelta::hours(24);
const FIRST_BACKOFF: TimeDelta = TimeDelta::minutes(1);
const LONGEST_BACKOFF: TimeDelta = TimeDelta::hours(1);

/// Why a scheduled poll is not made now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The platform asked us to wait, or we are backing off after failures.
    Waiting { until: DateTime<Utc> },
    /// The daily request budget is spent until `until`.
    Budget { used: usize, max: u32, until: DateTime<Utc> },
}

impl Skip {
    /// Why, with its time on `zone`'s clock: what `payguard once` tells a person.
    pub fn told(&self, zone: chrono_tz::Tz) -> String {
        match self {
            Skip::Waiting { until } => {
                format!("waiting until {} (backoff or Retry-After)", text::time_to_the_second(*until, zone))
            }
            Skip::Budget { used, max, until } => format!(
                "{used} of max_requests_per_day = {max} used; the next request fits at {}",
                text::time(*until, zone)
            ),
        }
    }
}

/// For the log, which is in UTC.
impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.told(chrono_tz::UTC))
    }
}

/// Whether a poll costing `cost` requests may be made at `now`.
pub fn may_poll(polling: &Polling, health: &SourceHealth, cost: u32, now: DateTime<Utc>) -> Result<(), Skip> {
    if let Some(until) = health.not_before.filter(|t| *t > now) {
        return Err(Skip::Waiting { until });
    }
    if let Some(max) = polling.max_requests_per_day {
        let window: Vec<&DateTime<Utc>> = health.requests.iter().filter(|t| **t > now - DAY).collect();
        if window.len() + cost as usize > max as usize {
            // The budget frees up as the oldest requests of the window age out.
            let freeing = (window.len() + cost as usize).saturating_sub(max as usize).max(1) - 1;
            let until = window.get(freeing).map_or(now, |t| **t + DAY);
            return Err(Skip::Budget { used: window.len(), max, until });
        }
    }
    Ok(())
}

/// Notes the requests a poll is about to make: they count whatever the answer. A spent budget
/// that let this poll through is over.
pub fn record_attempt(health: &mut SourceHealth, cost: u32, now: DateTime<Utc>) {
    health.requests.retain(|t| *t > now - DAY);
    health.requests.extend(std::iter::repeat_n(now, cost as usize));
    health.last_attempt = Some(now);
    health.budget_spent = None;
}

/// Notes a skipped poll. Returns true when it starts a spent budget (the first poll skipped for
/// it since the last poll made), which is said once rather than at every skipped tick.
pub fn record_skip(health: &mut SourceHealth, skip: &Skip, now: DateTime<Utc>) -> bool {
    match skip {
        Skip::Budget { used, max, until } => {
            let starts = health.budget_spent.is_none();
            let since = health.budget_spent.as_ref().map_or(now, |b| b.since);
            health.budget_spent = Some(BudgetSpent { since, until: *until, used: *used, max: *max });
            starts
        }
        Skip::Waiting { .. } => false,
    }
}

pub fn record_success(health: &mut SourceHealth, now: DateTime<Utc>) {
    health.consecutive_failures = 0;
    health.auth_refused = false;
    health.consent_ended = false;
    health.last_error = None;
    health.not_before = None;
    health.last_success = Some(now);
}

/// Notes what a provider said of the access itself: when the consent ends, and each account's
/// request quota (kept until the provider says otherwise).
pub fn record_access(
    health: &mut SourceHealth,
    consent_until: Option<DateTime<Utc>>,
    quotas: &[(String, crate::model::Quota)],
) {
    if consent_until.is_some() {
        health.consent_until = consent_until;
    }
    health.quotas.extend(quotas.iter().cloned());
}

/// Notes which accounts of an answered poll were usable and which were not, so an account that
/// stays unreadable is alerted on like a source that stays down.
pub fn record_accounts<'a>(
    health: &mut SourceHealth,
    usable: impl IntoIterator<Item = &'a str>,
    unusable: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for account in usable {
        health.unreadable.remove(account);
    }
    for (account, error) in unusable {
        let entry = health.unreadable.entry(account.to_owned()).or_insert_with(|| crate::model::Unreadable {
            polls: 0,
            error: String::new(),
            since: health.last_success,
        });
        entry.polls += 1;
        error.clone_into(&mut entry.error);
    }
}

/// Counts a failed poll and decides when the next may be made.
pub fn record_failure(health: &mut SourceHealth, error: &SourceError, now: DateTime<Utc>) {
    health.consecutive_failures += 1;
    health.last_error = Some(error.to_string());
    health.auth_refused = is_auth(error);
    health.consent_ended = matches!(error, SourceError::ConsentExpired { .. });
    let wait = match error {
        SourceError::RateLimited { retry_after: Some(seconds), .. } => {
            TimeDelta::seconds(i64::try_from(*seconds).unwrap_or(i64::MAX).min(DAY.num_seconds()))
        }
        _ => backoff(health.consecutive_failures),
    };
    health.not_before = Some(now + wait);
}

/// One minute after the first failure, doubling to at most an hour.
pub fn backoff(failures: u32) -> TimeDelta {
    crate::retry::backoff(FIRST_BACKOFF, LONGEST_BACKOFF, failures)
}

fn is_auth(error: &SourceError) -> bool {
    match error {
        SourceError::Auth { .. } | SourceError::ConsentExpired { .. } => true,
        // SimpleFIN reports refused credentials as `gen.auth` or `con.auth` codes.
        SourceError::Platform(text) => text.contains(".auth"),
        _ => false,
    }
}

/// How many times `schedule` fires in the 24 hours after `from`, counting at most `limit`.
pub fn runs_per_day(schedule: &crate::config::Schedule, tz: chrono_tz::Tz, from: DateTime<Utc>, limit: usize) -> usize {
    let mut at = from;
    let mut runs = 0;
    while runs < limit {
        match schedule.next_after(at, tz) {
            Some(next) if next <= from + DAY => {
                runs += 1;
                at = next;
            }
            _ => break,
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::now;

    /// `once` tells when a skipped poll may be made on the configured clock; the log keeps UTC.
    #[test]
    fn a_skip_is_told_on_the_configured_clock() {
        let until = now() + TimeDelta::hours(2);
        let skip = Skip::Budget { used: 24, max: 24, until };
        let local = until.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M +08:00").to_string();
        assert!(skip.told(chrono_tz::Asia::Shanghai).ends_with(&local), "{}", skip.told(chrono_tz::Asia::Shanghai));
        assert!(skip.to_string().ends_with(&until.format("%Y-%m-%d %H:%M UTC").to_string()), "{skip}");
    }

    fn polling(max: Option<u32>) -> Polling {
        Polling {
            max_requests_per_day: max,
            overlap: TimeDelta::days(5),
            down_after: 3,
            notice: None,
            consent_warning: TimeDelta::days(7),
        }
    }

    #[test]
    fn the_budget_holds_over_any_24_hours() {
        let mut health = SourceHealth::default();
        let mut made = 0;
        // A poll attempted every minute for two days against a budget of 24.
        for minute in 0..(2 * 24 * 60) {
            let at = now() + TimeDelta::minutes(minute);
            if may_poll(&polling(Some(24)), &health, 1, at).is_ok() {
                record_attempt(&mut health, 1, at);
                made += 1;
            }
            let window = health.requests.iter().filter(|t| **t > at - DAY).count();
            assert!(window <= 24, "{window} requests in the day before {at}");
        }
        assert_eq!(made, 48, "the budget is used, not starved");
    }

    #[test]
    fn a_budget_exhausted_says_when_it_frees() {
        let mut health = SourceHealth::default();
        for i in 0..3 {
            record_attempt(&mut health, 1, now() + TimeDelta::hours(i));
        }
        let later = now() + TimeDelta::hours(5);
        match may_poll(&polling(Some(3)), &health, 1, later) {
            Err(Skip::Budget { used: 3, max: 3, until }) => assert_eq!(until, now() + DAY),
            other => panic!("{other:?}"),
        }
        assert!(may_poll(&polling(None), &health, 1, later).is_ok());
    }

    #[test]
    fn a_spent_budget_starts_once_and_ends_with_the_next_poll() {
        let mut health = SourceHealth::default();
        let spent = Skip::Budget { used: 24, max: 24, until: now() + TimeDelta::hours(3) };
        let waiting = Skip::Waiting { until: now() + TimeDelta::minutes(5) };
        assert!(!record_skip(&mut health, &waiting, now()), "a backoff is not a spent budget");
        assert!(record_skip(&mut health, &spent, now()), "the first skip starts it");
        assert!(!record_skip(&mut health, &spent, now() + TimeDelta::minutes(1)), "later skips continue it");
        assert_eq!(health.budget_spent.as_ref().map(|b| b.since), Some(now()));
        record_attempt(&mut health, 1, now() + TimeDelta::hours(3));
        assert_eq!(health.budget_spent, None);
        assert!(record_skip(&mut health, &spent, now() + TimeDelta::hours(4)), "a new one starts again");
    }

    #[test]
    fn failures_back_off_and_retry_after_is_obeyed() {
        let mut health = SourceHealth::default();
        let down = SourceError::Unreachable { host: "h".into(), reason: "refused".into() };
        let waits: Vec<i64> = (0..8)
            .map(|_| {
                record_failure(&mut health, &down, now());
                (health.not_before.unwrap_or_default() - now()).num_minutes()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert!(may_poll(&polling(None), &health, 1, now() + TimeDelta::minutes(59)).is_err());
        record_failure(&mut health, &SourceError::RateLimited { host: "h".into(), retry_after: Some(7200) }, now());
        assert_eq!(health.not_before, Some(now() + TimeDelta::hours(2)));
        record_success(&mut health, now());
        assert_eq!((health.consecutive_failures, health.not_before), (0, None));
        record_failure(&mut health, &SourceError::Auth { host: "h".into(), status: 403 }, now());
        assert!(health.auth_refused);
        record_failure(&mut health, &SourceError::Platform("gen.auth: Authentication failed".into()), now());
        assert!(health.auth_refused);
    }

    #[test]
    fn runs_per_day_counts_the_schedule() {
        let tz = chrono_tz::UTC;
        let every_minute = crate::config::Schedule::parse("* * * * *").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs_per_day(&every_minute, tz, now(), 10_000), 1440);
        let hourly = crate::config::Schedule::parse("7 * * * *").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs_per_day(&hourly, tz, now(), 10_000), 24);
    }
}
