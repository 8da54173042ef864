//! `[[channel]]`: the keys every channel shares (name, hourly limit); the kind's own keys are read
//! by the kind (`crate::notify::ChannelKind`).

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::ConfigError;
use super::entry::{Entry, Registry};
use super::schema::Validator;
use crate::notify::ChannelKind;

#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// At most this many messages an hour; the rest are folded into one digest, never dropped.
    pub max_per_hour: Option<u32>,
}

/// The keys of a `[[channel]]` that are not its kind's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    #[allow(dead_code)] // read first, by `Validator::split`
    kind: String,
    max_per_hour: Option<u32>,
}

type Span = std::ops::Range<usize>;

impl Validator<'_> {
    /// One `[[channel]]`, and the place of its name (for the uniqueness check across the file).
    pub(super) fn channel(&self, i: usize, value: Spanned<DeValue<'_>>) -> Result<(ChannelConfig, Span), ConfigError> {
        let table = value.span();
        let split = self.split::<ChannelKind>("channel", i, value, super::entry::fields_of::<RawChannel>())?;
        let raw: RawChannel =
            self.deserialize(&format!("channel[{i}]"), toml::de::ValueDeserializer::from(split.shared))?;
        let entry = Entry::new(self, "channel", "[[channel]]", i, table, false);
        if raw.max_per_hour == Some(0) {
            return entry.missing("max_per_hour", "max_per_hour must be at least 1 (leave it out for no limit)");
        }
        let name_span = raw.name.span();
        let kind = ChannelKind::read(split.kind, split.own, &entry)?;
        Ok((ChannelConfig { name: raw.name.into_inner(), kind, max_per_hour: raw.max_per_hour }, name_span))
    }
}
