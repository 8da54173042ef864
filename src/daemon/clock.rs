//! The daemon's clock. In production it is the system clock; in tests it follows tokio's clock, so
//! a paused runtime can fast-forward through backoff, repeats and quiet hours without sleeping.

use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    /// Wall time `base` at tokio instant `start`, advancing with tokio's (possibly paused) clock.
    Tokio {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `base` now and then moves with tokio's clock.
    pub fn tokio_from(base: DateTime<Utc>) -> Clock {
        Clock::Tokio { base, start: tokio::time::Instant::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { base, start } => {
                let elapsed = chrono::TimeDelta::from_std(start.elapsed()).unwrap_or_default();
                *base + elapsed
            }
        }
    }
}
