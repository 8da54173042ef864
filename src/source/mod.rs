//! Sources: the account APIs payguard polls, one file per protocol behind one `poll` call.
//!
//! A poll either yields an [`Observation`] per account or says why not. Answers are treated as
//! hostile: every size and time is capped, unknown fields are ignored, and an account whose data is
//! unusable in any part is a failed account, never a half-read one.

mod error;
mod fetch;
mod http_json;
pub mod notices;
mod simplefin;
mod values;

use chrono::{DateTime, Utc};

use crate::config::{SourceConfig, SourceKind};
use crate::model::Observation;

pub use error::SourceError;
pub use fetch::{check_url, host_of, post};
pub use http_json::HttpJson;
pub use simplefin::SimpleFin;

/// What one poll of one source produced.
#[derive(Debug, Default)]
pub struct Poll {
    /// One entry per account asked for, in the order asked.
    pub accounts: Vec<(String, Result<Observation, SourceError>)>,
    /// Accounts the source reported that no `[[account]]` names: not watched, worth a warning.
    pub unconfigured: Vec<String>,
    /// Problems the platform reported alongside usable data (SimpleFIN `errors`).
    pub warnings: Vec<String>,
}

/// A configured source, ready to poll.
pub enum Source {
    SimpleFin(SimpleFin),
    HttpJson(HttpJson),
}

impl Source {
    pub fn new(config: &SourceConfig) -> Result<Source, SourceError> {
        let client = fetch::client(&config.http)?;
        Ok(match &config.kind {
            SourceKind::SimpleFin { access_url } => {
                Source::SimpleFin(SimpleFin::new(&config.name, access_url, client, config.http)?)
            }
            SourceKind::HttpJson(http) => {
                Source::HttpJson(HttpJson::new(&config.name, http.clone(), client, config.http))
            }
        })
    }

    /// Polls `accounts` for their balance and for transactions posted since `since`.
    ///
    /// `Err` means nothing usable came back at all (the platform is down, refused us, or answered
    /// nonsense); per-account failures are inside the [`Poll`].
    pub async fn poll(
        &self,
        accounts: &[String],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        match self {
            Source::SimpleFin(s) => s.poll(accounts, since, now).await,
            Source::HttpJson(s) => Ok(s.poll(accounts, since, now).await),
        }
    }
}
