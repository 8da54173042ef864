//! `[[source]]`: the keys every account source shares (name, schedule, limits, politeness); the
//! kind's own keys are read by the kind (`crate::source::SourceKind`).

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::entry::{Entry, Registry};
use super::schema::Validator;
use super::values::{ByteSize, Count, Duration};
use super::{ConfigError, HttpLimits, Polling, Schedule, SourceConfig};
use crate::source::SourceKind;

/// The keys of a `[[source]]` that are not its kind's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    #[allow(dead_code)] // read first, by `Validator::split`
    kind: String,
    schedule: Schedule,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_body: Option<ByteSize>,
    max_requests_per_day: Option<Count>,
    overlap: Option<Spanned<Duration>>,
    down_after: Option<Count>,
    notice: Option<Spanned<String>>,
    consent_warning: Option<Duration>,
    /// Plain http to a host other than this machine, for every URL of this source.
    allow_insecure_http: Option<bool>,
}

/// A source and where its name and its `notice` are written, for the checks across the file.
pub(super) struct Read {
    pub source: SourceConfig,
    pub name_span: std::ops::Range<usize>,
    pub notice_span: Option<std::ops::Range<usize>>,
}

impl Validator<'_> {
    pub(super) fn source(&self, i: usize, value: Spanned<DeValue<'_>>) -> Result<Read, ConfigError> {
        let table = value.span();
        let split = self.split::<SourceKind>("source", i, value, super::entry::fields_of::<RawSource>())?;
        let raw: RawSource =
            self.deserialize(&format!("source[{i}]"), toml::de::ValueDeserializer::from(split.shared))?;
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        let entry = Entry::new(self, "source", "[[source]]", i, table, raw.allow_insecure_http.unwrap_or(false));
        if name.trim().is_empty() {
            return entry.error(name_span, "name", "a source needs a non-empty name");
        }
        let kind = SourceKind::read(split.kind, split.own, &entry)?;
        let http = http_limits(raw.timeout, raw.connect_timeout, raw.max_body, raw.allow_insecure_http);
        let defaults = Polling::defaults(&kind);
        if let Some(overlap) = &raw.overlap
            && overlap.get_ref().0 > chrono::TimeDelta::days(90)
        {
            return entry.error(
                overlap.span(),
                "overlap",
                "overlap is at most 90 days (providers serve no more history to a program)",
            );
        }
        let notice_span = raw.notice.as_ref().map(Spanned::span);
        let polling = Polling {
            max_requests_per_day: raw.max_requests_per_day.map(|c| c.0).or(defaults.max_requests_per_day),
            overlap: raw.overlap.map_or(defaults.overlap, |o| o.into_inner().0),
            down_after: raw.down_after.map_or(defaults.down_after, |c| c.0),
            notice: raw.notice.map(|n| n.into_inner()),
            consent_warning: raw.consent_warning.map_or(defaults.consent_warning, |d| d.0),
        };
        Ok(Read { source: SourceConfig { name, schedule: raw.schedule, http, kind, polling }, name_span, notice_span })
    }
}

/// The request limits (and plain-http allowance) of a `[[source]]` or `[[notice]]`, with the
/// defaults both share.
pub(super) fn http_limits(
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_body: Option<ByteSize>,
    allow_insecure_http: Option<bool>,
) -> HttpLimits {
    HttpLimits {
        connect_timeout: connect_timeout.map_or(std::time::Duration::from_secs(10), Duration::to_std),
        timeout: timeout.map_or(std::time::Duration::from_secs(30), Duration::to_std),
        max_body: max_body.map_or(16 << 20, |b| b.0),
        allow_insecure_http: allow_insecure_http.unwrap_or(false),
    }
}
