//! `[[notice]]`: the platform status pages and feeds to watch for maintenance and incidents.

use chrono::TimeDelta;

use super::{HttpLimits, Schedule};

#[derive(Debug, Clone)]
pub struct NoticeConfig {
    pub name: String,
    pub schedule: Schedule,
    pub http: HttpLimits,
    /// Maintenance is announced again (as a warning) this long before it starts.
    pub lead_time: TimeDelta,
    pub kind: NoticeSourceKind,
}

#[derive(Debug, Clone)]
pub enum NoticeSourceKind {
    /// An Atlassian Statuspage (v2 public API) at `url`.
    Statuspage { url: String },
}
