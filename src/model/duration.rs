//! A span of time as people write it (`90s`, `15m`, `1h30m`, `7d`) and as payguard shows it back:
//! the config reads thresholds and windows in it, and findings cite them in the same words.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;

/// A duration written like `90s`, `15m`, `1h30m`, `7d` or `0s`, at most [`Duration::MAX_DAYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration(pub TimeDelta);

impl Duration {
    /// A century: longer than anything payguard keeps or waits for, and short enough that a time
    /// this far from now is always a valid date, so no `now ± duration` can overflow.
    pub const MAX_DAYS: i64 = 36_500;
}

impl Duration {
    pub fn to_std(self) -> std::time::Duration {
        self.0.to_std().unwrap_or_default()
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = || {
            format!(
                "{text:?} is not a duration: expected a number with a unit, like \"90s\", \"15m\", \"1h\" or \"7d\""
            )
        };
        let mut total = TimeDelta::zero();
        let mut digits = String::new();
        let mut any = false;
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let n: i64 = digits.parse().map_err(|_| expected())?;
            let part = match c {
                's' => TimeDelta::try_seconds(n),
                'm' => TimeDelta::try_minutes(n),
                'h' => TimeDelta::try_hours(n),
                'd' => TimeDelta::try_days(n),
                'w' => TimeDelta::try_weeks(n),
                _ => None,
            }
            .ok_or_else(expected)?;
            total = total.checked_add(&part).ok_or_else(expected)?;
            digits.clear();
            any = true;
        }
        if !digits.is_empty() || !any {
            return Err(expected());
        }
        if total > TimeDelta::days(Self::MAX_DAYS) {
            return Err(format!("{text:?} is too long: a duration is at most {}d (100 years)", Self::MAX_DAYS));
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.num_seconds();
        match secs {
            0 => f.write_str("0s"),
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}
