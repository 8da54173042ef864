//! The configuration file: its TOML schema, validation, and secret resolution.
//!
//! Loading is strict: unknown keys are errors, every value is checked where it is read, and every
//! error names the file, line, column and key. What comes out ([`Config`]) is typed and consistent,
//! so the rest of payguard never re-validates.

mod alerting;
mod auth;
mod channel;
mod entry;
mod error;
mod file;
mod group;
mod messages;
mod notice;
mod permissions;
mod schedule;
mod schema;
mod secret;
mod source;
mod url;
mod values;

use std::path::{Path, PathBuf};

use crate::detect::Rules;
use crate::model::AccountRef;
use crate::source::SourceKind;

pub use alerting::Support;
pub use auth::{HttpAuth, RawAuth};
pub use channel::ChannelConfig;
pub(crate) use entry::kinds;
pub use entry::{Entry, Kind, Registry, fields_of};
pub use error::ConfigError;
pub use group::{ControlGroup, GroupError, resolve as resolve_group};
pub use notice::NoticeConfig;
pub use permissions::{Credentials, secrets_of, secrets_of_kind};
pub use schedule::Schedule;
pub use secret::{Lookup, Secret, SecretFile, Secrets, Unresolved, resolve as resolve_secret};
pub use url::{host, is_loopback_host, redacted, secret_host, secure_url};
pub use values::{Amount, ByteSize, Duration, Percent, TimeZone};

/// Where the daemon looks when neither `--config` nor `$PAYGUARD_CONFIG` says.
pub const DEFAULT_PATH: &str = "/etc/payguard/payguard.toml";

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub sources: Vec<SourceConfig>,
    pub accounts: Vec<AccountConfig>,
    /// Status pages and feeds (`[[notice]]`).
    pub notices: Vec<NoticeConfig>,
    pub channels: Vec<ChannelConfig>,
    /// Repeats, resolutions, routes and quiet hours.
    pub alerting: crate::alert::Policy,
    /// A delivery still failing after this long is given up (and logged as expired).
    pub max_delivery_age: chrono::TimeDelta,
    pub support: Support,
    /// What is allowed but risky: credentials others on the machine can read, plain http to
    /// another host. `payguard check` prints these; [`Config::load`] logs them.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Where the sled database lives.
    pub state_dir: PathBuf,
    /// The wall clock that schedules are read on.
    pub timezone: chrono_tz::Tz,
    pub language: Language,
    /// Where the daemon answers the command line; see `control::socket_path` for the default.
    pub control_socket: Option<PathBuf>,
    /// The group that may use the control socket too (mode 0660 instead of 0600), resolved to its
    /// gid when the config is loaded so a missing group stops the daemon at startup.
    pub control_group: Option<ControlGroup>,
    /// Snapshots and transactions older than this are pruned daily (the audit log never is).
    pub retention: chrono::TimeDelta,
    /// Where to serve Prometheus metrics (`GET /metrics`); off when unset.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum Language {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub schedule: Schedule,
    pub http: HttpLimits,
    pub kind: SourceKind,
    pub polling: Polling,
}

/// How a source is polled politely, and when its silence becomes a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polling {
    /// Never more requests than this in any 24 hours (SimpleFIN bridges ask for at most 24).
    pub max_requests_per_day: Option<u32>,
    /// Each poll re-reads this much before the last one, so late-posted transactions are caught.
    pub overlap: chrono::TimeDelta,
    /// `source_down` fires after this many failed polls in a row (at once for refused credentials).
    pub down_after: u32,
    /// The `[[notice]]` whose maintenance windows explain this source's outages.
    pub notice: Option<String>,
    /// `consent_expiry` warns this long before a provider's consent ends.
    pub consent_warning: chrono::TimeDelta,
}

impl Polling {
    /// The defaults for a kind of source: some ask for a daily budget (SimpleFIN's bridge for 24).
    pub fn defaults(kind: &SourceKind) -> Polling {
        Polling {
            max_requests_per_day: kind.get().default_budget(),
            overlap: chrono::TimeDelta::days(5),
            down_after: 3,
            notice: None,
            consent_warning: chrono::TimeDelta::days(7),
        }
    }
}

/// Limits on every request a source makes, so no answer can hang or flood the daemon.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub connect_timeout: std::time::Duration,
    pub timeout: std::time::Duration,
    pub max_body: u64,
    /// The entry's `allow_insecure_http`: plain http to hosts other than this machine.
    pub allow_insecure_http: bool,
}

impl HttpLimits {
    /// For the setup commands a person runs before any config exists (linking a bank, `init`):
    /// a few requests, each allowed a generous answer.
    pub const SETUP: HttpLimits = HttpLimits {
        connect_timeout: std::time::Duration::from_secs(10),
        timeout: std::time::Duration::from_secs(30),
        max_body: 16 << 20,
        allow_insecure_http: false,
    };
}

#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub account: AccountRef,
    pub name: String,
    pub rules: Rules,
}

impl Config {
    /// Reads and validates the file at `path` with every secret resolved, for what sends requests.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, Secrets::Resolve)
    }

    /// Reads and validates the file at `path`, treating its secrets as `secrets` says, and judges
    /// its permissions: a file anyone may write is refused before it is read any further (it could
    /// name any file as a secret); one others may read is warned about when it holds a credential.
    /// Warnings are logged.
    pub fn load_with(path: &Path, secrets: Secrets) -> Result<Config, ConfigError> {
        use permissions::{Role, Verdict};
        let (text, mode) = permissions::read(path)?;
        if let Verdict::Refuse(message) = permissions::judge(path, mode, Role::Config { inline_secrets: &[] }) {
            return Err(ConfigError::unplaced(path, message));
        }
        let mut config = secret::in_mode(secrets, || Self::parse(&text, path))?;
        let inline_secrets = permissions::inline_secrets(&config);
        if let Verdict::Warn(message) = permissions::judge(path, mode, Role::Config { inline_secrets: &inline_secrets })
        {
            config.warnings.insert(0, message);
        }
        for warning in &config.warnings {
            tracing::warn!(config = %path.display(), "{warning}");
        }
        Ok(config)
    }

    /// Validates `text` as if it had been read from `path` (which errors name). Nothing is logged;
    /// `warnings` holds what is risky.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config = schema::parse(text, path)?;
        config.warnings.extend(permissions::secret_file_warnings(&config));
        Ok(config)
    }

    pub fn account(&self, account: &AccountRef) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| &a.account == account)
    }

    /// The configured accounts of one source.
    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.name == name)
    }

    pub fn accounts_of<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a AccountConfig> + 'a {
        self.accounts.iter().filter(move |a| a.account.source == source)
    }
}
