//! Notice sources: platform status pages and feeds, read into [`Notice`]s.

use chrono::{DateTime, Utc};

use super::SourceError;
use crate::config::NoticeConfig;
use crate::model::Notice;

/// A configured notice source, ready to poll.
pub struct NoticeSource {
    config: NoticeConfig,
}

impl NoticeSource {
    pub fn new(config: &NoticeConfig) -> Result<NoticeSource, SourceError> {
        Ok(NoticeSource { config: config.clone() })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Every notice the source lists now: upcoming and active maintenance, unresolved incidents
    /// (and whatever it still lists as finished).
    pub async fn poll(&self, _now: DateTime<Utc>) -> Result<Vec<Notice>, SourceError> {
        Err(SourceError::Setup("notice sources are not built yet".to_owned()))
    }
}
