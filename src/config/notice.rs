//! `[[notice]]`: the platform status pages and feeds to watch for maintenance and incidents.
//!
//! Three kinds: an Atlassian Statuspage (its public v2 JSON API), an RSS or Atom feed, and any JSON
//! API read through JSON pointers (like a `[[source]]` of kind "http-json"). As with channels, a key
//! that does not belong to the kind is an error rather than ignored, so a `keywords` list on a
//! statuspage cannot look like a filter that works.

use chrono::TimeDelta;
use serde::Deserialize;
use toml::Spanned;

use super::schema::{RawAuth, Validator, http_limits};
use super::url::redacted;
use super::values::{ByteSize, Duration};
use super::{ConfigError, HttpAuth, HttpLimits, Schedule};

#[derive(Debug, Clone)]
pub struct NoticeConfig {
    pub name: String,
    pub schedule: Schedule,
    pub http: HttpLimits,
    /// Maintenance is announced again (as a warning) this long before it starts.
    pub lead_time: TimeDelta,
    pub kind: NoticeSourceKind,
}

#[derive(Clone)]
pub enum NoticeSourceKind {
    /// An Atlassian Statuspage (v2 public API) at `url`, the page's root (`https://status.example.com`).
    Statuspage {
        url: String,
        /// Keep only notices naming one of these components (or naming none); empty keeps all.
        components: Vec<String>,
    },
    /// An RSS or Atom feed.
    Feed {
        url: String,
        /// Keep only items whose title or summary contains one of these (any case); empty keeps all.
        keywords: Vec<String>,
        /// Items containing one of these are maintenance, the others incidents.
        maintenance_keywords: Vec<String>,
    },
    /// Any JSON API, read by JSON pointers.
    HttpJson(Box<NoticeHttpJsonConfig>),
}

impl NoticeSourceKind {
    pub fn name(&self) -> &'static str {
        match self {
            NoticeSourceKind::Statuspage { .. } => "statuspage",
            NoticeSourceKind::Feed { .. } => "feed",
            NoticeSourceKind::HttpJson(_) => "http-json",
        }
    }

    /// The URL the kind is read from (for a statuspage, the page whose API is asked).
    pub fn url(&self) -> &str {
        match self {
            NoticeSourceKind::Statuspage { url, .. } | NoticeSourceKind::Feed { url, .. } => url,
            NoticeSourceKind::HttpJson(config) => &config.url,
        }
    }
}

/// Shows the URL without the login or query a private feed's token may sit in.
impl std::fmt::Debug for NoticeSourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoticeSourceKind::Statuspage { url, components } => {
                f.debug_struct("Statuspage").field("url", &redacted(url)).field("components", components).finish()
            }
            NoticeSourceKind::Feed { url, keywords, maintenance_keywords } => f
                .debug_struct("Feed")
                .field("url", &redacted(url))
                .field("keywords", keywords)
                .field("maintenance_keywords", maintenance_keywords)
                .finish(),
            NoticeSourceKind::HttpJson(config) => f.debug_tuple("HttpJson").field(config).finish(),
        }
    }
}

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

/// How long before a maintenance starts it is announced again, unless `lead_time` says.
pub const DEFAULT_LEAD_TIME: TimeDelta = TimeDelta::hours(24);
/// What makes a feed item maintenance, unless `maintenance_keywords` says.
pub const DEFAULT_MAINTENANCE_KEYWORDS: &[&str] = &["maintenance", "维护"];
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

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    Statuspage,
    Feed,
    HttpJson,
}

