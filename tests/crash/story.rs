//! The crash suite's story: a long simulator script, drawn from the seed, that keeps alerts firing
//! in every round (payments to new payees, double charges, large drops and their refunds), and what
//! it owes: every transaction it makes, and the event alerts that must reach the receiver whatever
//! the crashes did.
//!
//! The balance stays level between large drops (the account's payroll pays back each step's small
//! debits), so `balance_drop` fires on each drop of 600.00 and resolves on its refund rather than
//! drifting into one endless condition.

use std::collections::{BTreeMap, HashSet};

use payguard::sim::{Event, Script, ScriptAccount, Step};
use rust_decimal::Decimal;

use super::rng::Rng;

pub const ACCOUNT: &str = "ACT-1";
const KNOWN_SHOP: &str = "Corner Shop";
const PAYROLL: &str = "ACME Corp Payroll";

/// An event alert the script makes certain, unless the baseline poll swallowed its transactions.
#[derive(Clone, Debug)]
pub struct Owed {
    /// `new_payee` or `duplicate_charge`.
    pub kind: &'static str,
    /// The transactions the alert names: one payment to a new payee, or the two halves of a double
    /// charge.
    pub transaction_ids: Vec<String>,
}

pub struct Story {
    pub script: Script,
    /// Every transaction the script makes: id → (amount, payee).
    pub transactions: BTreeMap<String, (Decimal, String)>,
    owed: Vec<Owed>,
    pub large_drops: usize,
}

impl Story {
    /// The event alerts owed once the baseline (the account's first stored poll, whose transactions
    /// are its past and raise no events) is known.
    pub fn owed_after(&self, baseline: &HashSet<String>) -> Vec<Owed> {
        self.owed.iter().filter(|o| !o.transaction_ids.iter().all(|id| baseline.contains(id))).cloned().collect()
    }
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn event(payee: &str, cents: i64, minutes_ago: i64) -> Event {
    Event {
        account: ACCOUNT.into(),
        amount: money(cents),
        payee: payee.into(),
        description: if cents < 0 { "Card payment" } else { "Transfer in" }.into(),
        minutes_ago,
        pending: false,
        id: None,
    }
}

/// One step being written: its events and the ids the simulator will give them.
struct StepBuilder {
    number: usize,
    events: Vec<Event>,
    small_debits: i64,
}

impl StepBuilder {
    /// Adds `event` and returns the id the simulator gives it (`{account}-s{step}-{index}`).
    fn push(&mut self, event: Event, story: &mut BTreeMap<String, (Decimal, String)>) -> String {
        let id = format!("{ACCOUNT}-s{}-{}", self.number, self.events.len());
        story.insert(id.clone(), (event.amount, event.payee.clone()));
        self.events.push(event);
        id
    }
}

/// A story of `steps` steps after the baseline. Payee names carry the step as a word with letters
/// (`n17`), because `payee_key` takes a bare number after the name for a reference.
pub fn story(steps: usize, rng: &mut Rng) -> Story {
    let mut transactions = BTreeMap::new();
    let mut owed = Vec::new();
    let mut all_steps = Vec::new();
    let mut baseline = StepBuilder { number: 0, events: Vec::new(), small_debits: 0 };
    for e in [
        event(PAYROLL, 320_000, 600),
        event("Landlord Co", -140_000, 580),
        // Below the amounts of the double charges (10.01 and up), so no third charge joins a pair.
        event(KNOWN_SHOP, -875, 300),
        event("City Transit", -1_500, 240),
    ] {
        baseline.push(e, &mut transactions);
    }
    all_steps.push(Step { caption: "baseline".into(), events: baseline.events });

    // The second half of a double charge that lands one step later than the first.
    let mut carried: Option<(String, i64)> = None;
    // A large drop waiting for its refund.
    let mut outstanding: Option<String> = None;
    let mut large_drops = 0;
    for number in 1..=steps {
        let mut step = StepBuilder { number, events: Vec::new(), small_debits: 0 };
        if let Some((first, cents)) = carried.take() {
            let second = step.push(event(KNOWN_SHOP, -cents, 0), &mut transactions);
            step.small_debits += cents;
            owed.push(Owed { kind: "duplicate_charge", transaction_ids: vec![first, second] });
        }
        if rng.chance(70) {
            let cents = rng.between(500, 8_000) as i64;
            let id = step.push(event(&format!("Stranger n{number}"), -cents, 1), &mut transactions);
            step.small_debits += cents;
            owed.push(Owed { kind: "new_payee", transaction_ids: vec![id] });
        }
        if rng.chance(25) {
            // A unique amount, so halves of different double charges never pair up.
            let cents = 1_000 + number as i64;
            let first = step.push(event(KNOWN_SHOP, -cents, 1), &mut transactions);
            step.small_debits += cents;
            if rng.chance(30) && number < steps {
                carried = Some((first, cents));
            } else {
                let second = step.push(event(KNOWN_SHOP, -cents, 0), &mut transactions);
                step.small_debits += cents;
                owed.push(Owed { kind: "duplicate_charge", transaction_ids: vec![first, second] });
            }
        }
        match outstanding.take() {
            None if rng.chance(12) => {
                let payee = format!("Big Payee n{number}");
                let id = step.push(event(&payee, -60_000, 0), &mut transactions);
                owed.push(Owed { kind: "new_payee", transaction_ids: vec![id] });
                outstanding = Some(payee);
                large_drops += 1;
            }
            Some(payee) if rng.chance(40) => {
                step.push(event(&payee, 60_000, 0), &mut transactions);
            }
            other => outstanding = other,
        }
        if step.small_debits > 0 {
            let cents = step.small_debits;
            step.push(event(PAYROLL, cents, 0), &mut transactions);
        }
        all_steps.push(Step { caption: format!("step {number}"), events: step.events });
    }
    let script = Script {
        accounts: vec![ScriptAccount {
            id: ACCOUNT.into(),
            name: "Crash Test Account".into(),
            currency: "USD".into(),
            opening_balance: money(1_000_000),
        }],
        steps: all_steps,
    };
    Story { script, transactions, owed, large_drops }
}
