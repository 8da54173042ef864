//! The alert pipeline's pure core: findings become alerts with stable fingerprints, alerts become
//! notices (firing, repeat, resolved), notices become deliveries routed to channels.
//!
//! One ongoing problem is one alert, not one message per poll: a finding whose fingerprint is already
//! firing refreshes that alert silently; a condition (low balance, a drop) that a poll no longer finds
//! is resolved, so it can fire again later. Like `detect`, this module does no I/O and takes `now`.

pub mod outbox;
mod policy;
mod silence;

use std::collections::HashMap;

pub use outbox::{Delivery, DeliveryRecord, NoticeEvent};
pub use policy::{GroupBy, Policy, QuietHours, Route};
pub use silence::{Silence, is_silenced};

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
    /// Set by `payguard ack`: a person has seen it, so it is not repeated.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When a message about it last became owed; `None` while silenced since it fired.
    #[serde(default)]
    pub last_notified: Option<DateTime<Utc>>,
    /// The incident it was said in (`i-…`), given when it fires; `None` without `group_by`.
    #[serde(default)]
    pub incident: Option<String>,
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

    /// A new alert for `finding`, firing from `now`, not yet said.
    pub fn firing(finding: Finding, now: DateTime<Utc>) -> Alert {
        let fingerprint = fingerprint(&finding);
        Alert {
            id: alert_id(&fingerprint),
            fingerprint,
            state: AlertState::Firing,
            first_fired: now,
            last_seen: now,
            resolved_at: None,
            acknowledged_at: None,
            last_notified: None,
            incident: None,
            finding,
        }
    }

    /// Whether it still gathers new findings into its incident: while it is firing and no one
    /// has acknowledged it. An event never resolves, so it holds its incident open only for
    /// `repeat_interval` after it fired, the time a condition would go unrepeated; a payment of
    /// last month must not gather today's findings.
    fn holds_incident_open(&self, now: DateTime<Utc>, policy: &Policy) -> bool {
        self.state == AlertState::Firing
            && self.acknowledged_at.is_none()
            && (self.kind().is_condition() || now - self.first_fired < policy.repeat_interval)
    }
}

/// The incident a newly firing alert joins: the open incident of its group among `alerts`, or a new
/// one. Every alert planned together shares one scope, which is the group of `group_by = ["account"]`.
fn incident_for(alerts: &[&Alert], scope: &AccountRef, now: DateTime<Utc>, policy: &Policy) -> Option<String> {
    if policy.group_by.is_empty() {
        return None;
    }
    let open = alerts.iter().filter(|a| a.holds_incident_open(now, policy)).find_map(|a| a.incident.clone());
    Some(open.unwrap_or_else(|| incident_id(scope, now)))
}

/// `i-` and ten hex digits of the group and the moment it opened: short enough to type in
/// `payguard ack`, and the same group opening later is another incident.
pub fn incident_id(scope: &AccountRef, opened: DateTime<Utc>) -> String {
    let hash =
        short_hash(&format!("{}|{}|{}", scope.source, scope.account, opened.timestamp_nanos_opt().unwrap_or_default()));
    format!("i-{}", &hash[..10])
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
    /// Every alert record that changed (new, refreshed, notified or resolved): these are stored.
    pub changed: Vec<Alert>,
    /// The messages now owed, each with the alert as it stands.
    pub notices: Vec<(Alert, NoticeEvent)>,
}

