//! `source_down`: a source that keeps failing, or that refused our credentials; `budget_exhausted`:
//! a source not polled because its daily request budget is spent; `unreadable_record`: a file or
//! mail it could not read; `store_failing`: payguard cannot write its own store.
//!
//! Refused credentials fire at once: revoked credentials can mean someone else took the account
//! over. Other failures fire after `down_after` in a row, unless the platform's announced
//! maintenance explains them (`inhibited`); if the source is still down after the window, it fires.

use chrono::{DateTime, Utc};

use crate::model::{AccountRef, Cause, Finding, FindingKind, SourceHealth, Threshold, UnreadRecord, Zone};

const SOMEONE_ELSE: &str = "someone else may have";

pub fn source_down(
    source: &str,
    health: &SourceHealth,
    down_after: u32,
    inhibited: bool,
    zone: Zone,
    now: DateTime<Utc>,
) -> Option<Finding> {
    let failures = health.consecutive_failures;
    let fires = health.auth_refused || (failures >= down_after.max(1) && !inhibited);
    if failures == 0 || !fires {
        return None;
    }
    let error = health.last_error.clone().unwrap_or_default();
    let since = health.last_success.map(|t| format!(" since {}", zone.time(t))).unwrap_or_default();
    let (title, detail, cause) = if health.consent_ended {
        (
            format!("{source}: access to the accounts has ended"),
            format!("{error}. Until it is renewed, nothing on {source} is watched."),
            Some(Cause::ConsentEnded),
        )
    } else if health.auth_refused {
        // An HTTP or IMAP refusal already says that someone else may have changed them; a
        // platform's own auth error code does not. Either way it is said once.
        let warning = if error.contains(SOMEONE_ELSE) {
            String::new()
        } else {
            format!(" If you did not revoke or change them, {SOMEONE_ELSE}.")
        };
        (
            format!("{source} refused payguard's credentials"),
            format!("{error}.{warning} Until they work again, nothing on {source} is watched."),
            Some(Cause::CredentialsRefused),
        )
    } else {
        (
            format!("{source} has failed {failures} polls in a row"),
            format!(
                "payguard could not read {source}{since}: {error}. Until it answers again, nothing on it is watched."
            ),
            None,
        )
    };
    Some(Finding {
        detail,
        // Refused credentials and an ended consent fire at once: `down_after` did not fire them.
        threshold: cause.is_none().then(|| Threshold { key: "down_after".into(), value: down_after.to_string() }),
        cause,
        when: health.last_success,
        about: Some(error),
        key: "down".to_owned(),
        ..Finding::new(FindingKind::SourceDown, AccountRef::new(source, ""), title, now)
    })
}

/// The person's consent to read the accounts ends within `warn_before` (from `health.consent_until`,
/// as the provider said): a warning, and critical on the last day. Each stage is its own alert, so
/// the last day is said even after the warning; both resolve once the consent is renewed (or, if
/// it lapses, `source_down` takes over).
pub fn consent_expiry(
    source: &str,
    health: &SourceHealth,
    warn_before: chrono::TimeDelta,
    renewal: Option<&str>,
    zone: Zone,
    now: DateTime<Utc>,
) -> Option<Finding> {
    let until = health.consent_until?;
    let left = until - now;
    if left <= chrono::TimeDelta::zero() || left > warn_before {
        return None;
    }
    let last_day = left <= chrono::TimeDelta::days(1);
    let at = zone.time(until);
    let in_words =
        if last_day { format!("in {} hours", left.num_hours().max(1)) } else { format!("in {} days", left.num_days()) };
    Some(Finding {
        severity: if last_day { crate::model::Severity::Critical } else { crate::model::Severity::Warning },
        detail: format!(
            "The access your bank granted for {source} ends at {at}; after that payguard cannot read these accounts. Renew it before then: {}.",
            renewal.unwrap_or("link the bank again")
        ),
        threshold: Some(Threshold {
            key: "consent_warning".into(),
            value: crate::model::Duration(warn_before).to_string(),
        }),
        when: Some(until),
        key: if last_day { "consent:last-day" } else { "consent:soon" }.to_owned(),
        ..Finding::new(
            FindingKind::ConsentExpiry,
            AccountRef::new(source, ""),
            format!("{source}: access to the accounts ends {in_words} ({at})"),
            now,
        )
    })
}

