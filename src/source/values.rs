//! Reading amounts and times out of JSON values without trusting their types.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::model::parse_amount;

/// The largest amount, either way, a source may report: 10^18, more than any account holds in
/// any currency. `Decimal` itself reaches about 7.9e28, so amounts near its edge would pass the
/// parser and then overflow (and panic) in the detectors' sums, differences and percentages;
/// below this bound millions of them add up safely.
const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0);

/// An amount from a JSON string (`"-12.50"`) or number (`-12.5`), read from its text.
///
/// serde_json is built with `arbitrary_precision`, so a number keeps its digits as the API sent
/// them (only an exponent's form may change: `1e400` reads as `1e+400`).
pub(super) fn amount(value: &Value, what: &str) -> Result<Decimal, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!("{what} should be a decimal amount, found {}", kind(other)));
        }
    };
    let amount = parse_amount(&text).map_err(|e| format!("{what}: {e}"))?;
    if amount.abs() > MAX_AMOUNT {
        return Err(format!("{what}: {text:?} is more than any account holds (at most {MAX_AMOUNT} either way)"));
    }
    Ok(amount)
}

/// Why `body` is not JSON, with where: serde's words, and the text around the spot, so a bad
/// value (`"balance": NaN`) is named.
pub(super) fn not_json(body: &[u8], error: &serde_json::Error) -> String {
    if error.is_eof() {
        return format!("not JSON: the answer ends mid-way, after {} bytes ({error})", body.len());
    }
    // serde counts lines from 1 and columns (in bytes) from 1, pointing at the offending byte.
    let line_start =
        body.split_inclusive(|b| *b == b'\n').take(error.line().saturating_sub(1)).map(<[u8]>::len).sum::<usize>();
    let at = (line_start + error.column().saturating_sub(1)).min(body.len());
    let near = String::from_utf8_lossy(body.get(at.saturating_sub(24)..(at + 16).min(body.len())).unwrap_or_default());
    let near: String = near.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("not JSON ({error}), near `{near}`")
}

/// [`not_json`] of an answer that may echo the request: the spot may be inside a credential, where
/// the text around it would show part of it that no redaction of the whole could find, so the
/// credentials are cut out of the body first and the body is read again.
pub(super) fn unreadable(body: &[u8], secrets: &[crate::config::Secret]) -> String {
    let text = crate::redact::redact(String::from_utf8_lossy(body).into_owned(), secrets);
    match serde_json::from_str::<Value>(&text) {
        Err(e) => not_json(text.as_bytes(), &e),
        Ok(_) => "not JSON".to_owned(),
    }
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
    fn an_answer_broken_inside_an_echoed_credential_shows_none_of_it() {
        let token = "tok-5f3a9c2e71d84b06";
        let body = format!("{{\"seen\": Bearer {token} }}");
        let error = serde_json::from_str::<Value>(&body).err().map(|e| not_json(body.as_bytes(), &e));
        let fragment = &token[..8];
        let plain = error.unwrap_or_default();
        assert!(plain.contains(fragment), "the plain reading shows a part: {plain}");
        let said = unreadable(body.as_bytes(), &[crate::config::Secret::new(token)]);
        assert!(!said.contains(fragment) && said.contains("[redacted"), "{said}");
    }

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
    fn amounts_beyond_any_account_are_refused() {
        let at_edge = json!("-79228162514264337593543950335");
        assert!(amount(&at_edge, "x").is_err_and(|e| e.contains("more than any account holds")));
        assert_eq!(amount(&json!("1000000000000000000"), "x").map(|d| d.to_string()), Ok("1000000000000000000".into()));
        assert!(amount(&json!("-1000000000000000000.01"), "x").is_err());
        assert_eq!(MAX_AMOUNT, Decimal::from(10i64.pow(18)));
    }

    #[test]
    fn json_errors_say_where() {
        let body = b"{\"accounts\": [{\"id\": \"A\",\n \"balance\": NaN, \"currency\": \"USD\"}]}";
        let error = serde_json::from_slice::<Value>(body).err().map(|e| not_json(body, &e)).unwrap_or_default();
        assert!(error.contains("near `{\"id\": \"A\", \"balance\": NaN, \"currency\":`"), "{error}");
        let cut = &body[..20];
        let error = serde_json::from_slice::<Value>(cut).err().map(|e| not_json(cut, &e)).unwrap_or_default();
        assert!(error.contains("ends mid-way, after 20 bytes"), "{error}");
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
