//! `missing_payment` and `amount_changed`: money that should come (or go) every month.
//!
//! An account's `[[account.expected]]` rules name a monthly payment: the salary around the 25th,
//! the rent on the 1st. A payment *answers* a rule when it moves money the rule's way (in for a
//! positive `amount`, out for a negative one) and, when the rule names a payee, to or from that
//! payee (by payee key, so `ACME GMBH SALARY 11/26` is `ACME GmbH`); a rule without a payee is
//! answered by money in of at least its amount.
//!
//! - `missing_payment`: the latest day the payment was due is more than `late` ago and nothing
//!   answered the rule from `late` before that day until now. Said once per due day. Days are
//!   UTC dates; a `day` past the month's end is its last day. A rule is judged only for a due day
//!   the account was watched through, from `late` before it on: an account first polled after that
//!   cannot know, and a missed alert is cheaper than a false one on the first month.
//! - `amount_changed`: a new payment answering a rule with `change` moved more than that share
//!   away from the rule's amount (a subscription's price rise, a smaller salary).

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;

use super::{Input, threshold};
use crate::model::{Finding, FindingKind, Transaction};

/// A monthly payment an account expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// What the person calls it: `salary`, `rent`.
    pub name: String,
    /// The payee's key (see [`crate::model::payee_key`]), and the name as written.
    pub payee: Option<(String, String)>,
    /// The day of the month it is due, 1 to 31.
    pub day: u32,
    /// Positive for money in (at least this much without a payee), negative for money out.
    pub amount: Decimal,
    /// How long before and after the due day a payment still answers the rule.
    pub late: TimeDelta,
    /// `amount_changed` fires beyond this share of `amount`, in percent.
    pub change: Option<Decimal>,
}

impl Expected {
    /// How far back the rule needs to see: from `late` before the latest due day past.
    pub fn lookback(&self) -> TimeDelta {
        TimeDelta::days(31) + self.late + self.late
    }

    fn answered_by(&self, tx: &Transaction) -> bool {
        let same_way = tx.amount.is_sign_positive() == self.amount.is_sign_positive() && !tx.amount.is_zero();
        same_way
            && match &self.payee {
                Some((key, _)) => tx.payee_key.contains(key.as_str()),
                None => tx.amount >= self.amount,
            }
    }

    /// The latest day it was due that is more than `late` past `now`.
    fn due_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.date_naive();
        (0..3).find_map(|back| {
            let month = today.checked_sub_months(chrono::Months::new(back))?;
            let due = due_in(month.year(), month.month(), self.day)?.and_hms_opt(0, 0, 0)?.and_utc();
            (due + self.late <= now).then_some(due)
        })
    }

    /// ` from ACME GmbH` for money in, ` to Landlord Co` for money out, or nothing.
    fn who(&self) -> String {
        match (&self.payee, self.amount.is_sign_positive()) {
            (None, _) => String::new(),
            (Some((_, shown)), true) => format!(" from {shown}"),
            (Some((_, shown)), false) => format!(" to {shown}"),
        }
    }

    fn way(&self) -> &'static str {
        if self.amount.is_sign_positive() { "in" } else { "out" }
    }
}

/// The `day` of a month, or its last day when the month is shorter.
fn due_in(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    (1..=day).rev().find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
}

pub(super) fn missing_payment(input: &Input) -> Vec<Finding> {
    let Some(watched_since) = input.history.first_poll_at else { return Vec::new() };
    let currency = &input.observation.snapshot.currency;
    input
        .rules
        .expected
        .iter()
        .filter_map(|rule| {
            let due = rule.due_before(input.now)?;
            let from = due - rule.late;
            if watched_since > from {
                return None;
            }
            if input.window(input.now - from).into_iter().any(|tx| rule.answered_by(tx)) {
                return None;
            }
            let (way, who) = (rule.way(), rule.who());
            let day = due.format("%Y-%m-%d");
            let mut finding = input.finding(
                FindingKind::MissingPayment,
                format!("{}: {} {currency}{who} due on {day} has not come", rule.name, rule.amount.abs()),
                format!(
                    "The {} of {} {currency} ({way}{who}) was due on {day}; no such payment posted between {} and now.",
                    rule.name,
                    rule.amount.abs(),
                    from.format("%Y-%m-%d"),
                ),
            );
            finding.amount = Some(rule.amount.abs());
            finding.when = Some(due);
            finding.threshold = threshold("late", crate::model::Duration(rule.late));
            finding.key = format!("{}@{day}", rule.name);
            Some(finding)
        })
        .collect()
}

