//! `account_status` and `card_expiry`: what the platform says about the account itself.

use super::{Input, threshold};
use crate::model::{AccountStatus, Finding, FindingKind};

/// The platform reports the account frozen or closed.
pub(super) fn account_status(input: &Input) -> Option<Finding> {
    let status = input.observation.snapshot.status;
    let word = match status {
        AccountStatus::Frozen => "frozen",
        AccountStatus::Closed => "closed",
        AccountStatus::Active | AccountStatus::Unknown => return None,
    };
    let mut finding = input.finding(
        FindingKind::AccountStatus,
        format!("The account is {word}"),
        format!("The platform reports the account as {word}: payments in and out may stop."),
    );
    finding.about = Some(word.to_owned());
    finding.key = word.to_owned();
    Some(finding)
}

/// A card linked to the account expires within `card_expiry_warn`.
pub(super) fn card_expiry(input: &Input) -> Option<Finding> {
    let expiry = input.observation.snapshot.card_expiry?;
    let expires_at = expiry.and_hms_opt(23, 59, 59)?.and_utc();
    let left = expires_at - input.now;
    if left > input.rules.card_expiry_warn {
        return None;
    }
    let (title, detail) = if left.num_seconds() < 0 {
        (
            format!("The linked card expired on {expiry}"),
            format!("The card linked to this account expired on {expiry}."),
        )
    } else {
        (
            format!("The linked card expires on {expiry}"),
            format!("The card linked to this account expires on {expiry}, in {} days.", left.num_days()),
        )
    };
    let mut finding = input.finding(FindingKind::CardExpiry, title, detail);
    finding.when = Some(expires_at);
    finding.threshold = threshold("card_expiry_warn", crate::model::Duration(input.rules.card_expiry_warn));
    finding.key = expiry.to_string();
    Some(finding)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use crate::detect::fixtures::*;
    use crate::model::{AccountStatus, FindingKind};

    #[test]
    fn status_table() {
        for (status, fires) in [
            (AccountStatus::Active, false),
            (AccountStatus::Unknown, false),
            (AccountStatus::Frozen, true),
            (AccountStatus::Closed, true),
        ] {
            let mut obs = observation("100", vec![]);
            obs.snapshot.status = status;
            let findings = crate::detect::detect(&rules(), &learned_history(), &obs, now());
            assert_eq!(of_kind(&findings, FindingKind::AccountStatus).is_some(), fires, "{status:?}");
        }
    }

    #[test]
    fn expiry_table() {
        // now() is 2026-09-21; the warning window is 30 days.
        for (expiry, fires) in [
            (Some((2026, 12, 31)), false),
            (Some((2026, 10, 22)), false),
            (Some((2026, 10, 20)), true),
            (Some((2026, 9, 1)), true), // already expired
            (None, false),
        ] {
            let mut obs = observation("100", vec![]);
            obs.snapshot.card_expiry = expiry.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
            let findings = crate::detect::detect(&rules(), &learned_history(), &obs, now());
            assert_eq!(of_kind(&findings, FindingKind::CardExpiry).is_some(), fires, "{expiry:?}");
        }
    }
}
