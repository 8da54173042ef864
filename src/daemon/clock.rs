//! The daemon's clock. In production it is the system clock; in tests it follows tokio's paused
//! clock, or is set by hand, so backoff, repeats, quiet hours and budgets are tested without waiting.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub enum Clock {
    System,
    /// Wall time `base` at tokio instant `start`, advancing with tokio's (possibly paused) clock.
    Tokio {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    },
    /// Whatever the test last set.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A clock that reads `base` now and then moves with tokio's clock.
    pub fn tokio_from(base: DateTime<Utc>) -> Clock {
        Clock::Tokio { base, start: tokio::time::Instant::now() }
    }

    /// A clock that reads `start` until [`Clock::set`] moves it.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    /// Moves a manual clock; other clocks ignore it.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Clock::Manual(now) = self {
            *now.lock().unwrap_or_else(PoisonError::into_inner) = to;
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { base, start } => {
                let elapsed = chrono::TimeDelta::from_std(start.elapsed()).unwrap_or_default();
                *base + elapsed
            }
            Clock::Manual(now) => *now.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}