pub(super) fn amount_changed(input: &Input) -> Vec<Finding> {
    let currency = &input.observation.snapshot.currency;
    let mut findings = Vec::new();
    for rule in input.rules.expected.iter().filter(|r| r.payee.is_some()) {
        let Some(share) = rule.change else { continue };
        let expected = rule.amount.abs();
        for tx in input.new.iter().filter(|tx| rule.answered_by(tx)) {
            let moved = tx.amount.abs() - expected;
            if moved.abs() * Decimal::ONE_HUNDRED <= share * expected {
                continue;
            }
            let percent = (moved * Decimal::ONE_HUNDRED / expected).round_dp(1);
            let mut finding = input.finding(
                FindingKind::AmountChanged,
                format!(
                    "{}: {} {currency}{}, not the usual {expected} ({percent:+}%)",
                    rule.name,
                    tx.amount.abs(),
                    rule.who()
                ),
                format!(
                    "{} {currency} posted at {} for {} ({}), which differs from the expected {expected} {currency} by more than {share}%.",
                    tx.amount.abs(),
                    input.rules.zone.time(tx.posted),
                    rule.name,
                    tx.payee,
                ),
            );
            finding.amount = Some(tx.amount.abs());
            finding.threshold = threshold("change", format!("{share}%"));
            findings.push(Finding { key: format!("{}|{}", rule.name, input.event_key(tx)), ..finding.citing(tx) });
        }
    }
    findings
}

/// A payment seen on about the same day of at least [`MONTHS_SEEN`] months, and how it was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurring {
    pub rule: Expected,
    pub months: usize,
    /// The earliest and latest day of the month it posted on.
    pub days: (u32, u32),
}

/// The fewest months a payment must be seen in to be suggested as recurring.
pub const MONTHS_SEEN: usize = 3;

/// Rules for the payments `transactions` show recurring: to or from one payee, one way, in at
/// least [`MONTHS_SEEN`] months, on days of the month at most a week apart. Money in is suggested
/// as "at least the smallest seen", money out as its latest amount with a 10 % `change`.
pub fn suggest(transactions: &[Transaction]) -> Vec<Recurring> {
    use std::collections::BTreeMap;
    /// The first payment of each (year, month).
    type ByMonth<'a> = BTreeMap<(i32, u32), &'a Transaction>;
    // (payee key, money in) → its payments by month.
    let mut groups: BTreeMap<(&str, bool), ByMonth> = BTreeMap::new();
    for tx in transactions.iter().filter(|tx| !tx.pending && !tx.amount.is_zero() && !tx.payee_key.is_empty()) {
        let month = (tx.posted.year(), tx.posted.month());
        let first =
            groups.entry((tx.payee_key.as_str(), tx.amount.is_sign_positive())).or_default().entry(month).or_insert(tx);
        if tx.posted < first.posted {
            *first = tx;
        }
    }
    let mut found: Vec<Recurring> = groups
        .into_values()
        .filter(|months| months.len() >= MONTHS_SEEN)
        .filter_map(|months| {
            let payments: Vec<&Transaction> = months.into_values().collect();
            let mut days: Vec<u32> = payments.iter().map(|tx| tx.posted.day()).collect();
            days.sort_unstable();
            let (first, last) = (*days.first()?, *days.last()?);
            if last - first > 7 {
                return None;
            }
            let day = days[days.len() / 2];
            let latest = payments.iter().max_by_key(|tx| tx.posted)?;
            let money_in = latest.amount.is_sign_positive();
            let amount = match money_in {
                true => payments.iter().map(|tx| tx.amount).min()?,
                false => latest.amount,
            };
            let spread = i64::from((day - first).max(last - day));
            let rule = Expected {
                name: latest.payee.clone(),
                payee: Some((latest.payee_key.clone(), latest.payee.clone())),
                day,
                amount,
                late: TimeDelta::days(spread.max(2) + 1),
                change: (!money_in).then_some(Decimal::TEN),
            };
            Some(Recurring { rule, months: payments.len(), days: (first, last) })
        })
        .collect();
    found.sort_by(|a, b| b.months.cmp(&a.months).then_with(|| a.rule.name.cmp(&b.rule.name)));
    found
}

