//! `[[notice]]`: the keys every notice source shares (name, schedule, lead time, limits); the kind's
//! own keys are read by the kind (`crate::source::notices::NoticeSourceKind`). As everywhere, a key
//! that does not belong to the kind is an error rather than ignored, so a `keywords` list on a
//! statuspage cannot look like a filter that works.

use chrono::TimeDelta;
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::entry::{Entry, Registry};
use super::schema::Validator;
use super::source::http_limits;
use super::values::{ByteSize, Duration};
use super::{ConfigError, HttpLimits, Schedule};
use crate::source::notices::NoticeSourceKind;

#[derive(Debug, Clone)]
pub struct NoticeConfig {
    pub name: String,
    pub schedule: Schedule,
    pub http: HttpLimits,
    /// Maintenance is announced again (as a warning) this long before it starts.
    pub lead_time: TimeDelta,
    pub kind: NoticeSourceKind,
}

/// How long before a maintenance starts it is announced again, unless `lead_time` says.
pub const DEFAULT_LEAD_TIME: TimeDelta = TimeDelta::hours(24);

/// The keys of a `[[notice]]` that are not its kind's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotice {
    name: Spanned<String>,
    #[allow(dead_code)] // read first, by `Validator::split`
    kind: String,
    schedule: Schedule,
    lead_time: Option<Duration>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_body: Option<ByteSize>,
    /// Plain http to a host other than this machine.
    allow_insecure_http: Option<bool>,
}

type Span = std::ops::Range<usize>;

impl Validator<'_> {
    /// One `[[notice]]`, and the place of its name (for the uniqueness checks across the file).
    pub(super) fn notice(&self, i: usize, value: Spanned<DeValue<'_>>) -> Result<(NoticeConfig, Span), ConfigError> {
        let table = value.span();
        let split = self.split::<NoticeSourceKind>("notice", i, value, super::entry::fields_of::<RawNotice>())?;
        let raw: RawNotice =
            self.deserialize(&format!("notice[{i}]"), toml::de::ValueDeserializer::from(split.shared))?;
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        let entry = Entry::new(self, "notice", "[[notice]]", i, table, raw.allow_insecure_http.unwrap_or(false));
        if name.trim().is_empty() {
            return entry.error(name_span, "name", "a notice needs a non-empty name");
        }
        let config = NoticeConfig {
            name,
            schedule: raw.schedule,
            http: http_limits(raw.timeout, raw.connect_timeout, raw.max_body, raw.allow_insecure_http),
            lead_time: raw.lead_time.map_or(DEFAULT_LEAD_TIME, |d| d.0),
            kind: NoticeSourceKind::read(split.kind, split.own, &entry)?,
        };
        Ok((config, name_span))
    }
}
