//! Cron schedules, evaluated in the configured time zone.
//!
//! We use `croner` rather than `cron`: `cron` 0.17 rejects standard 5-field lines, numbers Sunday as
//! 1 (so `1-5` means Sunday to Thursday) and fires twice or never around DST changes. croner reads
//! 5-field lines (and 6 with seconds first), numbers weekdays 0-6 from Sunday, and steps over DST
//! gaps and folds once.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Deserializer};

#[derive(Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields = text.split_whitespace().count();
        if !(fields == 5 || fields == 6 || text.trim_start().starts_with('@')) {
            return Err(format!(
                "{text:?} has {fields} fields: expected a cron line of 5 fields (minute hour day month weekday) or 6 with seconds first"
            ));
        }
        check_ranges(text, fields)?;
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
        let cron = parser.parse(text).map_err(|e| format!("{text:?} is not a cron schedule: {e}"))?;
        let schedule = Schedule { text: text.to_owned(), cron };
        // A line whose days do not exist (`0 0 30 2 *`) parses, and then nothing is ever polled.
        // No calendar date depends on the time zone, so UTC answers for every zone.
        if schedule.next_after(Utc::now(), chrono_tz::UTC).is_none() {
            return Err(format!(
                "{text:?} never fires: no date matches its day and month fields (like February 30); check them"
            ));
        }
        Ok(schedule)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `after` at which the schedule fires, read on the wall clock of `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz);
        self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }
}

/// Names the field and its range when a number is out of it: croner only says "out of bounds".
fn check_ranges(text: &str, fields: usize) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 6] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 7),
    ];
    let names = &FIELDS[6 - fields.min(6)..];
    for (field, (name, low, high)) in text.split_whitespace().zip(names) {
        for part in field.split(',') {
            let range = part.split('/').next().unwrap_or_default();
            for bound in range.split('-') {
                if let Ok(n) = bound.parse::<u32>()
                    && !(*low..=*high).contains(&n)
                {
                    return Err(format!("{text:?}: {name} {n} is out of range: expected {low}-{high}"));
                }
            }
        }
    }
    Ok(())
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn runs(expr: &str, tz: Tz, from: &str, n: usize) -> Vec<String> {
        let schedule = Schedule::parse(expr).unwrap_or_else(|e| panic!("{e}"));
        let mut at = utc(from);
        let mut out = Vec::new();
        for _ in 0..n {
            at = schedule.next_after(at, tz).unwrap_or_else(|| panic!("no next run of {expr}"));
            out.push(at.with_timezone(&tz).format("%a %Y-%m-%d %H:%M:%S %Z").to_string());
        }
        out
    }

    #[test]
    fn weekdays_count_from_sunday_zero() {
        // 2026-11-27 is a Friday.
        let got = runs("0 9 * * 1-5", chrono_tz::UTC, "2026-11-27T10:00:00Z", 2);
        assert_eq!(got, ["Mon 2026-11-30 09:00:00 UTC", "Tue 2026-12-01 09:00:00 UTC"]);
    }

    #[test]
    fn six_fields_put_seconds_first() {
        let got = runs("*/20 * * * * *", chrono_tz::UTC, "2026-11-27T10:00:05Z", 3);
        assert_eq!(got, ["Fri 2026-11-27 10:00:20 UTC", "Fri 2026-11-27 10:00:40 UTC", "Fri 2026-11-27 10:01:00 UTC"]);
    }

    #[test]
    fn a_time_in_the_spring_gap_runs_once_not_never() {
        // Berlin skips 02:00-03:00 on 2026-03-29.
        let tz = chrono_tz::Europe::Berlin;
        let got = runs("30 2 * * *", tz, "2026-03-28T12:00:00Z", 3);
        assert_eq!(got.len(), 3);
        assert!(got[0].starts_with("Sun 2026-03-29 03:"), "{got:?}");
        assert!(got[1].starts_with("Mon 2026-03-30 02:30"), "{got:?}");
    }

    #[test]
    fn a_time_in_the_autumn_fold_runs_once_not_twice() {
        // Berlin repeats 02:00-03:00 on 2026-10-25.
        let tz = chrono_tz::Europe::Berlin;
        let got = runs("30 2 * * *", tz, "2026-10-24T12:00:00Z", 2);
        assert!(got[0].starts_with("Sun 2026-10-25 02:30"), "{got:?}");
        assert!(got[1].starts_with("Mon 2026-10-26 02:30"), "{got:?}");
    }

    #[test]
    fn hourly_runs_across_the_fold_stay_an_hour_apart() {
        let tz = chrono_tz::Europe::Berlin;
        let schedule = Schedule::parse("0 * * * *").unwrap_or_else(|e| panic!("{e}"));
        let mut at =
            tz.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        for _ in 0..5 {
            let next = schedule.next_after(at, tz).unwrap_or_default();
            assert!((next - at).num_minutes() <= 60, "{at} -> {next}");
            assert!(next > at);
            at = next;
        }
    }

    #[test]
    fn wrong_field_counts_are_explained() {
        for bad in ["* * * *", "0 0 * * * * 2026", "61 * * * *", "nonsense"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
        let err = Schedule::parse("* * * *").err().unwrap_or_default();
        assert!(err.contains("4 fields"), "{err}");
    }

    #[test]
    fn a_schedule_that_never_fires_is_refused_and_a_rare_one_is_not() {
        for never in ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 6,9,11 *"] {
            let err = Schedule::parse(never).err().unwrap_or_default();
            assert!(err.contains("never fires"), "{never}: {err}");
        }
        // Once every four years, and 31 days in some months only: both fire.
        for rare in ["0 0 29 2 *", "0 0 31 * *"] {
            assert!(Schedule::parse(rare).is_ok(), "{rare}");
        }
    }
}
