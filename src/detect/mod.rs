//! Detectors: pure functions from (rules, history, new observation, now) to findings.
//!
//! Nothing here does I/O, reads a clock or awaits: the daemon loads the [`History`] from the store,
//! passes `now` in, and stores what comes out. That keeps every detector a table-driven test away
//! from being proven.

mod account;
mod balance;
mod debit;
mod duplicate;
mod expected;
mod health;
mod notice;
mod payee;
mod pending;
mod reconcile;
mod stale;
mod velocity;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;

use crate::model::{Finding, FindingKind, Observation, Threshold, Transaction, short_hash};

pub use expected::{Expected, Recurring, suggest};
pub use health::{
    accounts_unreadable, budget_exhausted, consent_expiry, source_down, store_failing, unreadable_records,
};
pub use notice::{maintenance_active, notices};
pub use reconcile::posted;

/// The thresholds of one account (`[[account]]` in the config). `None` switches a detector off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub min_balance: Option<Decimal>,
    pub drop_abs: Option<Decimal>,
    pub drop_pct: Option<Decimal>,
    pub drop_window: TimeDelta,
    pub large_debit: Option<Decimal>,
    pub learning_period: TimeDelta,
    /// Payee keys (see [`crate::model::payee_key`]) that never raise `new_payee`.
    pub trusted_payees: HashSet<String>,
    pub velocity_count: Option<u32>,
    pub velocity_sum: Option<Decimal>,
    pub velocity_window: TimeDelta,
    pub duplicate_window: TimeDelta,
    /// `card_expiry` fires this long before a linked card expires.
    pub card_expiry_warn: TimeDelta,
    /// `unexplained_change` tolerates this much difference (rounding, fees posted later).
    pub tolerance: Decimal,
    /// `stuck_pending` fires for a pending debit older than this.
    pub pending_max_age: TimeDelta,
    /// Monthly payments the account expects (`missing_payment`, `amount_changed`).
    pub expected: Vec<Expected>,
    /// `stale_data` fires when the platform's balance date and newest booked transaction are older
    /// than this.
    pub stale_after: Option<TimeDelta>,
    /// The clock findings tell their times on (`[daemon] timezone`).
    pub zone: crate::model::Zone,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            min_balance: None,
            drop_abs: None,
            drop_pct: Some(Decimal::from(30)),
            drop_window: TimeDelta::hours(24),
            large_debit: None,
            learning_period: TimeDelta::days(7),
            trusted_payees: HashSet::new(),
            velocity_count: Some(5),
            velocity_sum: None,
            velocity_window: TimeDelta::hours(1),
            duplicate_window: TimeDelta::hours(24),
            card_expiry_warn: TimeDelta::days(30),
            tolerance: Decimal::new(1, 2),
            pending_max_age: TimeDelta::days(5),
            expected: Vec::new(),
            stale_after: Some(TimeDelta::days(3)),
            zone: crate::model::Zone::default(),
        }
    }
}

impl Rules {
    /// How far back the detectors look: the history the daemon must load.
    pub fn lookback(&self) -> TimeDelta {
        let expected = self.expected.iter().map(Expected::lookback).max().unwrap_or_default();
        self.drop_window.max(self.velocity_window).max(self.duplicate_window).max(expected)
    }
}

/// What the store knew about an account before this observation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// When the account was first polled successfully; `None` means this observation is the baseline.
    pub first_poll_at: Option<DateTime<Utc>>,
    /// Snapshots within [`Rules::lookback`], oldest first.
    pub snapshots: Vec<crate::model::Snapshot>,
    /// The last snapshot before this observation, however old: what reconciliation compares with.
    pub previous: Option<crate::model::Snapshot>,
    /// Transactions posted within [`Rules::lookback`].
    pub recent: Vec<Transaction>,
    /// Stored transactions with the same ids as the observation's: what is not here is new.
    pub known: HashMap<String, Transaction>,
    /// Payee keys seen on this account before.
    pub known_payees: HashSet<String>,
}

