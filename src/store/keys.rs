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
    fn accounts_cannot_run_into_each_other() {
        assert_ne!(account(&AccountRef::new("ab", "c")), account(&AccountRef::new("a", "bc")));
        let a = account(&AccountRef::new("s", "a"));
        let ab = account(&AccountRef::new("s", "ab"));
        assert!(!ab.starts_with(&a));
    }
}
