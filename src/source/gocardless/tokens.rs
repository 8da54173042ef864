//! Access tokens: minted from the user secrets (`POST /api/v2/token/new/`, an access token for a
//! day and a refresh token for a month), refreshed before they run out
//! (`POST /api/v2/token/refresh/`), minted again once the refresh token has run out or is refused.
//! Kept in memory, and in the store between runs (`kept`, `restore`), so a restart refreshes
//! rather than sending the secrets again; never logged, never in an error.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::GoCardless;
use crate::config::Secret;
use crate::source::SourceError;

/// A token this close to its end is treated as ended: a poll must not start with one that runs out
/// mid-way.
const MARGIN: TimeDelta = TimeDelta::minutes(5);

#[derive(Default)]
pub(super) struct Cache {
    tokens: Mutex<Option<Tokens>>,
    /// New tokens since the store last took them.
    changed: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
struct Tokens {
    access: Secret,
    access_until: DateTime<Utc>,
    refresh: Secret,
    refresh_until: DateTime<Utc>,
}

impl Cache {
    /// An access token good for a poll from `now`.
    pub(super) async fn access(&self, source: &GoCardless, now: DateTime<Utc>) -> Result<Secret, SourceError> {
        let held = self.tokens.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let good = |until: DateTime<Utc>| now.checked_add_signed(MARGIN).is_some_and(|soon| soon < until);
        let tokens = match held {
            Some(t) if good(t.access_until) => return Ok(t.access),
            Some(t) if good(t.refresh_until) => match refresh(source, &t, now).await {
                Ok(tokens) => tokens,
                // A refresh token the provider no longer takes: start again from the secrets.
                Err(SourceError::Auth { .. }) => mint(source, now).await?,
                Err(e) => return Err(e),
            },
            _ => mint(source, now).await?,
        };
        let access = tokens.access.clone();
        *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) = Some(tokens);
        self.changed.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(access)
    }

    /// The tokens, for the store, when they changed since last asked.
    pub(super) fn kept(&self) -> Option<Vec<u8>> {
        if !self.changed.swap(false, std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let held = self.tokens.lock().unwrap_or_else(PoisonError::into_inner).clone()?;
        let kept = json!({
            "access": held.access.expose().ok()?,
            "access_until": held.access_until,
            "refresh": held.refresh.expose().ok()?,
            "refresh_until": held.refresh_until,
        });
        Some(kept.to_string().into_bytes())
    }

    /// Takes back tokens an earlier run kept; anything unreadable is ignored (new ones are minted).
    pub(super) fn restore(&self, kept: &[u8]) {
        let Ok(doc) = serde_json::from_slice::<Value>(kept) else { return };
        let text = |name: &str| doc.get(name).and_then(Value::as_str).map(Secret::new);
        let time = |name: &str| {
            doc.get(name).and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc())
        };
        if let (Some(access), Some(access_until), Some(refresh), Some(refresh_until)) =
            (text("access"), time("access_until"), text("refresh"), time("refresh_until"))
        {
            *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Tokens { access, access_until, refresh, refresh_until });
        }
    }

    /// Drops the access token (the provider refused it), keeping the refresh token.
    pub(super) fn forget_access(&self) {
        if let Some(tokens) = self.tokens.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            tokens.access_until = DateTime::<Utc>::MIN_UTC;
        }
    }
}

async fn mint(source: &GoCardless, now: DateTime<Utc>) -> Result<Tokens, SourceError> {
    let body = json!({
        "secret_id": source.config.secret_id.expose()?,
        "secret_key": source.config.secret_key.expose()?,
    });
    let sent = [source.config.secret_id.clone(), source.config.secret_key.clone()];
    let doc = source.posted(source.post_request("/api/v2/token/new/", &body), &sent).await?;
    let (access, access_until) = token(source, &doc, "access", now)?;
    let (refresh, refresh_until) = token(source, &doc, "refresh", now)?;
    Ok(Tokens { access, access_until, refresh, refresh_until })
}

async fn refresh(source: &GoCardless, held: &Tokens, now: DateTime<Utc>) -> Result<Tokens, SourceError> {
    let body = json!({ "refresh": held.refresh.expose()? });
    let sent = std::slice::from_ref(&held.refresh);
    let doc = source.posted(source.post_request("/api/v2/token/refresh/", &body), sent).await?;
    let (access, access_until) = token(source, &doc, "access", now)?;
    Ok(Tokens { access, access_until, ..held.clone() })
}

/// `name` and `name_expires` (seconds from now) of a token answer.
fn token(
    source: &GoCardless,
    doc: &Value,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(Secret, DateTime<Utc>), SourceError> {
    let value = doc.get(name).and_then(Value::as_str).filter(|t| !t.is_empty());
    let seconds = doc.get(format!("{name}_expires")).and_then(Value::as_i64);
    match (value, seconds) {
        (Some(value), Some(seconds)) => {
            Ok((Secret::new(value), now + TimeDelta::seconds(seconds.clamp(0, 366 * 86_400))))
        }
        _ => Err(source.malformed(format!("the token answer has no {name} with {name}_expires"))),
    }
}
