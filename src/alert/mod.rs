//! The alert pipeline's pure core: findings become alerts with stable fingerprints.
//!
//! One ongoing problem is one alert, not one message per poll: a finding whose fingerprint is already
//! firing refreshes that alert silently; a condition (low balance, a drop) that a poll no longer finds
//! is resolved, so it can fire again later. Like `detect`, this module does no I/O and takes `now`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AccountRef, Finding, FindingKind, Severity, short_hash};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// An alert as the store keeps it: the latest finding behind it and its lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Short and stable: derived from the fingerprint, so the same problem keeps its id.
    pub id: String,
    pub fingerprint: String,
    pub state: AlertState,
    pub first_fired: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub finding: Finding,
}

impl Alert {
    pub fn kind(&self) -> FindingKind {
        self.finding.kind
    }
    pub fn severity(&self) -> Severity {
        self.finding.severity
    }
    pub fn account(&self) -> &AccountRef {
        &self.finding.account
    }
}

/// What identifies one problem: its kind, its account and the finding's own key facts.
pub fn fingerprint(finding: &Finding) -> String {
    format!("{}|{}|{}|{}", finding.kind, finding.account.source, finding.account.account, finding.key)
}

pub fn alert_id(fingerprint: &str) -> String {
    short_hash(fingerprint)[..12].to_owned()
}

/// What to store and what to say after one poll of one account.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Alerts that start firing now: these are sent.
    pub notify: Vec<Alert>,
    /// Every alert record that changed (new, refreshed or resolved): these are stored.
    pub changed: Vec<Alert>,
}

/// Decides, from the account's known alerts and this poll's findings, what fires and what resolves.
pub fn plan(known: &[Alert], findings: Vec<Finding>, now: DateTime<Utc>) -> Plan {
    let by_id: HashMap<&str, &Alert> = known.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut plan = Plan::default();
    let mut seen: Vec<String> = Vec::new();
    for finding in findings {
        let fingerprint = fingerprint(&finding);
        let id = alert_id(&fingerprint);
        if seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        match by_id.get(id.as_str()) {
            Some(existing) if existing.state == AlertState::Firing || !finding.kind.is_condition() => {
                plan.changed.push(Alert { last_seen: now, finding, ..(*existing).clone() });
            }
            _ => {
                let alert = Alert {
                    id,
                    fingerprint,
                    state: AlertState::Firing,
                    first_fired: now,
                    last_seen: now,
                    resolved_at: None,
                    finding,
                };
                plan.notify.push(alert.clone());
                plan.changed.push(alert);
            }
        }
    }
    for alert in known {
        if alert.state == AlertState::Firing && alert.kind().is_condition() && !seen.contains(&alert.id) {
            plan.changed.push(Alert { state: AlertState::Resolved, resolved_at: Some(now), ..alert.clone() });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{dec, now};
    use chrono::TimeDelta;

    fn finding(kind: FindingKind, key: &str) -> Finding {
        Finding {
            kind,
            severity: kind.default_severity(),
            account: AccountRef::new("bank", "A"),
            title: format!("{kind} {key}"),
            detail: String::new(),
            currency: "USD".into(),
            amount: Some(dec("1")),
            balance: None,
            payees: vec![],
            transaction_ids: vec![],
            threshold: None,
            observed_at: now(),
            key: key.into(),
        }
    }

    /// Runs polls in sequence, feeding each plan's changes back as the known alerts.
    fn polls(rounds: &[Vec<Finding>]) -> Vec<Vec<String>> {
        let mut known: Vec<Alert> = Vec::new();
        let mut said = Vec::new();
        for (i, findings) in rounds.iter().enumerate() {
            let plan = plan(&known, findings.clone(), now() + TimeDelta::minutes(i as i64));
            said.push(plan.notify.iter().map(|a| a.finding.title.clone()).collect());
            for changed in plan.changed {
                known.retain(|a| a.id != changed.id);
                known.push(changed);
            }
        }
        said
    }

    #[test]
    fn an_ongoing_condition_is_said_once_and_again_after_it_cleared() {
        let low = || finding(FindingKind::LowBalance, "below");
        let said = polls(&[vec![low()], vec![low()], vec![low()], vec![], vec![low()]]);
        assert_eq!(said, [vec!["low_balance below"], vec![], vec![], vec![], vec!["low_balance below"]]);
    }

    #[test]
    fn an_event_is_said_once_even_when_found_again() {
        let dup = || finding(FindingKind::DuplicateCharge, "a+b");
        let said = polls(&[vec![dup()], vec![], vec![dup()]]);
        assert_eq!(said, [vec!["duplicate_charge a+b"], vec![], vec![]]);
    }

    #[test]
    fn different_keys_are_different_alerts() {
        let said = polls(&[vec![
            finding(FindingKind::NewPayee, "x"),
            finding(FindingKind::NewPayee, "y"),
            finding(FindingKind::NewPayee, "x"),
        ]]);
        assert_eq!(said, [vec!["new_payee x", "new_payee y"]]);
    }

    #[test]
    fn resolution_is_recorded_with_its_time() {
        let first = plan(&[], vec![finding(FindingKind::BalanceDrop, "peak@1")], now());
        let later = now() + TimeDelta::minutes(5);
        let second = plan(&first.changed, vec![], later);
        assert_eq!(second.notify, vec![]);
        assert_eq!(second.changed.len(), 1);
        assert_eq!(second.changed[0].state, AlertState::Resolved);
        assert_eq!(second.changed[0].resolved_at, Some(later));
    }
}
