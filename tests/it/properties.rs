//! Properties of ingest and detection over generated polls: what must hold for every input, not
//! just the examples the table tests chose.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use payguard::detect::{History, Rules, detect};
use payguard::model::{AccountRef, AccountStatus, Observation, Snapshot, Transaction, payee_key};
use payguard::store::Store;
use proptest::prelude::*;
use rust_decimal::Decimal;

const PAYEES: &[&str] = &["Grocer", "GROCER", "Landlord Co", "Stranger", "Crypto Swap", "Coffee"];

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time")
}

fn transactions() -> impl Strategy<Value = Vec<Transaction>> {
    prop::collection::vec((0i64..600, -50_000i64..20_000, 0..PAYEES.len(), any::<bool>()), 0..24).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (minutes, cents, payee, pending))| Transaction {
                id: format!("t{i}"),
                posted: now() - TimeDelta::minutes(minutes),
                amount: Decimal::new(if cents == 0 { -1 } else { cents }, 2),
                payee: PAYEES[payee].into(),
                payee_key: payee_key(PAYEES[payee]),
                description: String::new(),
                pending,
            })
            .collect()
    })
}

fn observation(balance_cents: i64, transactions: Vec<Transaction>) -> Observation {
    Observation {
        account: AccountRef::new("bank", "A"),
        name: None,
        snapshot: Snapshot {
            observed_at: now(),
            balance: Decimal::new(balance_cents, 2),
            available: None,
            currency: "USD".into(),
            status: AccountStatus::Active,
            card_expiry: None,
            as_of: None,
        },
        transactions,
        balance: payguard::model::BalanceSource::Platform,
    }
}

fn strict_rules() -> Rules {
    Rules {
        min_balance: Some(Decimal::new(10_000, 2)),
        drop_abs: Some(Decimal::new(50_000, 2)),
        large_debit: Some(Decimal::new(20_000, 2)),
        learning_period: TimeDelta::zero(),
        velocity_count: Some(3),
        velocity_sum: Some(Decimal::new(100_000, 2)),
        ..Rules::default()
    }
}

fn learned(earlier: &[Transaction], balance_cents: i64) -> History {
    History {
        first_poll_at: Some(now() - TimeDelta::days(30)),
        snapshots: vec![observation(balance_cents, vec![]).snapshot]
            .into_iter()
            .map(|mut s| {
                s.observed_at = now() - TimeDelta::hours(2);
                s
            })
            .collect(),
        previous: None,
        recent: earlier.to_vec(),
        known: earlier.iter().map(|t| (t.id.clone(), t.clone())).collect(),
        known_payees: earlier.iter().map(|t| t.payee_key.clone()).collect(),
    }
}