/// `salary: 3000.00 or more in around day 25 (3d late)`, one per rule, or `off`.
pub(super) fn missing_payment_rule(rules: &super::Rules) -> String {
    if rules.expected.is_empty() {
        return super::OFF.to_owned();
    }
    let each = rules.expected.iter().map(|rule| {
        let at_least = if rule.amount.is_sign_positive() && rule.payee.is_none() { " or more" } else { "" };
        format!(
            "{}: {}{at_least} {}{} around day {} ({} late)",
            rule.name,
            rule.amount.abs(),
            rule.way(),
            rule.who(),
            rule.day,
            crate::model::Duration(rule.late)
        )
    });
    each.collect::<Vec<_>>().join("; ")
}

/// `rent: beyond 10% of 1200.00`, one per rule with a `change`, or `off`.
pub(super) fn amount_changed_rule(rules: &super::Rules) -> String {
    let each: Vec<String> = rules
        .expected
        .iter()
        .filter_map(|rule| Some(format!("{}: beyond {}% of {}", rule.name, rule.change?, rule.amount.abs())))
        .collect();
    if each.is_empty() { super::OFF.to_owned() } else { each.join("; ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::*;
    use crate::model::payee_key;

    fn salary(payee: Option<&str>) -> Expected {
        Expected {
            name: "salary".into(),
            payee: payee.map(|p| (payee_key(p), p.to_owned())),
            day: 25,
            amount: dec("3000"),
            late: TimeDelta::days(3),
            change: Some(dec("10")),
        }
    }

    fn rent() -> Expected {
        Expected {
            name: "rent".into(),
            payee: Some((payee_key("Landlord Co"), "Landlord Co".into())),
            day: 1,
            amount: dec("-1200"),
            late: TimeDelta::days(2),
            change: Some(dec("5")),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a time").with_timezone(&Utc)
    }

    fn paid(id: &str, when: &str, amount: &str, payee: &str) -> Transaction {
        Transaction { posted: at(when), ..tx(id, 0, amount, payee) }
    }

    /// The findings of `kind` for an account watched since November, judged at `now`.
    fn judged(
        rule: Expected,
        recent: Vec<Transaction>,
        new: Vec<Transaction>,
        now: &str,
        kind: FindingKind,
    ) -> Vec<Finding> {
        let mut rules = rules();
        rules.expected = vec![rule];
        let history = crate::detect::History {
            first_poll_at: Some(at("2026-11-01T00:00:00Z")),
            recent,
            ..crate::detect::History::default()
        };
        let mut observation = observation("100", new);
        observation.snapshot.observed_at = at(now);
        crate::detect::detect(&rules, &history, &observation, at(now)).into_iter().filter(|f| f.kind == kind).collect()
    }

    #[test]
    fn missing_payment_table() {
        use FindingKind::MissingPayment;
        // (rule, transactions seen, now, fires)
        let cases: Vec<(Expected, Vec<Transaction>, &str, bool)> = vec![
            // Not yet late: due on the 25th, three days allowed.
            (salary(Some("ACME GmbH")), vec![], "2026-11-27T12:00:00Z", false),
            (salary(Some("ACME GmbH")), vec![], "2026-11-28T00:00:00Z", true),
            (
                salary(Some("ACME GmbH")),
                vec![paid("s", "2026-11-25T08:00:00Z", "3000", "ACME GMBH SALARY 11/26")],
                "2026-11-29T00:00:00Z",
                false,
            ),
            // Early counts, within `late` before the day.
            (
                salary(Some("ACME GmbH")),
                vec![paid("s", "2026-11-23T08:00:00Z", "3000", "ACME GmbH")],
                "2026-11-29T00:00:00Z",
                false,
            ),
            // Last month's salary does not answer this month's.
            (
                salary(Some("ACME GmbH")),
                vec![paid("s", "2026-10-25T08:00:00Z", "3000", "ACME GmbH")],
                "2026-11-29T00:00:00Z",
                true,
            ),
            // Another payer, or money the other way, does not answer it.
            (
                salary(Some("ACME GmbH")),
                vec![paid("s", "2026-11-25T08:00:00Z", "3000", "Other Ltd")],
                "2026-11-29T00:00:00Z",
                true,
            ),
            (
                salary(Some("ACME GmbH")),
                vec![paid("s", "2026-11-25T08:00:00Z", "-3000", "ACME GmbH")],
                "2026-11-29T00:00:00Z",
                true,
            ),
            // Without a payee, money in of at least the amount answers it, less does not.
            (
                salary(None),
                vec![paid("s", "2026-11-25T08:00:00Z", "3000.00", "Whoever")],
                "2026-11-29T00:00:00Z",
                false,
            ),
            (salary(None), vec![paid("s", "2026-11-25T08:00:00Z", "2999.99", "Whoever")], "2026-11-29T00:00:00Z", true),
            // Rent, money out on the 1st.
            (rent(), vec![], "2026-12-03T00:00:00Z", true),
            (
                rent(),
                vec![paid("r", "2026-12-01T06:00:00Z", "-1200", "LANDLORD CO RENT")],
                "2026-12-03T00:00:00Z",
                false,
            ),
        ];
        for (i, (rule, seen, now, fires)) in cases.into_iter().enumerate() {
            let found = judged(rule, seen, vec![], now, MissingPayment);
            assert_eq!(found.len(), usize::from(fires), "case {i}: {found:?}");
        }
    }

    #[test]
    fn a_missing_payment_names_its_due_day_and_a_new_payment_answers_it() {
        let found =
            judged(salary(Some("ACME GmbH")), vec![], vec![], "2026-11-29T00:00:00Z", FindingKind::MissingPayment);
        assert_eq!(found[0].key, "salary@2026-11-25");
        assert_eq!(found[0].title, "salary: 3000 USD from ACME GmbH due on 2026-11-25 has not come");
        let paid_now = vec![paid("s", "2026-11-28T09:00:00Z", "3000", "ACME GmbH")];
        assert!(
            judged(salary(Some("ACME GmbH")), vec![], paid_now, "2026-11-29T00:00:00Z", FindingKind::MissingPayment)
                .is_empty()
        );
    }

    #[test]
    fn an_account_not_watched_through_the_due_day_is_not_judged() {
        let mut rules = rules();
        rules.expected = vec![salary(Some("ACME GmbH"))];
        let history = crate::detect::History { first_poll_at: Some(at("2026-11-24T00:00:00Z")), ..Default::default() };
        let mut observation = observation("100", vec![]);
        observation.snapshot.observed_at = at("2026-11-29T00:00:00Z");
        let found = crate::detect::detect(&rules, &history, &observation, at("2026-11-29T00:00:00Z"));
        assert!(found.iter().all(|f| f.kind != FindingKind::MissingPayment), "{found:?}");
    }

    #[test]
    fn a_day_past_the_months_end_is_its_last_day() {
        assert_eq!(due_in(2026, 2, 31), NaiveDate::from_ymd_opt(2026, 2, 28));
        assert_eq!(due_in(2028, 2, 30), NaiveDate::from_ymd_opt(2028, 2, 29));
        assert_eq!(due_in(2026, 4, 31), NaiveDate::from_ymd_opt(2026, 4, 30));
    }

    #[test]
    fn monthly_payments_are_suggested_and_the_rest_is_not() {
        let mut seen = Vec::new();
        for (month, day, coffee) in [(8, 24, 3), (9, 25, 17), (10, 27, 9), (11, 25, 28)] {
            seen.push(paid(
                &format!("s{month}"),
                &format!("2026-{month:02}-{day:02}T08:00:00Z"),
                "3000.00",
                "ACME GmbH",
            ));
            seen.push(paid(&format!("r{month}"), &format!("2026-{month:02}-01T06:00:00Z"), "-1200.00", "Landlord Co"));
            // The same shop on scattered days is not a monthly payment.
            seen.push(paid(&format!("c{month}"), &format!("2026-{month:02}-{coffee:02}T06:00:00Z"), "-4.50", "Cafe"));
        }
        // A raise: money in is suggested at the smallest seen, money out at its latest amount.
        seen.push(paid("s12", "2026-12-25T08:00:00Z", "3100.00", "ACME GmbH"));
        seen.push(paid("r12", "2026-12-01T06:00:00Z", "-1250.00", "Landlord Co"));
        // Twice is not yet recurring.
        seen.push(paid("g1", "2026-11-10T06:00:00Z", "-30.00", "Gym"));
        seen.push(paid("g2", "2026-12-10T06:00:00Z", "-30.00", "Gym"));
        let found = suggest(&seen);
        let got: Vec<String> = found
            .iter()
            .map(|r| {
                let rule = &r.rule;
                let change = rule.change.map(|c| format!(" change {c}")).unwrap_or_default();
                format!(
                    "{} day {} {} late {}{change}, {} months",
                    rule.name,
                    rule.day,
                    rule.amount,
                    rule.late.num_days(),
                    r.months
                )
            })
            .collect();
        assert_eq!(
            got,
            ["ACME GmbH day 25 3000.00 late 3, 5 months", "Landlord Co day 1 -1250.00 late 3 change 10, 5 months"]
        );
    }

    #[test]
    fn amount_changed_table() {
        use FindingKind::AmountChanged;
        // (rule, new payment, fires)
        let cases = [
            (rent(), paid("r", "2026-12-01T06:00:00Z", "-1200", "Landlord Co"), false),
            (rent(), paid("r", "2026-12-01T06:00:00Z", "-1260", "Landlord Co"), false), // exactly 5%
            (rent(), paid("r", "2026-12-01T06:00:00Z", "-1260.01", "Landlord Co"), true),
            (rent(), paid("r", "2026-12-01T06:00:00Z", "-1000", "Landlord Co"), true),
            (rent(), paid("r", "2026-12-01T06:00:00Z", "-1500", "Someone Else"), false),
            (salary(Some("ACME GmbH")), paid("s", "2026-11-25T06:00:00Z", "2500", "ACME GmbH"), true),
            (Expected { change: None, ..rent() }, paid("r", "2026-12-01T06:00:00Z", "-1500", "Landlord Co"), false),
        ];
        for (i, (rule, payment, fires)) in cases.into_iter().enumerate() {
            let found = judged(rule, vec![], vec![payment], "2026-12-02T00:00:00Z", AmountChanged);
            assert_eq!(found.len(), usize::from(fires), "case {i}: {found:?}");
        }
        let found = judged(
            rent(),
            vec![],
            vec![paid("r", "2026-12-01T06:00:00Z", "-1300", "Landlord Co")],
            "2026-12-02T00:00:00Z",
            AmountChanged,
        );
        assert_eq!(found[0].title, "rent: 1300 USD to Landlord Co, not the usual 1200 (+8.3%)");
    }
}