/// Each record the poll could not read, said once: the money it states is not watched, so a person
/// must look at it. Known by the record and the reason, so a record read again after a fix that
/// still fails for another reason is said again.
pub fn unreadable_records(source: &str, unreadable: &[UnreadRecord], now: DateTime<Utc>) -> Vec<Finding> {
    unreadable
        .iter()
        .map(|u| Finding {
            detail: format!(
                "{source} could not read {}: {}. Nothing it states was judged: look at it yourself.",
                u.record, u.reason
            ),
            about: Some(u.record.clone()),
            key: format!("unreadable:{}", crate::model::short_hash(&format!("{}|{}", u.record, u.reason))),
            ..Finding::new(
                FindingKind::UnreadableRecord,
                AccountRef::new(source, ""),
                format!("{source}: cannot read {}", u.record),
                now,
            )
        })
        .collect()
}

/// While the daily request budget is spent: polls are skipped until it frees, so nothing on the
/// source is watched meanwhile. Resolves once a poll is made again.
pub fn budget_exhausted(source: &str, health: &SourceHealth, zone: Zone, now: DateTime<Utc>) -> Option<Finding> {
    let spent = health.budget_spent.as_ref()?;
    let until = zone.time(spent.until);
    Some(Finding {
        detail: format!(
            "{source} was asked {} times in the last 24 hours, its max_requests_per_day; the schedule asks for more, so polls are skipped until {until}, and until then nothing on it is watched.",
            spent.used
        ),
        threshold: Some(Threshold { key: "max_requests_per_day".into(), value: spent.max.to_string() }),
        when: Some(spent.until),
        key: "budget".to_owned(),
        ..Finding::new(
            FindingKind::BudgetExhausted,
            AccountRef::new(source, ""),
            format!("{source}: daily request budget spent; no polls until {until}"),
            now,
        )
    })
}

/// payguard cannot write its store (`state_dir`) since `since`: no poll is kept, no alert judged or
/// sent through the outbox. Said straight to the channels, as the outbox is in that store.
pub fn store_failing(state_dir: &str, since: DateTime<Utc>, error: &str, zone: Zone, now: DateTime<Utc>) -> Finding {
    Finding {
        detail: format!(
            "payguard cannot write its store at {state_dir} since {}: {error}. Until it can, polls are not kept and nothing on any account is watched; it carries on by itself once writes succeed again.",
            zone.time(since)
        ),
        when: Some(since),
        zone,
        about: Some(error.to_owned()),
        key: "store".to_owned(),
        ..Finding::new(
            FindingKind::StoreFailing,
            AccountRef::new("payguard", ""),
            "payguard cannot write its store",
            now,
        )
    }
}

