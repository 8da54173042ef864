//! How alerts are said: repeats, resolutions, routes to channels, quiet hours, and which alerts
//! are grouped into one incident.

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{AccountRef, FindingKind, Severity};

/// The alerting half of the config (`[alerts]`, `[[route]]`, `[quiet_hours]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// An unacknowledged firing condition is said again this often.
    pub repeat_interval: TimeDelta,
    /// Whether a condition that cleared is said too.
    pub send_resolved: bool,
    pub routes: Vec<Route>,
    /// Where an alert goes when no route matches.
    pub default_channels: Vec<String>,
    pub quiet_hours: Option<QuietHours>,
    pub timezone: Tz,
    /// What alerts of one incident share (`group_by`); empty: every alert is said on its own.
    pub group_by: Vec<GroupBy>,
    /// How long a new incident's first message waits for more findings to join it.
    pub group_wait: TimeDelta,
    /// How long after a channel's last message of an incident an update of it may follow.
    pub group_interval: TimeDelta,
}

/// A `group_by` label: what the alerts of one incident have in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The alert's scope: an account, or a source or notice source for their own findings.
    Account,
}

impl GroupBy {
    pub const NAMES: &[&str] = &["account"];

    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "account" => Some(GroupBy::Account),
            _ => None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            repeat_interval: TimeDelta::hours(4),
            send_resolved: true,
            routes: Vec::new(),
            default_channels: Vec::new(),
            quiet_hours: None,
            timezone: chrono_tz::UTC,
            group_by: vec![GroupBy::Account],
            group_wait: TimeDelta::seconds(30),
            group_interval: TimeDelta::minutes(5),
        }
    }
}

/// One `[[route]]`: empty matchers match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub severity: Vec<Severity>,
    pub kind: Vec<FindingKind>,
    pub account: Vec<String>,
    pub source: Vec<String>,
    pub channels: Vec<String>,
    /// Keep looking at later routes after this one matched.
    pub continue_matching: bool,
}

impl Route {
    fn matches(&self, severity: Severity, kind: Option<FindingKind>, account: Option<&AccountRef>) -> bool {
        let any = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l == v))
        };
        (self.severity.is_empty() || self.severity.contains(&severity))
            && (self.kind.is_empty() || kind.is_some_and(|k| self.kind.contains(&k)))
            && any(&self.account, account.map(|a| a.account.as_str()))
            && any(&self.source, account.map(|a| a.source.as_str()))
    }
}

/// `[quiet_hours]`: from `start` to `end` on the configured wall clock, deliveries of every severity
/// not in `except` are held until `end`. Held, never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub except: Vec<Severity>,
}

impl Policy {
    /// The channels an alert goes to, in route order, each once.
    pub fn channels_for(
        &self,
        severity: Severity,
        kind: Option<FindingKind>,
        account: Option<&AccountRef>,
    ) -> Vec<String> {
        let mut channels: Vec<String> = Vec::new();
        let mut matched = false;
        for route in &self.routes {
            if !route.matches(severity, kind, account) {
                continue;
            }
            matched = true;
            for channel in &route.channels {
                if !channels.contains(channel) {
                    channels.push(channel.clone());
                }
            }
            if !route.continue_matching {
                break;
            }
        }
        if matched { channels } else { self.default_channels.clone() }
    }

    /// When a delivery of this severity created at `now` may go out: `now`, or the end of the quiet
    /// hours it falls into.
    pub fn release_time(&self, severity: Severity, now: DateTime<Utc>) -> DateTime<Utc> {
        let Some(quiet) = &self.quiet_hours else { return now };
        if quiet.except.contains(&severity) || quiet.start == quiet.end {
            return now;
        }
        let local = now.with_timezone(&self.timezone);
        let time = local.time();
        let inside = if quiet.start < quiet.end {
            time >= quiet.start && time < quiet.end
        } else {
            time >= quiet.start || time < quiet.end
        };
        if !inside {
            return now;
        }
        // The end is today when it is still ahead on the clock, else tomorrow.
        let mut day = local.date_naive();
        if time >= quiet.end {
            day = day.succ_opt().unwrap_or(day);
        }
        local_time(self.timezone, day, quiet.end).unwrap_or(now).max(now)
    }
}

