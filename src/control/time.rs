//! Times as people type them: a date (`2026-11-01`), an RFC 3339 time, or an age (`30d`, `12h`).

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Duration;

/// A time or duration typed on the command line that payguard cannot use. The command exits 78
/// (EX_CONFIG), like for any other setting a person has to correct.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadTime(pub String);

/// Parses `text` relative to `now`; dates are midnight UTC.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, BadTime> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = day.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    match text.parse::<Duration>() {
        Ok(age) => now.checked_sub_signed(age.0).ok_or_else(|| BadTime(format!("{text:?} reaches before any date"))),
        Err(e) if e.contains("too long") => Err(BadTime(e)),
        Err(_) => Err(BadTime(format!(
            "{text:?} is not a time: expected a date (2026-11-01), an RFC 3339 time (2026-11-01T08:00:00Z) or an age (30d, 12h)"
        ))),
    }
}

/// `now` plus a duration typed on the command line (`silence add --for`).
pub fn after(now: DateTime<Utc>, text: &str) -> Result<DateTime<Utc>, BadTime> {
    let duration: Duration = text.parse().map_err(BadTime)?;
    if duration.0 <= chrono::TimeDelta::zero() {
        return Err(BadTime(format!("{text:?} must be longer than zero")));
    }
    now.checked_add_signed(duration.0).ok_or_else(|| BadTime(format!("{text:?} reaches past any date")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes() {
        let now =
            DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let at = |s: &str| parse_time(s, now).map(|t| t.to_rfc3339()).map_err(|e| e.0);
        assert_eq!(at("2026-11-01"), Ok("2026-11-01T00:00:00+00:00".to_owned()));
        assert_eq!(at("2026-11-01T08:00:00+08:00"), Ok("2026-11-01T00:00:00+00:00".to_owned()));
        assert_eq!(at("30d"), Ok("2026-10-26T12:00:00+00:00".to_owned()));
        assert_eq!(at("12h"), Ok("2026-11-25T00:00:00+00:00".to_owned()));
        assert!(at("last tuesday").is_err());
    }

    #[test]
    fn ages_and_durations_beyond_any_date_are_errors_not_panics() {
        let now = Utc::now();
        let since = parse_time("9999999999w", now).err().map(|e| e.0).unwrap_or_default();
        assert!(since.contains("too long"), "{since}");
        let until = after(now, "9999999999w").err().map(|e| e.0).unwrap_or_default();
        assert!(until.contains("too long"), "{until}");
        // The longest duration allowed still lands on a date, both ways.
        assert!(parse_time("36500d", now).is_ok() && after(now, "36500d").is_ok());
        assert!(after(now, "0s").is_err());
    }
}
