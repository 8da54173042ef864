//! Reading amounts and times out of JSON values without trusting their types.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::model::parse_amount;

/// An amount from a JSON string (`"-12.50"`) or number (`-12.5`), read from its text.
///
/// serde_json is built with `arbitrary_precision`, so a number's text is exactly what the API sent.
pub(super) fn amount(value: &Value, what: &str) -> Result<Decimal, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!("{what} should be a decimal amount, found {}", kind(other)));
        }
    };
    parse_amount(&text).map_err(|e| format!("{what}: {e}"))
}

/// A time as Unix seconds (number or numeric string), RFC 3339, or a plain date (midnight UTC).
pub(super) fn time(value: &Value, what: &str) -> Result<DateTime<Utc>, String> {
    let bad = || format!("{what} should be a time (Unix seconds or RFC 3339), found {}", short(value));
    match value {
        Value::Number(n) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)).ok_or_else(bad),
        Value::String(s) => {
            if let Ok(secs) = s.trim().parse::<i64>() {
                return DateTime::from_timestamp(secs, 0).ok_or_else(bad);
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
                return Ok(t.with_timezone(&Utc));
            }
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// A string field; numbers are accepted as their text (ids are often numeric).
pub(super) fn text(value: &Value, what: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{what} should be text, found {}", kind(other))),
    }
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_from_strings_and_number_literals() {
        let parsed: Value =
            serde_json::from_str(r#"[ "-12.50", 0.1, 1e400, "NaN", true, 12345678901234567890123456789012345678901 ]"#)
                .unwrap_or_default();
        let got: Vec<Option<String>> = parsed
            .as_array()
            .map(|a| a.iter().map(|v| amount(v, "x").ok().map(|d| d.to_string())).collect())
            .unwrap_or_default();
        assert_eq!(got, [Some("-12.50".to_owned()), Some("0.1".to_owned()), None, None, None, None]);
    }

    #[test]
    fn times_in_the_shapes_apis_use() {
        assert_eq!(time(&json!(1_700_000_000), "t").map(|t| t.timestamp()), Ok(1_700_000_000));
        assert_eq!(time(&json!("1700000000"), "t").map(|t| t.timestamp()), Ok(1_700_000_000));
        assert!(time(&json!("2026-11-01T10:00:00+08:00"), "t").is_ok());
        assert!(time(&json!("2026-11-01"), "t").is_ok());
        assert!(time(&json!("yesterday"), "t").is_err());
        assert!(time(&json!(null), "t").is_err());
    }
}