/// One call's worth of input, shared by every detector.
pub(crate) struct Input<'a> {
    pub rules: &'a Rules,
    pub history: &'a History,
    pub observation: &'a Observation,
    pub now: DateTime<Utc>,
    /// The observation's transactions that are news: not seen before, or changed since in a way
    /// not judged yet (see [`is_news`]).
    pub new: Vec<&'a Transaction>,
}

impl Input<'_> {
    /// Recent and new transactions together, each id once (the new version wins).
    fn window(&self, width: TimeDelta) -> Vec<&Transaction> {
        let since = self.now - width;
        let mut by_id: HashMap<&str, &Transaction> = HashMap::new();
        for tx in self.history.recent.iter().chain(self.observation.transactions.iter()) {
            by_id.insert(tx.id.as_str(), tx);
        }
        let mut txs: Vec<&Transaction> = by_id.into_values().filter(|tx| tx.posted >= since).collect();
        txs.sort_by(|a, b| (a.posted, &a.id).cmp(&(b.posted, &b.id)));
        txs
    }

    /// What tells an event about `tx` from another of its kind: its id, and for a transaction
    /// judged again after it changed, the version judged, so a posting for more than its pending
    /// charge is said although the pending one was.
    fn event_key(&self, tx: &Transaction) -> String {
        match self.history.known.get(&tx.id) {
            None => tx.id.clone(),
            Some(_) => format!("{}@{}", tx.id, short_hash(&format!("{}|{}", tx.amount.normalize(), tx.payee_key))),
        }
    }

    fn finding(&self, kind: FindingKind, title: String, detail: String) -> Finding {
        let snapshot = &self.observation.snapshot;
        Finding {
            detail,
            currency: snapshot.currency.clone(),
            balance: Some(snapshot.balance),
            zone: self.rules.zone,
            ..Finding::new(kind, self.observation.account.clone(), title, self.now)
        }
    }
}

fn threshold(key: &str, value: impl ToString) -> Option<Threshold> {
    Some(Threshold { key: key.to_owned(), value: value.to_string() })
}

/// Whether `tx` is news, given the version of it stored before (`known`): a transaction never
/// seen, or one that changed to another payee or to take more money out than the version already
/// judged. A pending charge that posts is judged on what posted; one that posts as it was pending
/// (or for less) was judged already.
fn is_news(known: Option<&Transaction>, tx: &Transaction) -> bool {
    known.is_none_or(|known| known.payee_key != tx.payee_key || tx.outflow() > known.outflow())
}

/// Each per-account rule as `payguard check` states it, in the order of the kinds' table:
/// `balance_drop: by 30% within 1d`, `low_balance: off`.
pub fn stated_rules(rules: &Rules) -> Vec<String> {
    FindingKind::ALL.into_iter().filter_map(|kind| rule(kind, rules).map(|rule| format!("{kind}: {rule}"))).collect()
}

/// `kind`'s rule for an account, or `None` for a kind `check` does not list. Each statement sits
/// beside its detector; the `match` names every kind, so a new one cannot be left out of `check`
/// without a compile error.
fn rule(kind: FindingKind, rules: &Rules) -> Option<String> {
    use FindingKind::*;
    match kind {
        BalanceDrop => Some(balance::balance_drop_rule(rules)),
        LowBalance => Some(balance::low_balance_rule(rules)),
        LargeDebit => Some(debit::large_debit_rule(rules)),
        NewPayee => Some(payee::new_payee_rule(rules)),
        Velocity => Some(velocity::velocity_rule(rules)),
        DuplicateCharge => Some(duplicate::duplicate_charge_rule(rules)),
        MissingPayment => Some(expected::missing_payment_rule(rules)),
        AmountChanged => Some(expected::amount_changed_rule(rules)),
        StaleData => Some(stale::stale_data_rule(rules)),
        // Always on; `check` does not show their `tolerance`, `pending_max_age`, `card_expiry_warn`.
        UnexplainedChange | StuckPending | AccountStatus | CardExpiry => None,
        // Not an account's: they follow the source's, the notices' and the store's settings.
        SourceDown | ConsentExpiry | UnreadableRecord | Maintenance | Incident | BudgetExhausted | StoreFailing => None,
    }
}

