//! The words of an alert: a title, the facts, and what to do next.

use std::fmt::Write as _;

use crate::alert::Alert;
use crate::model::FindingKind;

/// An alert as text.
pub struct Rendered {
    pub title: String,
    pub body: String,
}

pub fn render(alert: &Alert) -> Rendered {
    let f = &alert.finding;
    let title = format!("[{}] {}: {}", f.severity, f.account.account, f.title);
    let mut body = String::new();
    let _ = writeln!(body, "{}", f.detail);
    if let Some(balance) = f.balance {
        let _ = writeln!(body, "Balance now: {balance} {}", f.currency);
    }
    if !f.payees.is_empty() {
        let _ = writeln!(body, "Payees: {}", f.payees.join(", "));
    }
    if !f.transaction_ids.is_empty() {
        let _ = writeln!(body, "Transactions: {}", f.transaction_ids.join(", "));
    }
    if let Some(t) = &f.threshold {
        let _ = writeln!(body, "Fired by: {} = {}", t.key, t.value);
    }
    let _ = writeln!(body, "What to do: {}", advice(f.kind));
    let _ = write!(body, "Alert {} · {} · {}", alert.id, f.kind, f.observed_at.format("%Y-%m-%d %H:%M:%S UTC"));
    Rendered { title, body }
}

/// The first steps for each kind of trouble.
pub fn advice(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::BalanceDrop | FindingKind::Velocity | FindingKind::NewPayee => {
            "if you do not recognise these payments, call your platform's support now and ask them to freeze the account; then change your password and turn on two-factor login."
        }
        FindingKind::LargeDebit => "if you did not make this payment, call your platform's support and dispute it.",
        FindingKind::DuplicateCharge => {
            "ask the merchant to refund the second charge; if they refuse, dispute it with your platform."
        }
        FindingKind::LowBalance => "top up the account before payments bounce.",
    }
}
