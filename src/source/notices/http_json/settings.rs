//! `kind = "http-json"` for notices: one URL, its credentials, and JSON pointers (RFC 6901) saying
//! where the items and their fields are, with the words that place each in a phase.

use serde::Deserialize;
use toml::Spanned;

use super::HttpJsonNotices;
use crate::config::{ConfigError, Credentials, Entry, HttpAuth, HttpLimits, RawAuth, host, redacted};
use crate::source::SourceError;
use crate::source::notices::Reader;

/// A JSON API listing notices: one GET of `url`, items read by pointers (RFC 6901).
#[derive(Clone)]
pub struct NoticeHttpJsonConfig {
    pub url: String,
    pub auth: HttpAuth,
    pub mapping: NoticeMapping,
}

impl std::fmt::Debug for NoticeHttpJsonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeHttpJsonConfig")
            .field("url", &redacted(&self.url))
            .field("auth", &self.auth)
            .field("mapping", &self.mapping)
            .finish()
    }
}

/// Where each field of a notice lives in the API's answer.
#[derive(Debug, Clone)]
pub struct NoticeMapping {
    /// The array of notices in the answer (`""` for a bare array).
    pub items: String,
    /// Inside one item; `title` is the only one required.
    pub id: Option<String>,
    pub title: String,
    /// Without it every item is maintenance; with it, an item is maintenance when its value is one of
    /// `maintenance_values` (any case) and an incident otherwise.
    pub kind: Option<String>,
    pub maintenance_values: Vec<String>,
    pub status: Option<String>,
    /// Status words (any case) for each phase; a word in none of them is placed by the times.
    pub upcoming_values: Vec<String>,
    pub active_values: Vec<String>,
    pub over_values: Vec<String>,
    pub impact: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub updated_at: Option<String>,
    pub url: Option<String>,
    pub update: Option<String>,
}

/// What `mapping.kind` says for maintenance, unless `maintenance_values` says.
pub const DEFAULT_MAINTENANCE_VALUES: &[&str] = &["maintenance", "scheduled_maintenance", "planned"];
/// Status words common APIs use, in English and Chinese, for each phase.
pub const DEFAULT_UPCOMING_VALUES: &[&str] =
    &["scheduled", "planned", "upcoming", "not_started", "pending", "announced", "计划中", "待开始"];
pub const DEFAULT_ACTIVE_VALUES: &[&str] = &[
    "active",
    "in_progress",
    "in progress",
    "ongoing",
    "started",
    "verifying",
    "investigating",
    "identified",
    "monitoring",
    "open",
    "degraded",
    "outage",
    "进行中",
    "处理中",
];
pub const DEFAULT_OVER_VALUES: &[&str] = &[
    "completed",
    "complete",
    "resolved",
    "closed",
    "done",
    "finished",
    "ended",
    "over",
    "cancelled",
    "canceled",
    "postmortem",
    "已完成",
    "已恢复",
    "已解决",
    "已结束",
];

