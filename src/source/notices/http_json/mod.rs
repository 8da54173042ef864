//! Any JSON API that lists notices: one GET, each item of the `items` array read by the configured
//! JSON pointers (RFC 6901), with the same credentials and value rules as the http-json account source.
//!
//! Kind: maintenance, unless a `kind` pointer is set; then an item is maintenance when its value is
//! one of `maintenance_values` (any case) and an incident otherwise, a missing value included.
//!
//! Phase: the status word, looked up (any case) in `upcoming_values`, `active_values` and
//! `over_values`. A word in none of them, or no status at all, is placed by the times: upcoming
//! while `starts_at` is ahead, over once `ends_at` has passed, active otherwise. Telling too much
//! is the safer error, so nothing unknown is dropped or called over without a time that says so.

use chrono::{DateTime, Utc};
use reqwest::header::ACCEPT;
use reqwest::{Client, Url};
use serde_json::Value;

mod settings;

use super::{Fields, MAX_TITLE, MAX_UPDATE, NoticeFuture, derived_id, endpoint, plain_text};
use crate::config::HttpLimits;
use crate::model::{Notice, NoticeKind, Phase};
use crate::source::SourceError;
use crate::source::fetch::get;
use crate::source::http_json::authorise;
use crate::source::values::kind;

pub use settings::{
    DEFAULT_ACTIVE_VALUES, DEFAULT_MAINTENANCE_VALUES, DEFAULT_OVER_VALUES, DEFAULT_UPCOMING_VALUES,
    NoticeHttpJsonConfig, NoticeMapping,
};

pub(super) struct HttpJsonNotices {
    name: String,
    config: Box<NoticeHttpJsonConfig>,
    url: Url,
    host: String,
    client: Client,
    limits: HttpLimits,
}

impl HttpJsonNotices {
    pub(super) fn new(
        name: String,
        config: Box<NoticeHttpJsonConfig>,
        client: Client,
        limits: HttpLimits,
    ) -> Result<Self, SourceError> {
        let (url, host) = endpoint(&config.url, &limits)?;
        Ok(HttpJsonNotices { name, config, url, host, client, limits })
    }

    async fn poll(&self, now: DateTime<Utc>) -> Result<Vec<Notice>, SourceError> {
        let request =
            authorise(self.client.get(self.url.clone()), &self.config.auth)?.header(ACCEPT, "application/json");
        let body = get(request, &self.host, &self.limits).await?;
        let malformed = |detail: String| SourceError::Malformed { host: self.host.clone(), detail };
        let doc: Value = serde_json::from_slice(&body).map_err(|e| malformed(format!("not JSON ({e})")))?;
        read_items(&self.name, &self.config.mapping, &doc, now).map_err(malformed)
    }
}

impl super::Reader for HttpJsonNotices {
    fn read(&self, now: DateTime<Utc>) -> NoticeFuture<'_> {
        Box::pin(self.poll(now))
    }
}

fn read_items(source: &str, m: &NoticeMapping, doc: &Value, now: DateTime<Utc>) -> Result<Vec<Notice>, String> {
    let items = match doc.pointer(&m.items) {
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("{:?} should be an array of notices, found {}", m.items, kind(other))),
        None => return Err(format!("nothing at {:?} for the notices", m.items)),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| read_item(source, m, item, now).map_err(|e| format!("item {i}: {e}")))
        .collect()
}

fn read_item(source: &str, m: &NoticeMapping, item: &Value, now: DateTime<Utc>) -> Result<Notice, String> {
    let f = Fields::new(item);
    let optional_text = |pointer: &Option<String>, what: &str| -> Result<Option<String>, String> {
        pointer.as_deref().map(|p| f.text(p, what)).transpose().map(Option::flatten)
    };
    let optional_time = |pointer: &Option<String>, what: &str| -> Result<Option<DateTime<Utc>>, String> {
        pointer.as_deref().map(|p| f.time(p, what)).transpose().map(Option::flatten)
    };
    let title = plain_text(&f.required_text(&m.title, "title")?, false, MAX_TITLE);
    let starts_at = optional_time(&m.starts_at, "starts_at")?;
    let ends_at = optional_time(&m.ends_at, "ends_at")?;
    let kind = match &m.kind {
        None => NoticeKind::Maintenance,
        Some(pointer) => match f.text(pointer, "kind")? {
            Some(value) if is_one_of(&value, &m.maintenance_values) => NoticeKind::Maintenance,
            _ => NoticeKind::Incident,
        },
    };
    let status = optional_text(&m.status, "status")?.unwrap_or_default();
    let phase = if is_one_of(&status, &m.over_values) {
        Phase::Over
    } else if is_one_of(&status, &m.active_values) {
        Phase::Active
    } else if is_one_of(&status, &m.upcoming_values) || starts_at.is_some_and(|t| t > now) {
        // An upcoming word, or (no word decides) a window still ahead.
        Phase::Upcoming
    } else if ends_at.is_some_and(|t| t <= now) {
        Phase::Over
    } else {
        Phase::Active
    };
    let id = match optional_text(&m.id, "id")?.filter(|id| !id.trim().is_empty()) {
        Some(id) => id,
        None => {
            let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
            derived_id(&[&title, &time(starts_at), &time(ends_at)])
        }
    };
    Ok(Notice {
        source: source.to_owned(),
        id,
        kind,
        phase,
        status,
        title,
        impact: optional_text(&m.impact, "impact")?,
        starts_at,
        ends_at,
        updated_at: optional_time(&m.updated_at, "updated_at")?,
        url: optional_text(&m.url, "url")?,
        update: optional_text(&m.update, "update")?.map(|u| plain_text(&u, false, MAX_UPDATE)).unwrap_or_default(),
        components: Vec::new(),
    })
}

fn is_one_of(value: &str, words: &[String]) -> bool {
    let value = value.trim();
    !value.is_empty() && words.iter().any(|w| w.trim().to_lowercase() == value.to_lowercase())
}