/// One `source_down` per account whose data has been unusable for `down_after` polls in a row,
/// while the source itself answers: those accounts are not watched, and a person must know.
pub fn accounts_unreadable(source: &str, health: &SourceHealth, down_after: u32, now: DateTime<Utc>) -> Vec<Finding> {
    health
        .unreadable
        .iter()
        .filter(|(_, u)| u.polls >= down_after.max(1))
        .map(|(account, u)| Finding {
            detail: format!(
                "{source} answers, but payguard could not use what it said about account {account} in the last {} polls: {}. Until it can, nothing on that account is watched.",
                u.polls, u.error
            ),
            threshold: Some(Threshold { key: "down_after".into(), value: down_after.to_string() }),
            when: u.since,
            about: Some(u.error.clone()),
            key: format!("unreadable:{account}"),
            ..Finding::new(
                FindingKind::SourceDown,
                AccountRef::new(source, ""),
                format!("{source}: account {account} cannot be read"),
                now,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::now;

    #[test]
    fn each_unreadable_record_is_its_own_event_known_by_record_and_reason() {
        let record = |name: &str, reason: &str| UnreadRecord { record: name.into(), reason: reason.into() };
        let found = unreadable_records(
            "wallet",
            &[record("nov.csv", "line 7: not a number"), record("nov.csv", "line 9: not a time")],
            now(),
        );
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|f| f.kind == FindingKind::UnreadableRecord && f.account.account.is_empty()));
        assert_ne!(found[0].key, found[1].key, "another reason in the same file is another alert");
        assert_eq!(found[0].title, "wallet: cannot read nov.csv");
        assert!(found[0].detail.contains("line 7: not a number"), "{}", found[0].detail);
        let again = unreadable_records("wallet", &[record("nov.csv", "line 7: not a number")], now());
        assert_eq!(again[0].key, found[0].key, "the same record and reason is the same alert");
    }

    #[test]
    fn an_ending_consent_is_warned_then_critical_on_its_last_day() {
        use chrono::TimeDelta;
        let week = TimeDelta::days(7);
        let at = |left: TimeDelta| {
            let health = SourceHealth { consent_until: Some(now() + left), ..SourceHealth::default() };
            consent_expiry("eu-bank", &health, week, None, Zone::default(), now()).map(|f| (f.severity, f.key))
        };
        use crate::model::Severity::{Critical, Warning};
        assert_eq!(at(TimeDelta::days(8)), None, "not yet");
        assert_eq!(at(TimeDelta::days(7)), Some((Warning, "consent:soon".to_owned())));
        assert_eq!(at(TimeDelta::days(2)), Some((Warning, "consent:soon".to_owned())));
        assert_eq!(at(TimeDelta::hours(20)), Some((Critical, "consent:last-day".to_owned())));
        assert_eq!(at(TimeDelta::zero()), None, "ended: source_down says so");
        assert_eq!(
            consent_expiry("eu-bank", &SourceHealth::default(), week, None, Zone::default(), now()),
            None,
            "no date, nothing to say"
        );
        let soon = SourceHealth { consent_until: Some(now() + TimeDelta::days(3)), ..SourceHealth::default() };
        let said = consent_expiry("eu-bank", &soon, week, Some("run `payguard x-link` again"), Zone::default(), now())
            .map(|f| f.detail);
        assert!(said.unwrap_or_default().ends_with("Renew it before then: run `payguard x-link` again."));
    }

    #[test]
    fn an_ended_consent_is_said_as_such_not_as_refused_credentials() {
        let health = SourceHealth {
            consecutive_failures: 1,
            auth_refused: true,
            consent_ended: true,
            last_error: Some("access to the accounts at bank.example has ended: link the bank again".into()),
            ..SourceHealth::default()
        };
        let found = source_down("eu-bank", &health, 3, false, Zone::default(), now())
            .map(|f| (f.title, f.detail))
            .unwrap_or_default();
        assert_eq!(found.0, "eu-bank: access to the accounts has ended");
        assert!(found.1.contains("link the bank again") && !found.1.contains("someone else"), "{}", found.1);
    }

    #[test]
    fn source_down_table() {
        // (failures, auth refused, inhibited by maintenance, fires)
        for (failures, auth, inhibited, fires) in [
            (0, false, false, false),
            (2, false, false, false),
            (3, false, false, true),
            (5, false, true, false), // maintenance explains it
            (1, true, false, true),  // refused credentials: at once
            (1, true, true, true),   // even during maintenance
        ] {
            let health = SourceHealth {
                consecutive_failures: failures,
                auth_refused: auth,
                last_error: Some("HTTP 503".into()),
                ..SourceHealth::default()
            };
            assert_eq!(
                source_down("bank", &health, 3, inhibited, Zone::default(), now()).is_some(),
                fires,
                "{failures} {auth} {inhibited}"
            );
        }
    }

    #[test]
    fn an_account_unreadable_for_down_after_polls_fires_alone() {
        let mut health = SourceHealth::default();
        for polls in 1..=3 {
            crate::daemon::polling::record_accounts(&mut health, ["A"], [("B", "balance: \"lots\" is not an amount")]);
            let fired = accounts_unreadable("bank", &health, 3, now());
            assert_eq!(fired.len(), usize::from(polls == 3), "after {polls} polls");
        }
        let fired = accounts_unreadable("bank", &health, 3, now());
        assert_eq!(fired[0].key, "unreadable:B");
        assert!(fired[0].title.contains("account B") && fired[0].detail.contains("is not an amount"));
        // Read again: the streak is over, and the finding gone (so its alert resolves).
        crate::daemon::polling::record_accounts(&mut health, ["A", "B"], []);
        assert!(accounts_unreadable("bank", &health, 3, now()).is_empty());
    }
}
