//! The value types of the config file: durations, amounts, percentages, sizes, time zones.
//!
//! Each parses itself during deserialisation, so a bad value is reported by the TOML parser with the
//! exact place of the value and the key it belongs to.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::model::parse_amount;

pub use crate::model::Duration;

/// An amount of money, written as a decimal string (`"100.00"`): TOML floats are binary fractions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(pub Decimal);

impl FromStr for Amount {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value = parse_amount(text).map_err(|e| format!("{e}: expected an amount like \"100.00\""))?;
        if value.is_sign_negative() {
            return Err(format!("{text:?} is negative: thresholds are amounts of money, write them without a sign"));
        }
        Ok(Amount(value))
    }
}

/// A percentage: a whole number (`20`) or a decimal string (`"12.5"`); never a TOML float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percent(pub Decimal);

impl FromStr for Percent {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value =
            parse_amount(text).map_err(|_| format!("{text:?} is not a percentage: expected a number from 0 to 100"))?;
        if value <= Decimal::ZERO || value > Decimal::ONE_HUNDRED {
            return Err(format!("{text} is not a percentage: expected a number above 0, at most 100"));
        }
        Ok(Percent(value))
    }
}

/// A size in bytes: `1048576`, `"512KiB"`, `"16MiB"`, `"1GiB"` (and the SI `KB`, `MB`, `GB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1_000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            _ => 0,
        };
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .filter(|n| *n > 0)
            .map(ByteSize)
            .ok_or_else(|| format!("{text:?} is not a size: expected bytes or a size like \"16MiB\""))
    }
}

/// A count that must be at least one (`velocity_count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count(pub u32);

impl FromStr for Count {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().parse::<u32>() {
            Ok(0) => Err("must be at least 1".to_owned()),
            Ok(n) => Ok(Count(n)),
            Err(_) => Err(format!("{text:?} is not a count: expected a whole number, at least 1")),
        }
    }
}

/// An amount with its sign: positive for money in, negative for money out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedAmount(pub Decimal);

impl FromStr for SignedAmount {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match parse_amount(text) {
            Ok(value) if value.is_zero() => {
                Err(format!("{text:?} is zero: expected money in (\"3000.00\") or out (\"-1200.00\")"))
            }
            Ok(value) => Ok(SignedAmount(value)),
            Err(e) => Err(format!("{e}: expected an amount like \"3000.00\" (in) or \"-1200.00\" (out)")),
        }
    }
}

/// A day of the month, 1 to 31.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayOfMonth(pub u32);

impl FromStr for DayOfMonth {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().parse::<u32>() {
            Ok(day @ 1..=31) => Ok(DayOfMonth(day)),
            _ => Err(format!("{text:?} is not a day of the month: expected 1 to 31 (31 is each month's last day)")),
        }
    }
}

/// A duration, or `"off"` to switch a rule off (`stale_after`). Zero is refused: it is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationOrOff(pub Option<chrono::TimeDelta>);

impl FromStr for DurationOrOff {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim() == "off" {
            return Ok(DurationOrOff(None));
        }
        let Duration(span) = text.parse().map_err(|e| format!("{e}; or \"off\" to switch it off"))?;
        if span.is_zero() {
            return Err(format!("{text:?} is no limit: write a duration like \"3d\", or \"off\" to switch it off"));
        }
        Ok(DurationOrOff(Some(span)))
    }
}

/// An IANA time zone name such as `Europe/Berlin` or `Asia/Shanghai`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl FromStr for TimeZone {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            format!("{text:?} is not a time zone: expected an IANA name like \"Europe/Berlin\" or \"UTC\"")
        })
    }
}

/// Deserialises any `FromStr` type from a TOML string, and from an integer for the numeric ones.
/// Floats are refused on purpose: `0.1` in TOML is not one tenth.
macro_rules! from_text {
    ($($ty:ty => $what:expr),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(TextVisitor::<$ty>::new($what))
            }
        }
    )*};
}

from_text! {
    Duration => "a duration string like \"15m\"",
    DurationOrOff => "a duration string like \"3d\", or \"off\"",
    Amount => "an amount as a string, like \"100.00\"",
    Percent => "a percentage like 20 or \"12.5\"",
    ByteSize => "a size like \"16MiB\"",
    TimeZone => "a time zone name like \"Europe/Berlin\"",
    Count => "a whole number, at least 1",
    SignedAmount => "an amount as a string, like \"3000.00\" or \"-1200.00\"",
    DayOfMonth => "a day of the month, 1 to 31",
}

struct TextVisitor<T> {
    what: &'static str,
    _ty: std::marker::PhantomData<T>,
}

impl<T> TextVisitor<T> {
    fn new(what: &'static str) -> Self {
        Self { what, _ty: std::marker::PhantomData }
    }
}

impl<T: FromStr<Err = String>> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        v.to_string().parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        v.to_string().parse().map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::custom(format!(
            "{v} is a floating-point number: expected {}; write decimals as strings so they stay exact",
            self.what
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok =
            [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604_800), ("1h30m", 5400), ("0s", 0), ("2w", 1_209_600)];
        for (text, secs) in ok {
            assert_eq!(text.parse::<Duration>().map(|d| d.0.num_seconds()), Ok(secs), "{text}");
        }
        for bad in ["", "15", "m", "1.5h", "10x", "-5m", "99999999999999999999d"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should be refused");
        }
        // Parseable as a TimeDelta, but no date lies that far away.
        for absurd in ["9999999999w", "36501d", "36500d1s"] {
            let err = absurd.parse::<Duration>().err().unwrap_or_default();
            assert!(err.contains("too long") && err.contains("36500d"), "{absurd}: {err}");
        }
        assert_eq!("36500d".parse::<Duration>().map(|d| d.0.num_days()), Ok(36_500));
        assert_eq!("1h30m".parse::<Duration>().map(|d| d.to_string()), Ok("90m".to_owned()));
    }

    #[test]
    fn sizes_and_percentages() {
        assert_eq!("16MiB".parse::<ByteSize>(), Ok(ByteSize(16 << 20)));
        assert_eq!("1000".parse::<ByteSize>(), Ok(ByteSize(1000)));
        assert!("16 bananas".parse::<ByteSize>().is_err());
        assert!("0".parse::<ByteSize>().is_err());
        assert!("20".parse::<Percent>().is_ok());
        assert!("0".parse::<Percent>().is_err());
        assert!("101".parse::<Percent>().is_err());
        assert!("-5.00".parse::<Amount>().is_err());
    }

    #[test]
    fn a_duration_or_off() {
        assert_eq!("off".parse::<DurationOrOff>(), Ok(DurationOrOff(None)));
        assert_eq!("3d".parse::<DurationOrOff>(), Ok(DurationOrOff(Some(chrono::TimeDelta::days(3)))));
        let zero = "0s".parse::<DurationOrOff>().err().unwrap_or_default();
        assert!(zero.contains("is no limit") && zero.contains("\"off\""), "{zero}");
        let bad = "never".parse::<DurationOrOff>().err().unwrap_or_default();
        assert!(bad.contains("is not a duration") && bad.ends_with("or \"off\" to switch it off"), "{bad}");
    }
}