impl NoticeMapping {
    /// A mapping that knows only where the items and their titles are; every word list has its default.
    pub fn new(items: impl Into<String>, title: impl Into<String>) -> Self {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
        NoticeMapping {
            items: items.into(),
            id: None,
            title: title.into(),
            kind: None,
            maintenance_values: words(DEFAULT_MAINTENANCE_VALUES),
            status: None,
            upcoming_values: words(DEFAULT_UPCOMING_VALUES),
            active_values: words(DEFAULT_ACTIVE_VALUES),
            over_values: words(DEFAULT_OVER_VALUES),
            impact: None,
            starts_at: None,
            ends_at: None,
            updated_at: None,
            url: None,
            update: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNoticeHttpJson {
    url: Spanned<String>,
    auth: Option<RawAuth>,
    mapping: Option<Spanned<RawMapping>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    #[serde(default)]
    items: String,
    id: Option<String>,
    title: String,
    kind: Option<String>,
    maintenance_values: Option<Vec<String>>,
    status: Option<String>,
    upcoming_values: Option<Vec<String>>,
    active_values: Option<Vec<String>>,
    over_values: Option<Vec<String>>,
    impact: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    updated_at: Option<String>,
    url: Option<String>,
    update: Option<String>,
}

impl crate::config::Kind for NoticeHttpJsonConfig {
    type Raw = RawNoticeHttpJson;

    fn validate(raw: RawNoticeHttpJson, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        entry.url(raw.url.span(), "url", raw.url.get_ref(), entry.allow_insecure_http)?;
        let Some(mapping) = raw.mapping else {
            return entry.missing(
                "mapping",
                "an http-json notice needs a [notice.mapping] table saying where the items and their titles are",
            );
        };
        Ok(NoticeHttpJsonConfig {
            url: raw.url.into_inner(),
            auth: RawAuth::into_auth(raw.auth),
            mapping: NoticeMapping::read(mapping, entry)?,
        })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let NoticeHttpJsonConfig { url, auth, mapping: _ } = self;
        found.url("url", url);
        found.auth(auth);
    }

    fn describe(&self) -> String {
        host(&self.url)
    }
}

impl super::super::Kind for NoticeHttpJsonConfig {
    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Reader>, SourceError> {
        Ok(Box::new(HttpJsonNotices::new(name.to_owned(), Box::new(self.clone()), client, limits)?))
    }
}

impl NoticeMapping {
    fn read(raw: Spanned<RawMapping>, entry: &Entry<'_>) -> Result<NoticeMapping, ConfigError> {
        let table = raw.span();
        let raw = raw.into_inner();
        let error = |field: &str, message: String| {
            entry.error(entry.place(&table, field), &format!("mapping.{field}"), message)
        };
        let pointers = [
            ("items", Some(&raw.items)),
            ("id", raw.id.as_ref()),
            ("title", Some(&raw.title)),
            ("kind", raw.kind.as_ref()),
            ("status", raw.status.as_ref()),
            ("impact", raw.impact.as_ref()),
            ("starts_at", raw.starts_at.as_ref()),
            ("ends_at", raw.ends_at.as_ref()),
            ("updated_at", raw.updated_at.as_ref()),
            ("url", raw.url.as_ref()),
            ("update", raw.update.as_ref()),
        ];
        for (field, pointer) in pointers {
            // serde_json would find nothing at "title" and every item would fail at poll time; say so now.
            if let Some(pointer) = pointer.filter(|p| !p.is_empty() && !p.starts_with('/')) {
                return error(
                    field,
                    format!("{pointer:?} is not a JSON pointer: write \"/{pointer}\" (pointers start with a slash)"),
                );
            }
        }
        if raw.kind.is_none() && raw.maintenance_values.is_some() {
            return error(
                "maintenance_values",
                "`maintenance_values` says which values of `kind` mean maintenance, but no `kind` pointer is given (without one every item is maintenance)".to_owned(),
            );
        }
        let words = |list: &[&str]| -> Vec<String> { list.iter().map(|w| (*w).to_owned()).collect() };
        // A word a person lists decides its phase, even if a default list of another phase has it.
        let lists = [
            ("upcoming_values", raw.upcoming_values, DEFAULT_UPCOMING_VALUES),
            ("active_values", raw.active_values, DEFAULT_ACTIVE_VALUES),
            ("over_values", raw.over_values, DEFAULT_OVER_VALUES),
        ];
        let mut explicit: Vec<(&str, String)> = Vec::new();
        for (field, list, _) in &lists {
            for word in list.iter().flatten() {
                let lowered = word.trim().to_lowercase();
                if let Some((other, _)) = explicit.iter().find(|(f, w)| f != field && *w == lowered) {
                    return error(
                        field,
                        format!(
                            "{word:?} is listed in both `{other}` and `{field}`: a status word can mean one phase only"
                        ),
                    );
                }
                explicit.push((*field, lowered));
            }
        }
        let mut phases = lists.into_iter().map(|(_, list, defaults)| match list {
            Some(list) => list,
            None => {
                words(defaults).into_iter().filter(|w| !explicit.iter().any(|(_, e)| e == &w.to_lowercase())).collect()
            }
        });
        let (upcoming_values, active_values, over_values) =
            (phases.next().unwrap_or_default(), phases.next().unwrap_or_default(), phases.next().unwrap_or_default());
        Ok(NoticeMapping {
            items: raw.items,
            id: raw.id,
            title: raw.title,
            kind: raw.kind,
            maintenance_values: raw.maintenance_values.unwrap_or_else(|| words(DEFAULT_MAINTENANCE_VALUES)),
            status: raw.status,
            upcoming_values,
            active_values,
            over_values,
            impact: raw.impact,
            starts_at: raw.starts_at,
            ends_at: raw.ends_at,
            updated_at: raw.updated_at,
            url: raw.url,
            update: raw.update,
        })
    }
}
