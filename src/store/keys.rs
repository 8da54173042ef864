//! Key encodings. Every key starts with the account, length-prefixed so no account id can run into
//! another; times are big-endian with the sign bit flipped, so range scans come out in time order.

use chrono::{DateTime, Utc};

use crate::model::AccountRef;

pub(super) fn account(account: &AccountRef) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + account.source.len() + account.account.len());
    push_str(&mut key, &account.source);
    push_str(&mut key, &account.account);
    key
}

fn push_str(key: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    key.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    key.extend_from_slice(bytes);
}

pub(super) fn time(at: DateTime<Utc>) -> [u8; 8] {
    ((at.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// The leading [`account`] part of a key, or `None` if the key is too short to hold one.
pub(super) fn account_prefix(key: &[u8]) -> Option<&[u8]> {
    let skip = |at: usize| -> Option<usize> {
        let len = u16::from_be_bytes([*key.get(at)?, *key.get(at + 1)?]);
        let end = at + 2 + usize::from(len);
        (end <= key.len()).then_some(end)
    };
    key.get(..skip(skip(0)?)?)
}

/// The key of the hour `at` falls in: [`time`] of its start.
pub(super) fn hour(at: DateTime<Utc>) -> [u8; 8] {
    let start = at.timestamp().div_euclid(3600) * 3600;
    time(DateTime::from_timestamp(start, 0).unwrap_or(at))
}

pub(super) fn with(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut key = prefix.to_vec();
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_like_their_keys() {
        let times = [-5_000_000_000_000i64, -1, 0, 1, 1_700_000_000_000];
        let keys: Vec<_> = times.iter().filter_map(|ms| DateTime::from_timestamp_millis(*ms)).map(time).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_account_is_found_at_the_start_of_a_key() {
        let account = account(&AccountRef::new("bank", "checking"));
        assert_eq!(account_prefix(&with(&account, &[b"t-1"])), Some(account.as_slice()));
        assert_eq!(account_prefix(&account), Some(account.as_slice()));
        assert_eq!(account_prefix(&account[..account.len() - 1]), None);
        assert_eq!(account_prefix(&[0]), None);
    }

    #[test]
    fn hours_hold_their_times_and_sort() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
        assert_eq!(hour(at(7_200)), time(at(7_200)));
        assert_eq!(hour(at(10_799)), time(at(7_200)));
        assert_eq!(hour(at(-1)), time(at(-3_600)));
        assert!(hour(at(7_199)) < hour(at(7_200)));
    }

    #[test]
    fn accounts_cannot_run_into_each_other() {
        assert_ne!(account(&AccountRef::new("ab", "c")), account(&AccountRef::new("a", "bc")));
        let a = account(&AccountRef::new("s", "a"));
        let ab = account(&AccountRef::new("s", "ab"));
        assert!(!ab.starts_with(&a));
    }
}