/// A wall-clock time on a day, resolved through DST: the earlier of two in a fold, the first valid
/// minute after a gap.
fn local_time(tz: Tz, day: chrono::NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = day.and_time(time);
    for minutes in 0..=120 {
        let candidate = naive + TimeDelta::minutes(minutes);
        if let Some(t) = tz.from_local_datetime(&candidate).earliest() {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(severity: &[Severity], kind: &[FindingKind], account: &[&str], channels: &[&str], cont: bool) -> Route {
        Route {
            severity: severity.to_vec(),
            kind: kind.to_vec(),
            account: account.iter().map(|s| s.to_string()).collect(),
            source: vec![],
            channels: channels.iter().map(|s| s.to_string()).collect(),
            continue_matching: cont,
        }
    }

    #[test]
    fn routing_table() {
        use FindingKind::*;
        use Severity::*;
        let policy = Policy {
            routes: vec![
                route(&[Critical], &[], &[], &["phone", "mail"], true),
                route(&[], &[NewPayee], &["ACT-1"], &["desktop"], false),
                route(&[Critical, Warning], &[], &[], &["mail"], false),
                route(&[], &[], &["ACT-9"], &["never-reached-for-warnings"], false),
            ],
            default_channels: vec!["console".into()],
            ..Policy::default()
        };
        let a1 = AccountRef::new("bank", "ACT-1");
        let a2 = AccountRef::new("bank", "ACT-2");
        type Case<'a> = (Severity, Option<FindingKind>, Option<&'a AccountRef>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (Critical, Some(BalanceDrop), Some(&a1), vec!["phone", "mail"]), // continue, then the 3rd route
            (Critical, Some(NewPayee), Some(&a1), vec!["phone", "mail", "desktop"]),
            (Warning, Some(NewPayee), Some(&a1), vec!["desktop"]), // first match wins
            (Warning, Some(NewPayee), Some(&a2), vec!["mail"]),
            (Info, Some(LowBalance), Some(&a2), vec!["console"]), // no match: default
            (Info, None, None, vec!["console"]),
        ];
        for (severity, kind, account, want) in cases {
            assert_eq!(policy.channels_for(severity, kind, account), want, "{severity} {kind:?} {account:?}");
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn quiet_hours_hold_until_their_end_on_the_local_clock() {
        let policy = Policy {
            quiet_hours: Some(QuietHours {
                start: NaiveTime::from_hms_opt(23, 0, 0).unwrap_or_default(),
                end: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default(),
                except: vec![Severity::Critical],
            }),
            timezone: chrono_tz::Asia::Shanghai,
            ..Policy::default()
        };
        // (now, severity, released at)
        let cases = [
            ("2026-11-25T16:30:00Z", Severity::Warning, "2026-11-25T23:00:00Z"), // 00:30 local → 07:00 local
            ("2026-11-25T14:59:00Z", Severity::Warning, "2026-11-25T14:59:00Z"), // 22:59 local: not quiet
            ("2026-11-25T15:00:00Z", Severity::Warning, "2026-11-25T23:00:00Z"), // 23:00 local → next 07:00
            ("2026-11-25T23:00:00Z", Severity::Warning, "2026-11-25T23:00:00Z"), // 07:00 local: over
            ("2026-11-25T16:30:00Z", Severity::Critical, "2026-11-25T16:30:00Z"), // excepted
        ];
        for (now, severity, want) in cases {
            assert_eq!(policy.release_time(severity, at(now)), at(want), "{now} {severity}");
        }
    }

    #[test]
    fn quiet_hours_within_one_day_and_across_dst() {
        let policy = Policy {
            quiet_hours: Some(QuietHours {
                start: NaiveTime::from_hms_opt(1, 0, 0).unwrap_or_default(),
                end: NaiveTime::from_hms_opt(2, 30, 0).unwrap_or_default(),
                except: vec![],
            }),
            timezone: chrono_tz::Europe::Berlin,
            ..Policy::default()
        };
        // 2026-03-29 01:30 CET; 02:30 does not exist that night, so the hold ends at 03:00 CEST.
        assert_eq!(policy.release_time(Severity::Info, at("2026-03-29T00:30:00Z")), at("2026-03-29T01:00:00Z"));
        assert_eq!(policy.release_time(Severity::Info, at("2026-06-01T23:15:00Z")), at("2026-06-02T00:30:00Z"));
    }
}
