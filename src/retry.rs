//! When to try again: the one backoff schedule that source polling, the outbox and the desktop
//! agent share, each with its own first wait and ceiling, and the one reading of a server's
//! `Retry-After`, for sources and channels alike. Pure: `now` is passed in; no clock, no I/O.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The wait after `failures` consecutive failures: `first` after the first (and before any),
/// doubling with each further failure, never more than `longest`.
pub fn backoff(first: TimeDelta, longest: TimeDelta, failures: u32) -> TimeDelta {
    let mut wait = first;
    // Stops doubling once at the ceiling, so any count of failures is a few steps and cannot
    // overflow.
    for _ in 1..failures {
        if wait >= longest {
            break;
        }
        wait = wait * 2;
    }
    wait.min(longest)
}

/// `Retry-After` in either of its forms (RFC 9110 §10.2.3): delay-seconds, or an HTTP date, read
/// as the time from `now` until then (a date already past asks for no wait). Anything else is no
/// wish at all, and the caller's own backoff applies.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_keeps_its_schedule() {
        let minutes = TimeDelta::minutes;
        let seconds = TimeDelta::seconds;
        // (caller, first, longest) → the wait in seconds after 0, 1, 2, … 9 failures.
        let table = [
            ("polling", minutes(1), minutes(60), [60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]),
            ("outbox before jitter", seconds(30), minutes(60), [30, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]),
            ("agent", seconds(1), seconds(60), [1, 1, 2, 4, 8, 16, 32, 60, 60, 60]),
        ];
        for (caller, first, longest, expected) in table {
            let waits: Vec<i64> = (0..=9).map(|failures| backoff(first, longest, failures).num_seconds()).collect();
            assert_eq!(waits, expected, "{caller}");
        }
    }

    #[test]
    fn endless_failures_stay_at_the_ceiling() {
        let longest = TimeDelta::hours(1);
        assert_eq!(backoff(TimeDelta::seconds(30), longest, u32::MAX), longest);
        assert_eq!(backoff(TimeDelta::hours(2), longest, 1), longest, "a first wait above the ceiling is cut");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_nothing_else() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T17:00:00Z").map(|t| t.to_utc()).unwrap_or_default();
        let secs = |s: u64| Some(Duration::from_secs(s));
        let table: [(&str, Option<Duration>); 12] = [
            ("120", secs(120)),
            (" 120 ", secs(120)),
            ("0", secs(0)),
            ("100000000000000", secs(100_000_000_000_000)),
            ("Sun, 06 Dec 2026 17:10:00 GMT", secs(600)),
            ("Sun, 06 Dec 2026 16:00:00 GMT", secs(0)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", secs(0)),
            ("soon", None),
            ("-5", None),
            ("1.5", None),
            ("", None),
            ("Sun, 32 Dec 2026 17:10:00 GMT", None),
        ];
        for (value, wait) in table {
            assert_eq!(retry_after(value, now), wait, "{value:?}");
        }
    }
}
