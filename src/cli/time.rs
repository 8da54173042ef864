//! Times as people type them: a date (`2026-11-01`), an RFC 3339 time, or an age (`30d`, `12h`).

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Duration;

/// Parses `text` relative to `now`; dates are midnight UTC.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
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
        Ok(age) => Ok(now - age.0),
        Err(_) => Err(format!(
            "{text:?} is not a time: expected a date (2026-11-01), an RFC 3339 time (2026-11-01T08:00:00Z) or an age (30d, 12h)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes() {
        let now =
            DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let at = |s: &str| parse_time(s, now).map(|t| t.to_rfc3339());
        assert_eq!(at("2026-11-01"), Ok("2026-11-01T00:00:00+00:00".to_owned()));
        assert_eq!(at("2026-11-01T08:00:00+08:00"), Ok("2026-11-01T00:00:00+00:00".to_owned()));
        assert_eq!(at("30d"), Ok("2026-10-26T12:00:00+00:00".to_owned()));
        assert_eq!(at("12h"), Ok("2026-11-25T00:00:00+00:00".to_owned()));
        assert!(at("last tuesday").is_err());
    }
}
