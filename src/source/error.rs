//! Why a poll failed, and whether trying again later can help.

/// A failed poll. Messages never contain a credential or a credential-bearing URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{host} did not answer within {seconds}s")]
    Timeout { host: String, seconds: u64 },
    #[error(
        "{host} refused the credentials{}: they may have been revoked or changed; if you did not do that, someone else may have",
        if *status == 0 { String::new() } else { format!(" (HTTP {status})") }
    )]
    /// `status` 0: refused by a protocol other than HTTP (an IMAP login).
    Auth { host: String, status: u16 },
    /// The person's consent to read the accounts has run out or was withdrawn: only they can
    /// renew it at their bank, so this is said at once, with how.
    #[error("access to the accounts at {host} has ended: {detail}")]
    ConsentExpired { host: String, detail: String },
    #[error("{host} is rate-limiting us (HTTP 429){}", retry_after.map(|s| format!("; it asks us to wait {s}s")).unwrap_or_default())]
    RateLimited { host: String, retry_after: Option<u64> },
    #[error("{host} answered HTTP {status}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Status { host: String, status: u16, detail: String },
    #[error("{host} sent more than {limit} bytes; the answer was dropped (raise max_body if this is expected)")]
    TooLarge { host: String, limit: u64 },
    /// The answer started and broke off: a connection dropped mid-body, or a body shorter than its
    /// `Content-Length`.
    #[error("{host} broke off its answer after {received}{} bytes ({reason})", expected.map(|n| format!(" of {n}")).unwrap_or_default())]
    BrokenOff { host: String, received: u64, expected: Option<u64>, reason: String },
    #[error("{host} answered with data payguard cannot use: {detail}")]
    Malformed { host: String, detail: String },
    #[error("the platform reported: {0}")]
    Platform(String),
    #[error("the source did not report account {0}: check the account id in the config")]
    MissingAccount(String),
    #[error("invalid source setup: {0}")]
    Setup(String),
}

/// A source built from a config loaded without its secrets: a setup mistake in payguard itself.
impl From<crate::config::Unresolved> for SourceError {
    fn from(unresolved: crate::config::Unresolved) -> Self {
        SourceError::Setup(unresolved.to_string())
    }
}

impl SourceError {
    /// Whether polling again later can succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Unreachable { .. }
            | SourceError::Timeout { .. }
            | SourceError::RateLimited { .. }
            | SourceError::BrokenOff { .. }
            | SourceError::Platform(_) => true,
            SourceError::Status { status, .. } => *status >= 500,
            SourceError::Auth { .. }
            | SourceError::ConsentExpired { .. }
            | SourceError::TooLarge { .. }
            | SourceError::Malformed { .. }
            | SourceError::MissingAccount(_)
            | SourceError::Setup(_) => false,
        }
    }
}