fn summary(findings: &[payguard::model::Finding]) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<_> =
        findings.iter().map(|f| (f.kind.to_string(), f.key.clone(), f.transaction_ids.clone())).collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Ingesting the same poll again changes nothing that is stored.
    #[test]
    fn ingesting_a_poll_twice_changes_nothing(txs in transactions(), balance in -10_000i64..1_000_000) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        let obs = observation(balance, txs.clone());
        let first = store.ingest(&obs, &[], &[], now()).expect("ingest");
        prop_assert_eq!(first.new_transactions, txs.len());
        let since = now() - TimeDelta::days(1);
        let account = AccountRef::new("bank", "A");
        let before = (
            store.snapshots_between(&account, since, None).expect("read"),
            store.transactions_between(&account, since, None).expect("read"),
            store.payees(&account).expect("read"),
        );
        let second = store.ingest(&obs, &[], &[], now()).expect("ingest");
        prop_assert_eq!(second.new_transactions + second.updated_transactions, 0);
        let after = (
            store.snapshots_between(&account, since, None).expect("read"),
            store.transactions_between(&account, since, None).expect("read"),
            store.payees(&account).expect("read"),
        );
        prop_assert_eq!(&before, &after);
        let counted: u64 = after.2.iter().map(|p| p.count).sum();
        prop_assert_eq!(counted as usize, txs.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The order a source lists transactions in does not change what is found.
    #[test]
    fn findings_do_not_depend_on_listing_order(earlier in transactions(), txs in transactions(), balance in -10_000i64..1_000_000) {
        let earlier: Vec<Transaction> = earlier.into_iter().map(|mut t| { t.id = format!("old-{}", t.id); t }).collect();
        let history = learned(&earlier, 200_000);
        let mut reversed = txs.clone();
        reversed.reverse();
        let a = detect(&strict_rules(), &history, &observation(balance, txs), now());
        let b = detect(&strict_rules(), &history, &observation(balance, reversed), now());
        prop_assert_eq!(summary(&a), summary(&b));
    }

    /// The baseline poll is the account's past: only its current balance can be a finding.
    #[test]
    fn a_baseline_poll_reports_at_most_the_balance(txs in transactions(), balance in -10_000i64..1_000_000) {
        let findings = detect(&strict_rules(), &History::default(), &observation(balance, txs), now());
        for f in &findings {
            prop_assert_eq!(f.kind, payguard::model::FindingKind::LowBalance);
        }
        prop_assert_eq!(findings.len(), usize::from(balance < 10_000));
    }

    /// Trusting a payee can silence findings, never add them.
    #[test]
    fn trust_only_removes_findings(txs in transactions(), trusted in prop::sample::subsequence(PAYEES.to_vec(), 0..PAYEES.len())) {
        let history = learned(&[], 200_000);
        let plain = detect(&strict_rules(), &history, &observation(150_000, txs.clone()), now());
        let mut rules = strict_rules();
        rules.trusted_payees = trusted.iter().map(|p| payee_key(p)).collect::<HashSet<_>>();
        let trusting = detect(&rules, &history, &observation(150_000, txs), now());
        let plain = summary(&plain);
        for finding in summary(&trusting) {
            prop_assert!(plain.contains(&finding), "{:?} appeared only with trust", finding);
        }
    }

    /// Every debit-based finding names only transactions that are debits.
    #[test]
    fn findings_cite_real_debits(txs in transactions()) {
        let history = learned(&[], 200_000);
        let findings = detect(&strict_rules(), &history, &observation(150_000, txs.clone()), now());
        for f in findings.iter().filter(|f| !f.transaction_ids.is_empty()) {
            for id in &f.transaction_ids {
                let tx = txs.iter().find(|t| &t.id == id);
                prop_assert!(tx.is_some_and(Transaction::is_debit), "{} cites {} which is not a debit", f.kind, id);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A poll whose posted transactions explain the balance's move never raises unexplained_change;
    /// leaving any one of them out (of more than the tolerance) always does.
    #[test]
    fn reconciliation_fires_exactly_when_a_transaction_is_missing(
        txs in transactions(),
        before in -100_000i64..10_000_000,
        missing in any::<prop::sample::Index>(),
    ) {
        let posted: Vec<Transaction> = txs.into_iter().filter(|t| !t.pending).collect();
        let moved: Decimal = posted.iter().map(|t| t.amount).sum();
        let mut history = learned(&[], before);
        history.known.clear();
        history.previous = Some(observation(before, vec![]).snapshot);
        let after = Decimal::new(before, 2) + moved;
        let explained = observation(0, posted.clone());
        let explained = Observation { snapshot: Snapshot { balance: after, ..explained.snapshot }, ..explained };
        let kinds = |findings: Vec<payguard::model::Finding>| findings.into_iter().map(|f| f.kind).collect::<Vec<_>>();
        let reconcile = payguard::model::FindingKind::UnexplainedChange;
        // No tolerance: decimals are exact, so an explained move matches to the cent.
        let rules = Rules { tolerance: Decimal::ZERO, ..strict_rules() };
        prop_assert!(!kinds(detect(&rules, &history, &explained, now())).contains(&reconcile));
        if !posted.is_empty() {
            let mut partial = explained.clone();
            partial.transactions.remove(missing.index(posted.len()));
            // Every generated amount is at least a cent, more than no tolerance: so it must fire.
            prop_assert!(kinds(detect(&rules, &history, &partial, now())).contains(&reconcile));
        }
    }
}

/// What the store knows after ingesting `seen`: they are known, recent, and their payees learned.
fn after_seeing(history: &History, seen: &[Transaction]) -> History {
    let mut after = history.clone();
    after.known.extend(seen.iter().map(|t| (t.id.clone(), t.clone())));
    after.known_payees.extend(seen.iter().map(|t| t.payee_key.clone()));
    after.recent.extend(seen.iter().cloned());
    after
}

fn posted(txs: Vec<Transaction>) -> Vec<Transaction> {
    txs.into_iter().map(|t| Transaction { pending: false, ..t }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A charge seen pending and then posted unchanged never yields more alerts than seeing it
    /// posted once: the posting was judged when it was pending.
    #[test]
    fn a_pending_charge_that_posts_unchanged_is_said_once(txs in transactions(), balance in -10_000i64..1_000_000) {
        let history = learned(&[], 200_000);
        let posted = posted(txs);
        let pending: Vec<Transaction> = posted.iter().map(|t| Transaction { pending: true, ..t.clone() }).collect();
        let once = detect(&strict_rules(), &history, &observation(balance, posted.clone()), now());
        let first = detect(&strict_rules(), &history, &observation(balance, pending.clone()), now());
        let second = detect(&strict_rules(), &after_seeing(&history, &pending), &observation(balance, posted), now());
        let alerts = |findings: &[payguard::model::Finding]| -> HashSet<(String, String)> {
            findings.iter().map(|f| (f.kind.to_string(), f.key.clone())).collect()
        };
        let twice: HashSet<_> = alerts(&first).union(&alerts(&second)).cloned().collect();
        prop_assert!(twice.is_subset(&alerts(&once)), "{:?} beyond {:?}", twice, alerts(&once));
    }

    /// A small pending hold that posts for what it really was, to whom it really went, raises the
    /// large_debit and new_payee findings that seeing the posting at once would raise.
    #[test]
    fn a_charge_that_posts_changed_is_judged_on_what_posted(earlier in transactions(), txs in transactions()) {
        let earlier: Vec<Transaction> = posted(earlier).into_iter().map(|t| Transaction { id: format!("old-{}", t.id), ..t }).collect();
        let history = learned(&earlier, 200_000);
        let posted = posted(txs);
        let holds: Vec<Transaction> = posted
            .iter()
            .map(|t| Transaction {
                amount: Decimal::new(-1, 2),
                payee: "Card Hold".into(),
                payee_key: payee_key("Card Hold"),
                pending: true,
                ..t.clone()
            })
            .collect();
        let once = detect(&strict_rules(), &history, &observation(150_000, posted.clone()), now());
        let after = detect(&strict_rules(), &after_seeing(&history, &holds), &observation(150_000, posted), now());
        let judged = |findings: &[payguard::model::Finding]| -> Vec<(String, Vec<String>, Vec<String>)> {
            let mut out: Vec<_> = findings
                .iter()
                .filter(|f| matches!(f.kind, payguard::model::FindingKind::LargeDebit | payguard::model::FindingKind::NewPayee))
                .map(|f| (f.kind.to_string(), f.transaction_ids.clone(), f.payees.clone()))
                .collect();
            out.sort();
            out
        };
        prop_assert_eq!(judged(&after), judged(&once));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any text is a payee some bank may send: its key never panics, and case and runs of spaces
    /// never change it.
    #[test]
    fn payee_keys_ignore_case_and_spacing(raw in "[A-Za-z0-9*•x# /.-]{0,40}", any in ".{0,40}") {
        let _ = payee_key(&any);
        prop_assert_eq!(payee_key(&raw.to_ascii_uppercase()), payee_key(&raw));
        prop_assert_eq!(payee_key(&raw.replace(' ', "  ")), payee_key(&raw));
    }
}