/// Decides, from the account's known alerts and this poll's findings, what fires, what is said
/// again, and what resolves.
///
/// - A new finding, or a condition that had resolved, fires (and is said unless silenced).
/// - A firing condition, unacknowledged, is said again once `repeat_interval` has passed since it
///   was last said; an event (a payment) is said once.
/// - A firing condition that this poll no longer finds resolves, and is said if it had been said.
/// - An alert that starts firing joins the open incident of its scope, or opens one (`group_by`);
///   one that goes on firing keeps its incident.
pub fn plan(
    known: &[Alert],
    findings: Vec<Finding>,
    now: DateTime<Utc>,
    policy: &Policy,
    silences: &[Silence],
) -> Plan {
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
        let silenced = is_silenced(silences, &finding, now);
        let (mut alert, event) = match by_id.get(id.as_str()) {
            Some(existing) if existing.state == AlertState::Firing || !finding.kind.is_condition() => {
                let alert = Alert { last_seen: now, finding, ..(*existing).clone() };
                let event = match alert.last_notified {
                    None => Some(NoticeEvent::Firing),
                    Some(last)
                        if alert.kind().repeats()
                            && alert.state == AlertState::Firing
                            && alert.acknowledged_at.is_none()
                            && now - last >= policy.repeat_interval =>
                    {
                        Some(NoticeEvent::Repeat)
                    }
                    Some(_) => None,
                };
                (alert, event)
            }
            _ => {
                let mut alert = Alert::firing(finding, now);
                let others: Vec<&Alert> = known.iter().chain(&plan.changed).filter(|a| a.id != alert.id).collect();
                alert.incident = incident_for(&others, &alert.finding.account, now, policy);
                (alert, Some(NoticeEvent::Firing))
            }
        };
        if let Some(event) = event.filter(|_| !silenced) {
            alert.last_notified = Some(now);
            plan.notices.push((alert.clone(), event));
        }
        plan.changed.push(alert);
    }
    for alert in known {
        if alert.state == AlertState::Firing && alert.kind().is_condition() && !seen.contains(&alert.id) {
            let resolved = Alert { state: AlertState::Resolved, resolved_at: Some(now), ..alert.clone() };
            let said = resolved.last_notified.is_some();
            if policy.send_resolved && said && !is_silenced(silences, &resolved.finding, now) {
                plan.notices.push((resolved.clone(), NoticeEvent::Resolved));
            }
            plan.changed.push(resolved);
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
            currency: "USD".into(),
            amount: Some(dec("1")),
            key: key.into(),
            ..Finding::new(kind, AccountRef::new("bank", "A"), format!("{kind} {key}"), now())
        }
    }

    /// Runs polls ten minutes apart, feeding each plan's changes back as the known alerts; returns
    /// what each poll said, as "event title".
    fn polls(rounds: &[Vec<Finding>]) -> Vec<Vec<String>> {
        polls_with(
            rounds,
            &Policy { repeat_interval: TimeDelta::hours(10), send_resolved: false, ..Policy::default() },
            &[],
            &[],
        )
    }

    fn polls_with(rounds: &[Vec<Finding>], policy: &Policy, silences: &[Silence], acks: &[usize]) -> Vec<Vec<String>> {
        planned(rounds, policy, silences, acks, |alert, event| format!("{} {}", event.as_str(), alert.finding.title))
    }

    /// Plans `rounds` ten minutes apart, acknowledging every alert known before the rounds in
    /// `acks` and feeding each plan's changes back as the known alerts; returns each poll's notices
    /// as `show` tells them.
    fn planned<T>(
        rounds: &[Vec<Finding>],
        policy: &Policy,
        silences: &[Silence],
        acks: &[usize],
        show: impl Fn(&Alert, NoticeEvent) -> T,
    ) -> Vec<Vec<T>> {
        let mut known: Vec<Alert> = Vec::new();
        let mut said = Vec::new();
        for (i, findings) in rounds.iter().enumerate() {
            if acks.contains(&i) {
                for alert in &mut known {
                    alert.acknowledged_at = Some(now());
                }
            }
            let plan = plan(&known, findings.clone(), now() + TimeDelta::minutes(10 * i as i64), policy, silences);
            said.push(plan.notices.iter().map(|(a, e)| show(a, *e)).collect());
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
        assert_eq!(said, [vec!["firing low_balance below"], vec![], vec![], vec![], vec!["firing low_balance below"]]);
    }

    #[test]
    fn an_event_is_said_once_even_when_found_again() {
        let dup = || finding(FindingKind::DuplicateCharge, "a+b");
        let said = polls(&[vec![dup()], vec![], vec![dup()]]);
        assert_eq!(said, [vec!["firing duplicate_charge a+b"], vec![], vec![]]);
    }

    #[test]
    fn different_keys_are_different_alerts() {
        let said = polls(&[vec![
            finding(FindingKind::NewPayee, "x"),
            finding(FindingKind::NewPayee, "y"),
            finding(FindingKind::NewPayee, "x"),
        ]]);
        assert_eq!(said, [vec!["firing new_payee x", "firing new_payee y"]]);
    }

    #[test]
    fn resolution_is_recorded_with_its_time() {
        let policy = Policy::default();
        let first = plan(&[], vec![finding(FindingKind::BalanceDrop, "peak@1")], now(), &policy, &[]);
        let later = now() + TimeDelta::minutes(5);
        let second = plan(&first.changed, vec![], later, &policy, &[]);
        assert_eq!(second.notices.len(), 1);
        assert_eq!(second.notices[0].1, NoticeEvent::Resolved);
        assert_eq!(second.changed.len(), 1);
        assert_eq!(second.changed[0].state, AlertState::Resolved);
        assert_eq!(second.changed[0].resolved_at, Some(later));
    }

    #[test]
    fn repeats_resolutions_silences_and_acks() {
        let low = || finding(FindingKind::LowBalance, "below");
        let payee = || finding(FindingKind::NewPayee, "x");
        let repeat = Policy { repeat_interval: TimeDelta::minutes(20), ..Policy::default() };
        // Polls every 10 minutes; a condition repeats every 20 until it clears.
        let said = polls_with(
            &[vec![low(), payee()], vec![low()], vec![low()], vec![low()], vec![low()], vec![]],
            &repeat,
            &[],
            &[],
        );
        assert_eq!(
            said,
            [
                vec!["firing low_balance below", "firing new_payee x"],
                vec![],
                vec!["repeat low_balance below"],
                vec![],
                vec!["repeat low_balance below"],
                vec!["resolved low_balance below"],
            ]
        );
        // Acknowledged at the second poll: no repeats, but the resolution is still said.
        let said = polls_with(&[vec![low()], vec![low()], vec![low()], vec![]], &repeat, &[], &[1]);
        assert_eq!(said, [vec!["firing low_balance below"], vec![], vec![], vec!["resolved low_balance below"]]);
        // Silenced throughout: nothing is said, not even the resolution of what was never said.
        let mute = Silence {
            id: "s".into(),
            account: Some("A".into()),
            source: None,
            kind: Some(FindingKind::LowBalance),
            starts_at: now(),
            ends_at: now() + TimeDelta::minutes(25),
            comment: String::new(),
            created_at: now(),
            expired_at: None,
        };
        let said =
            polls_with(&[vec![low(), payee()], vec![low()], vec![low()], vec![low()], vec![]], &repeat, &[mute], &[]);
        // The silence ends after 25 minutes: the still-firing condition is said then.
        assert_eq!(
            said,
            [
                vec!["firing new_payee x"],
                vec![],
                vec![],
                vec!["firing low_balance below"],
                vec!["resolved low_balance below"]
            ]
        );
    }
    /// Plans `rounds` ten minutes apart like `polls_with`; returns each poll's notices as
    /// (kind key, incident).
    fn incidents(rounds: &[Vec<Finding>], policy: &Policy, acks: &[usize]) -> Vec<Vec<(String, Option<String>)>> {
        planned(rounds, policy, &[], acks, |alert, _| (alert.finding.key.clone(), alert.incident.clone()))
    }

    #[test]
    fn findings_of_one_account_share_an_incident_while_it_is_open() {
        let low = || finding(FindingKind::LowBalance, "low");
        let payee = |key: &str| finding(FindingKind::NewPayee, key);
        let policy = Policy { repeat_interval: TimeDelta::minutes(15), send_resolved: false, ..Policy::default() };
        let said = incidents(
            &[
                vec![payee("a"), payee("b")], // 0: one incident for both
                vec![payee("c")],             // 10 min: joins it
                vec![],                       // 20 min
                vec![payee("d")],             // 30 min: every event is past repeat_interval: a new one
                vec![low()],                  // 40 min: joins d's
                vec![low(), payee("e")],      // 50 min, after an ack of everything: e opens another
            ],
            &policy,
            &[5],
        );
        let incident = |poll: usize, at: usize| said[poll][at].1.clone().expect("grouped by account");
        assert_eq!(said[0].len(), 2);
        assert!(incident(0, 0).starts_with("i-") && incident(0, 0).len() == 12, "{}", incident(0, 0));
        assert_eq!(incident(0, 0), incident(0, 1), "one poll, one incident");
        assert_eq!(incident(1, 0), incident(0, 0), "a later finding joins the open incident");
        assert_ne!(incident(3, 0), incident(0, 0), "events hold an incident open for repeat_interval only");
        assert_eq!(incident(4, 0), incident(3, 0));
        assert_eq!(said[5].iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["e"], "low goes on unsaid");
        assert_ne!(incident(5, 0), incident(3, 0), "an acknowledged incident is closed");
    }

    #[test]
    fn a_firing_condition_holds_its_incident_open_and_keeps_it_until_it_fires_again() {
        let low = || finding(FindingKind::LowBalance, "low");
        let policy = Policy { repeat_interval: TimeDelta::minutes(15), send_resolved: true, ..Policy::default() };
        let late = finding(FindingKind::NewPayee, "late");
        let said = incidents(&[vec![low()], vec![low()], vec![low(), late], vec![], vec![low()]], &policy, &[]);
        let first = said[0][0].1.clone();
        assert!(said[1].is_empty());
        assert_eq!(said[2].len(), 2, "the repeat and the new payee: {said:?}");
        assert!(said[2].iter().all(|(_, i)| *i == first), "the repeat keeps its incident, the payee joins: {said:?}");
        assert_eq!(said[3], [("low".to_owned(), first.clone())], "so does the resolution");
        assert_ne!(said[4][0].1, first, "fired again after it cleared: a new incident");
    }

    #[test]
    fn a_sources_own_findings_are_an_incident_of_their_scope() {
        let on = |account: &str, kind, key: &str| Finding {
            account: AccountRef::new("bank", account),
            ..finding(kind, key)
        };
        let policy = Policy::default();
        let source = plan(
            &[],
            vec![on("", FindingKind::SourceDown, "down"), on("", FindingKind::BudgetExhausted, "spent")],
            now(),
            &policy,
            &[],
        );
        let account = plan(&[], vec![on("A", FindingKind::LowBalance, "low")], now(), &policy, &[]);
        let incidents = |p: &Plan| p.notices.iter().map(|(a, _)| a.incident.clone()).collect::<Vec<_>>();
        let (source, account) = (incidents(&source), incidents(&account));
        assert!(source[0].is_some() && source[0] == source[1], "{source:?}");
        assert_eq!(source[0], Some(incident_id(&AccountRef::new("bank", ""), now())));
        assert_ne!(source[0], account[0], "another scope, another incident");
    }

    #[test]
    fn an_alert_stored_before_incidents_reads_without_one() {
        let mut old =
            serde_json::to_value(Alert::firing(finding(FindingKind::LowBalance, "low"), now())).expect("json");
        if let serde_json::Value::Object(map) = &mut old {
            assert!(map.remove("incident").is_some());
        }
        let read: Alert = serde_json::from_value(old).expect("an old alert reads");
        assert_eq!(read.incident, None);
    }

    #[test]
    fn without_group_by_no_alert_has_an_incident() {
        let policy = Policy { group_by: Vec::new(), ..Policy::default() };
        let said =
            incidents(&[vec![finding(FindingKind::NewPayee, "a"), finding(FindingKind::NewPayee, "b")]], &policy, &[]);
        assert_eq!(said, [vec![("a".to_owned(), None), ("b".to_owned(), None)]]);
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::detect::fixtures::now;

    /// A firing alert with the given id, for outbox tests.
    pub fn alert(id: &str) -> Alert {
        let finding = Finding {
            currency: "USD".into(),
            key: id.into(),
            ..Finding::new(FindingKind::LowBalance, AccountRef::new("bank", "A"), format!("alert {id}"), now())
        };
        Alert { id: id.into(), ..Alert::firing(finding, now()) }
    }
}
