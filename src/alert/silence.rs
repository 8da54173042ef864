//! Silences: "don't tell me about this for a while", stored and matched against alerts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Finding, FindingKind};

/// A silence mutes the alerts it matches while it is active. Empty matchers match everything, but
/// the command line insists on at least one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub account: Option<String>,
    pub source: Option<String>,
    pub kind: Option<FindingKind>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub comment: String,
    pub created_at: DateTime<Utc>,
    /// Set when ended early with `payguard silence expire`.
    pub expired_at: Option<DateTime<Utc>>,
}

impl Silence {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expired_at.is_none() && self.starts_at <= now && now < self.ends_at
    }

    pub fn matches(&self, finding: &Finding) -> bool {
        self.account.as_ref().is_none_or(|a| a == &finding.account.account)
            && self.source.as_ref().is_none_or(|s| s == &finding.account.source)
            && self.kind.is_none_or(|k| k == finding.kind)
    }
}

/// Whether any active silence mutes `finding` at `now`.
pub fn is_silenced(silences: &[Silence], finding: &Finding, now: DateTime<Utc>) -> bool {
    silences.iter().any(|s| s.is_active(now) && s.matches(finding))
}
