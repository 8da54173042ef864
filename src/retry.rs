//! When to try again: the one backoff schedule that source polling, the outbox and the desktop
//! agent share, each with its own first wait and ceiling. Pure: no clock, no I/O.

use chrono::TimeDelta;

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
}
