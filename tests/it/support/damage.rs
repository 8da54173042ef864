//! Damage done to a store's sled database directly, as a disk fault or an older release's bug could
//! leave it, for the tests of what payguard does with a store that is not as it wrote it.

/// Removes every hour-of-transactions record of the account whose id is `account_id`, leaving its
/// id index naming them; returns how many went.
pub fn drop_hours_of(db: &sled::Db, account_id: &str) -> usize {
    let transactions = db.open_tree("transactions").expect("the transactions tree");
    let id = account_id.as_bytes();
    let hours: Vec<_> = transactions
        .iter()
        .keys()
        .map(|k| k.expect("a key"))
        .filter(|k| k.windows(id.len()).any(|w| w == id))
        .collect();
    for hour in &hours {
        transactions.remove(hour).expect("remove an hour");
    }
    hours.len()
}