impl RawKind {
    fn name(self) -> &'static str {
        match self {
            RawKind::Statuspage => "statuspage",
            RawKind::Feed => "feed",
            RawKind::HttpJson => "http-json",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotice {
    name: Spanned<String>,
    kind: RawKind,
    url: Spanned<String>,
    schedule: Schedule,
    lead_time: Option<Duration>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_body: Option<ByteSize>,
    /// Plain http to a host other than this machine.
    allow_insecure_http: Option<bool>,
    // statuspage
    components: Option<Vec<String>>,
    // feed
    keywords: Option<Vec<String>>,
    maintenance_keywords: Option<Vec<String>>,
    // http-json
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

/// Which of the kind-specific keys each kind takes; the shared ones (name, url, schedule, lead_time,
/// timeout, connect_timeout, max_body, allow_insecure_http) apply to all.
fn allowed(kind: RawKind) -> &'static [&'static str] {
    match kind {
        RawKind::Statuspage => &["components"],
        RawKind::Feed => &["keywords", "maintenance_keywords"],
        RawKind::HttpJson => &["auth", "mapping"],
    }
}

type Span = std::ops::Range<usize>;

impl Validator<'_> {
    /// One `[[notice]]`, and the place of its name (for the uniqueness checks across the file).
    pub(super) fn notice(&self, i: usize, raw: Spanned<RawNotice>) -> Result<(NoticeConfig, Span), ConfigError> {
        let table = raw.span();
        let raw = raw.into_inner();
        let key = |field: &str| format!("notice[{i}].{field}");
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        if name.trim().is_empty() {
            return self.error(name_span, key("name"), "a notice needs a non-empty name");
        }
        let given: Vec<&str> = [
            ("components", raw.components.is_some()),
            ("keywords", raw.keywords.is_some()),
            ("maintenance_keywords", raw.maintenance_keywords.is_some()),
            ("auth", raw.auth.is_some()),
            ("mapping", raw.mapping.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, present)| present.then_some(field))
        .collect();
        let kind_name = raw.kind.name();
        if let Some(field) = given.iter().find(|f| !allowed(raw.kind).contains(f)) {
            let at = match (&raw.mapping, *field) {
                (Some(mapping), "mapping") => mapping.span(),
                _ => self.key_span(&table, field),
            };
            let owner = match *field {
                "components" => "statuspage",
                "keywords" | "maintenance_keywords" => "feed",
                _ => "http-json",
            };
            return self.error(
                at,
                key(field),
                format!("`{field}` does not apply to a {kind_name} notice; it belongs to kind = \"{owner}\""),
            );
        }
        let url_span = raw.url.span();
        let url = raw.url.into_inner();
        self.url(url_span, key("url"), &url, raw.allow_insecure_http.unwrap_or(false), "[[notice]]")?;
        for (field, list) in [
            ("components", &raw.components),
            ("keywords", &raw.keywords),
            ("maintenance_keywords", &raw.maintenance_keywords),
        ] {
            // An empty word would match everything: surely not what was meant.
            if list.as_ref().is_some_and(|words| words.iter().any(|w| w.trim().is_empty())) {
                let at = self.key_span(&table, field);
                return self.error(
                    at,
                    key(field),
                    format!("`{field}` holds an empty word, which would match anything"),
                );
            }
        }
        let kind = match raw.kind {
            RawKind::Statuspage => NoticeSourceKind::Statuspage { url, components: raw.components.unwrap_or_default() },
            RawKind::Feed => NoticeSourceKind::Feed {
                url,
                keywords: raw.keywords.unwrap_or_default(),
                maintenance_keywords: raw
                    .maintenance_keywords
                    .unwrap_or_else(|| DEFAULT_MAINTENANCE_KEYWORDS.iter().map(|w| (*w).to_owned()).collect()),
            },
            RawKind::HttpJson => {
                let Some(mapping) = raw.mapping else {
                    return self.error(
                        table,
                        key("mapping"),
                        "an http-json notice needs a [notice.mapping] table saying where the items and their titles are",
                    );
                };
                let mapping = self.mapping(i, mapping)?;
                NoticeSourceKind::HttpJson(Box::new(NoticeHttpJsonConfig {
                    url,
                    auth: RawAuth::into_auth(raw.auth),
                    mapping,
                }))
            }
        };
        let config = NoticeConfig {
            name,
            schedule: raw.schedule,
            http: http_limits(raw.timeout, raw.connect_timeout, raw.max_body, raw.allow_insecure_http),
            lead_time: raw.lead_time.map_or(DEFAULT_LEAD_TIME, |d| d.0),
            kind,
        };
        Ok((config, name_span))
    }

    fn mapping(&self, i: usize, raw: Spanned<RawMapping>) -> Result<NoticeMapping, ConfigError> {
        let table = raw.span();
        let raw = raw.into_inner();
        let key = |field: &str| format!("notice[{i}].mapping.{field}");
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
                let at = self.key_span(&table, field);
                return self.error(
                    at,
                    key(field),
                    format!("{pointer:?} is not a JSON pointer: write \"/{pointer}\" (pointers start with a slash)"),
                );
            }
        }
        if raw.kind.is_none() && raw.maintenance_values.is_some() {
            let at = self.key_span(&table, "maintenance_values");
            return self.error(
                at,
                key("maintenance_values"),
                "`maintenance_values` says which values of `kind` mean maintenance, but no `kind` pointer is given (without one every item is maintenance)",
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
                    let at = self.key_span(&table, field);
                    return self.error(
                        at,
                        key(field),
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