/// What `check` says of a detector its account switched off.
const OFF: &str = "off";

/// Runs every detector over one new observation of one account.
pub fn detect(rules: &Rules, history: &History, observation: &Observation, now: DateTime<Utc>) -> Vec<Finding> {
    // The baseline poll reads the account's past: nothing in it is news, only its current state is.
    let mut new: Vec<&Transaction> = match history.first_poll_at {
        None => Vec::new(),
        Some(_) => observation.transactions.iter().filter(|tx| is_news(history.known.get(&tx.id), tx)).collect(),
    };
    // Sources list transactions in any order; findings (and so alert ids) must not depend on it.
    new.sort_by(|a, b| (a.posted, &a.id).cmp(&(b.posted, &b.id)));
    let input = Input { rules, history, observation, now, new };
    let mut findings = Vec::new();
    findings.extend(balance::balance_drop(&input));
    findings.extend(balance::low_balance(&input));
    findings.extend(debit::large_debit(&input));
    findings.extend(payee::new_payee(&input));
    findings.extend(velocity::velocity(&input));
    findings.extend(duplicate::duplicate_charge(&input));
    findings.extend(reconcile::unexplained_change(&input));
    findings.extend(pending::stuck_pending(&input));
    findings.extend(account::account_status(&input));
    findings.extend(account::card_expiry(&input));
    findings.extend(expected::missing_payment(&input));
    findings.extend(expected::amount_changed(&input));
    findings.extend(stale::stale_data(&input));
    findings
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use crate::model::{FindingKind, Transaction};

    fn pending(mut tx: Transaction) -> Transaction {
        tx.pending = true;
        tx
    }

    /// A pending charge seen in an earlier poll (so known, its payee learned), then posted under
    /// the same id: what the posting raises.
    #[test]
    fn a_posting_is_judged_on_what_posted() {
        use FindingKind::{LargeDebit, NewPayee};
        // (pending amount, pending payee, posted amount, posted payee, kinds found)
        let cases: &[(&str, &str, &str, &str, &[FindingKind])] = &[
            ("-1.00", "Coffee Shop", "-1600.00", "Thief Ltd", &[LargeDebit, NewPayee]),
            ("-1.00", "Coffee Shop", "-1600.00", "Coffee Shop", &[LargeDebit]),
            ("-1.00", "Coffee Shop", "-1.00", "Thief Ltd", &[NewPayee]),
            ("5.00", "Coffee Shop", "-1600.00", "Coffee Shop", &[LargeDebit]),
            // Judged when it was pending: posting as it was, or for less, says nothing again.
            ("-1600.00", "Thief Ltd", "-1600.00", "Thief Ltd", &[]),
            ("-1600.00", "Coffee Shop", "-1500.00", "Coffee Shop", &[]),
            ("-1.00", "Coffee Shop", "-1.00", "COFFEE SHOP #12", &[]),
        ];
        let mut rules = rules();
        rules.large_debit = Some(dec("1000"));
        for (was, to, amount, payee, want) in cases {
            let before = pending(tx("p", 30, was, to));
            let mut history = learned_history();
            history.known_payees.insert(before.payee_key.clone());
            history.known.insert(before.id.clone(), before);
            let findings = run(&rules, &history, observation("100", vec![tx("p", 30, amount, payee)]));
            let kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind).collect();
            assert_eq!(&kinds, want, "{was} {to} → {amount} {payee}");
        }
    }

    /// The posting's event is its own: said although the pending charge's was, and once.
    #[test]
    fn a_posting_for_more_is_a_new_event_said_once() {
        let mut rules = rules();
        rules.large_debit = Some(dec("1000"));
        let before = pending(tx("p", 30, "-1500.00", "Shop"));
        let first = run(&rules, &learned_history(), observation("100", vec![before.clone()]));
        let mut history = learned_history();
        history.known.insert(before.id.clone(), before);
        history.known_payees.insert("shop".into());
        let posted = tx("p", 30, "-1600.00", "Shop");
        let second = run(&rules, &history, observation("100", vec![posted.clone()]));
        let key =
            |findings: &[crate::model::Finding]| of_kind(findings, FindingKind::LargeDebit).map(|f| f.key.clone());
        assert!(key(&second).is_some() && key(&second) != key(&first), "{first:?} {second:?}");
        assert_eq!(key(&run(&rules, &history, observation("100", vec![posted.clone()]))), key(&second));
        history.known.insert(posted.id.clone(), posted.clone());
        assert!(run(&rules, &history, observation("100", vec![posted])).is_empty(), "seen posted, said");
    }

    /// What `check` prints under each account: every per-account rule, in the table's order, off
    /// or with its limits.
    #[test]
    fn check_states_each_rule_on_and_off() {
        let off = super::Rules { min_balance: None, large_debit: None, ..rules() };
        assert_eq!(
            super::stated_rules(&off),
            [
                "balance_drop: off",
                "low_balance: off",
                "large_debit: off",
                "new_payee: after a learning period of 0s",
                "velocity: off",
                "duplicate_charge: same payee and amount within 1d",
                "missing_payment: off",
                "amount_changed: off",
                "stale_data: off",
            ]
        );
        let on = super::Rules {
            min_balance: Some(dec("100.00")),
            drop_abs: Some(dec("500.00")),
            drop_pct: Some(dec("30")),
            drop_window: chrono::TimeDelta::hours(36),
            large_debit: Some(dec("1000.00")),
            learning_period: chrono::TimeDelta::days(7),
            trusted_payees: ["rent".to_owned(), "gym".to_owned()].into(),
            velocity_count: Some(5),
            velocity_sum: Some(dec("2000.00")),
            velocity_window: chrono::TimeDelta::minutes(90),
            duplicate_window: chrono::TimeDelta::hours(2),
            expected: vec![
                super::Expected {
                    name: "salary".into(),
                    payee: None,
                    day: 25,
                    amount: dec("3000.00"),
                    late: chrono::TimeDelta::days(3),
                    change: None,
                },
                super::Expected {
                    name: "rent".into(),
                    payee: Some(("landlord co".into(), "Landlord Co".into())),
                    day: 1,
                    amount: dec("-1200.00"),
                    late: chrono::TimeDelta::days(2),
                    change: Some(dec("5")),
                },
            ],
            stale_after: Some(chrono::TimeDelta::days(3)),
            ..rules()
        };
        assert_eq!(
            super::stated_rules(&on),
            [
                "balance_drop: by 500.00 or 30% within 36h",
                "low_balance: below 100.00",
                "large_debit: 1000.00 or more",
                "new_payee: after a learning period of 7d, 2 trusted",
                "velocity: 5 debits or 2000.00 out within 90m",
                "duplicate_charge: same payee and amount within 2h",
                "missing_payment: salary: 3000.00 or more in around day 25 (3d late); rent: 1200.00 out to Landlord Co around day 1 (2d late)",
                "amount_changed: rent: beyond 5% of 1200.00",
                "stale_data: the balance date and newest booked transaction older than 3d",
            ]
        );
    }

    /// The baseline reads the past: a posting there is no news, whatever was pending.
    #[test]
    fn a_baseline_posting_is_not_judged() {
        let mut rules = rules();
        rules.large_debit = Some(dec("1000"));
        let before = pending(tx("p", 30, "-1.00", "Coffee Shop"));
        let mut history = super::History::default();
        history.known.insert(before.id.clone(), before);
        let findings = run(&rules, &history, observation("100", vec![tx("p", 30, "-1600.00", "Thief Ltd")]));
        assert!(findings.is_empty(), "{findings:?}");
    }
}
