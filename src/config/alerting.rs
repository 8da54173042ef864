//! `[alerts]`, `[[route]]`, `[quiet_hours]` and `[support]`: how alerts are said and to whom.

use chrono::NaiveTime;
use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::schema::Validator;
use super::values::Duration;
use crate::alert::{GroupBy, Policy, QuietHours, Route};
use crate::model::{FindingKind, Severity};

/// Who to call: printed in the advice of every alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Support {
    /// The platform's name, as people know it.
    pub platform: Option<String>,
    /// Its support or fraud line.
    pub phone: Option<String>,
    /// Its help page.
    pub url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    repeat_interval: Option<Duration>,
    send_resolved: Option<bool>,
    max_delivery_age: Option<Duration>,
    default_channels: Option<Spanned<Vec<String>>>,
    group_by: Option<Vec<GroupLabel>>,
    group_wait: Option<Duration>,
    group_interval: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    #[serde(default)]
    severity: Vec<Severity>,
    #[serde(default)]
    kind: Vec<FindingKind>,
    #[serde(default)]
    account: Vec<String>,
    #[serde(default)]
    source: Vec<String>,
    channels: Spanned<Vec<String>>,
    #[serde(default, rename = "continue")]
    continue_matching: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuietHours {
    start: ClockTime,
    end: ClockTime,
    #[serde(default)]
    except: Vec<Severity>,
}

/// A wall-clock time, `"23:00"`.
struct ClockTime(NaiveTime);

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(text.trim(), "%H:%M").map(ClockTime).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is not a time of day: expected \"HH:MM\", like \"23:00\""))
        })
    }
}

/// One `group_by` label, refused with the labels there are when unknown.
struct GroupLabel(GroupBy);

impl<'de> Deserialize<'de> for GroupLabel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        GroupBy::parse(text.trim()).map(GroupLabel).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not something alerts can be grouped by: expected one of {}, or `group_by = []` for one message per alert",
                GroupBy::NAMES.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// The alerting policy and the delivery deadline.
pub(super) struct Alerting {
    pub policy: Policy,
    pub max_delivery_age: chrono::TimeDelta,
}

impl Validator<'_> {
    pub(super) fn alerting(
        &self,
        alerts: RawAlerts,
        routes: Vec<RawRoute>,
        quiet: Option<RawQuietHours>,
        channels: &[&str],
        timezone: chrono_tz::Tz,
    ) -> Result<Alerting, ConfigError> {
        let known = |list: &Spanned<Vec<String>>, key: String| -> Result<(), ConfigError> {
            match list.get_ref().iter().find(|c| !channels.contains(&c.as_str())) {
                Some(unknown) => self.error(
                    list.span(),
                    key,
                    format!("no [[channel]] is named {unknown:?}: expected one of {}", channels.join(", ")),
                ),
                None => Ok(()),
            }
        };
        let mut parsed = Vec::new();
        for (i, route) in routes.into_iter().enumerate() {
            known(&route.channels, format!("route[{i}].channels"))?;
            parsed.push(Route {
                severity: route.severity,
                kind: route.kind,
                account: route.account,
                source: route.source,
                channels: route.channels.into_inner(),
                continue_matching: route.continue_matching,
            });
        }
        let default_channels = match alerts.default_channels {
            Some(list) => {
                known(&list, "alerts.default_channels".to_owned())?;
                list.into_inner()
            }
            // Without routes, every alert goes everywhere; nothing is ever routed nowhere.
            None => channels.iter().map(|c| c.to_string()).collect(),
        };
        let default = Policy::default();
        let policy = Policy {
            repeat_interval: alerts.repeat_interval.map_or(chrono::TimeDelta::hours(4), |d| d.0),
            send_resolved: alerts.send_resolved.unwrap_or(true),
            routes: parsed,
            default_channels,
            quiet_hours: quiet.map(|q| QuietHours { start: q.start.0, end: q.end.0, except: q.except }),
            timezone,
            group_by: alerts.group_by.map_or(default.group_by, |labels| labels.into_iter().map(|l| l.0).collect()),
            group_wait: alerts.group_wait.map_or(default.group_wait, |d| d.0),
            group_interval: alerts.group_interval.map_or(default.group_interval, |d| d.0),
        };
        Ok(Alerting { policy, max_delivery_age: alerts.max_delivery_age.map_or(chrono::TimeDelta::hours(24), |d| d.0) })
    }
}
