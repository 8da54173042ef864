//! Scripts: the story the simulator tells, step by step.

use rust_decimal::Decimal;

#[derive(Debug, Clone)]
pub struct Script {
    pub accounts: Vec<ScriptAccount>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct ScriptAccount {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub opening_balance: Decimal,
}

/// What happens between two polls.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Shown by the demo as the step is played.
    pub caption: String,
    pub events: Vec<Event>,
}

/// One payment (negative) or deposit (positive).
#[derive(Debug, Clone)]
pub struct Event {
    pub account: String,
    pub amount: Decimal,
    pub payee: String,
    pub description: String,
    /// How long before the step is applied the payment posted.
    pub minutes_ago: i64,
    /// Pending: listed, but not in the balance until an event with its id posts it.
    pub pending: bool,
    /// The transaction's id. `None` gives it a new one (`{account}-s{step}-{index}`); the id of an
    /// earlier event's transaction replaces that one: a pending charge posting, perhaps for another
    /// amount or to another payee.
    pub id: Option<String>,
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn pay(payee: &str, cents: i64, minutes_ago: i64, description: &str) -> Event {
    Event {
        account: "ACT-1".into(),
        amount: money(cents),
        payee: payee.into(),
        description: description.into(),
        minutes_ago,
        pending: false,
        id: None,
    }
}

/// The demo's incident: a normal day, then a theft burst to new payees, then a double charge.
pub fn demo_script() -> Script {
    Script {
        accounts: vec![ScriptAccount {
            id: "ACT-1".into(),
            name: "Everyday Wallet".into(),
            currency: "USD".into(),
            opening_balance: money(100_000),
        }],
        steps: vec![
            Step {
                caption: "Baseline: the account's recent history (salary, rent, groceries)".into(),
                events: vec![
                    pay("ACME Corp Payroll", 320_000, 600, "Salary"),
                    pay("Landlord Co", -140_000, 580, "Rent"),
                    pay("Grocer's Market", -4_520, 300, "Card payment"),
                    pay("City Transit", -1_200, 240, "Metro card top-up"),
                    pay("Power & Light", -8_000, 200, "Electricity bill"),
                ],
            },
            Step {
                caption: "Normal spending at known places".into(),
                events: vec![pay("Grocer's Market", -3_810, 1, "Card payment")],
            },
            Step { caption: "A quiet interval".into(), events: vec![] },
            Step {
                caption: "Theft: a burst of payments to payees never seen before".into(),
                events: vec![
                    pay("QuickCash Transfer", -48_000, 4, "Online transfer"),
                    pay("GiftCard Hub", -65_000, 3, "Gift cards"),
                    pay("Crypto Swap Ltd", -72_000, 2, "Exchange deposit"),
                    pay("QuickCash Transfer", -30_000, 1, "Online transfer"),
                ],
            },
            Step {
                caption: "A merchant charges the same amount twice".into(),
                events: vec![
                    pay("Grocer's Market", -2_999, 2, "Card payment"),
                    pay("Grocer's Market", -2_999, 1, "Card payment"),
                ],
            },
            Step { caption: "Nothing new: ongoing problems are not repeated".into(), events: vec![] },
        ],
    }
}
