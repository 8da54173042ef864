//! A provider's own JSON API under one `api_base` that hands lists out a page at a time (Up's
//! `links.next`, Akahu's `cursor.next`): URLs built under the base, answers read as JSON through
//! the one capped GET, and every list bounded.
//!
//! A provider's answer says where the next page is, so a broken or hostile one could send a poll
//! round in circles or on forever, each page a request of the day's budget; [`Pages`] stops a list
//! that repeats a page or runs past [`MAX_PAGES`]. A next link is followed only to the origin of
//! `api_base`, where the credentials already go: they are sent nowhere an answer points.

use std::collections::{HashMap, HashSet};

use reqwest::{Client, RequestBuilder, Url};
use serde_json::Value;

use super::fetch::{check_url, get, host_of};
use super::values::{kind, text, unreadable};
use super::{Poll, SourceError};
use crate::config::{HttpLimits, Secret};
use crate::model::Observation;
use crate::redact::redact;

/// The most pages one list may take in one poll: 50 pages of 100 transactions is more than a
/// person's account makes in the month a first poll reads.
pub(super) const MAX_PAGES: usize = 50;

/// A provider's API at `api_base`, asked with the source's client and limits.
pub(super) struct Api {
    base: Url,
    /// How errors name the API: host and port only.
    pub host: String,
    client: Client,
    limits: HttpLimits,
    /// The credentials the kind sends, cut out of whatever of an answer an error shows.
    credentials: Vec<Secret>,
}

impl Api {
    pub fn new(
        api_base: &str,
        credentials: &[&Secret],
        client: Client,
        limits: HttpLimits,
    ) -> Result<Api, SourceError> {
        let base = check_url(api_base, limits.allow_insecure_http).map_err(SourceError::Setup)?;
        let credentials = credentials.iter().map(|c| (*c).clone()).collect();
        Ok(Api { host: host_of(&base), base, client, limits, credentials })
    }

    /// The base with `segments` appended, each percent-encoded as one segment (an account id
    /// with a `/` in it stays one segment).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Infallible: `check_url` admits only http(s) URLs, which always have a path.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A GET of `url`; the caller adds the credentials.
    pub fn get(&self, url: Url) -> RequestBuilder {
        self.client.get(url)
    }

    /// A next-page link as a URL, absolute or relative to the base, if it stays where the
    /// credentials already go.
    pub fn link(&self, link: &str) -> Result<Url, SourceError> {
        let url = self.base.join(link).map_err(|e| self.malformed(format!("its next-page link is not a URL ({e})")))?;
        if url.origin() != self.base.origin() {
            return Err(self.malformed(format!(
                "its next-page link leads to {}, and payguard sends the credentials only to {}",
                host_of(&url),
                self.host
            )));
        }
        Ok(url)
    }

    /// Sends `request` and reads the answer as JSON.
    pub async fn json(&self, request: RequestBuilder) -> Result<Value, SourceError> {
        let body = get(request, &self.host, &self.limits).await?;
        serde_json::from_slice(&body).map_err(|_| self.malformed(self.not_json(&body)))
    }

    /// Why `body` is not JSON, with the text around the spot. An answer may echo the request, and
    /// the spot may be inside a token, where a snippet would show part of it that no redaction
    /// of the whole token would find: so the credentials are cut out of the body first.
    pub fn not_json(&self, body: &[u8]) -> String {
        unreadable(body, &self.credentials)
    }

    /// An answer payguard cannot use, in words that never hold the credentials.
    pub fn malformed(&self, detail: String) -> SourceError {
        SourceError::Malformed { host: self.host.clone(), detail: redact(detail, &self.credentials) }
    }
}

/// The pages of one list read so far, by the key that asks for each (its URL or cursor).
pub(super) struct Pages {
    what: String,
    seen: HashSet<String>,
}

impl Pages {
    /// A new list; `what` names it in errors ("transactions of account X").
    pub fn new(what: impl Into<String>) -> Pages {
        Pages { what: what.into(), seen: HashSet::new() }
    }

    /// Notes that the page `key` is about to be asked for: an error if it was read already (the
    /// links loop) or the list would take more than [`MAX_PAGES`].
    pub fn turn(&mut self, api: &Api, key: &str) -> Result<(), SourceError> {
        if !self.seen.insert(key.to_owned()) {
            return Err(api.malformed(format!("the {} link back to a page already read", self.what)));
        }
        if self.seen.len() > MAX_PAGES {
            return Err(api.malformed(format!(
                "the {} run past {MAX_PAGES} pages; payguard stops there rather than follow next-page links for ever",
                self.what
            )));
        }
        Ok(())
    }
}

/// The array at `key` of an answer.
pub(super) fn items<'a>(answer: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match answer.get(key) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("`{key}` should be an array, found {}", kind(other))),
        None => Err(format!("no `{key}` in the answer")),
    }
}

/// Where the next page is, at `pointer` (like `/links/next`): text, or null or absent at the end.
pub(super) fn next_of(answer: &Value, pointer: &str) -> Result<Option<String>, String> {
    match answer.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(next)) if next.is_empty() => Ok(None),
        Some(Value::String(next)) => Ok(Some(next.clone())),
        Some(other) => Err(format!("`{pointer}` should be text or null, found {}", kind(other))),
    }
}

/// The `api_base` a config wrote, checked by the URL rule, or the provider's `default`.
pub(super) fn api_base(
    written: Option<toml::Spanned<String>>,
    default: &str,
    entry: &crate::config::Entry<'_>,
) -> Result<String, crate::config::ConfigError> {
    let Some(written) = written else { return Ok(default.to_owned()) };
    entry.url(written.span(), "api_base", written.get_ref(), entry.allow_insecure_http)?;
    Ok(written.into_inner())
}

/// A provider's account list sorted out against the accounts a poll wants, and the poll that
/// grows as each is read.
pub(super) struct Listing<'a> {
    by_id: HashMap<String, &'a Value>,
    poll: Poll,
}

impl<'a> Listing<'a> {
    /// The accounts of `listed`, each known by its `id_key` (`id`, `_id`); those not `wanted` are
    /// reported as unconfigured. An account without an id makes the list unusable.
    pub fn new(api: &Api, listed: &'a [Value], id_key: &str, wanted: &[String]) -> Result<Self, SourceError> {
        let wanted: HashSet<&str> = wanted.iter().map(String::as_str).collect();
        let mut listing = Listing { by_id: HashMap::new(), poll: Poll::default() };
        for (i, account) in listed.iter().enumerate() {
            let Some(id) = account.get(id_key).and_then(|v| text(v, id_key).ok()) else {
                return Err(api.malformed(format!("accounts[{i}] has no `{id_key}`")));
            };
            if wanted.contains(id.as_str()) {
                // Listed twice: the first listing counts.
                listing.by_id.entry(id).or_insert(account);
            } else {
                listing.poll.unconfigured.push(id);
            }
        }
        Ok(listing)
    }

    /// Reads each `wanted` account, in order, with `read` (given its id and its listing). One the
    /// provider does not list fails alone; refused credentials or a rate limit are the whole
    /// source's and end the poll; anything else fails only the account.
    pub async fn read_each<'w, Reading>(
        mut self,
        wanted: &'w [String],
        read: impl Fn(&'w str, &'a Value) -> Reading,
    ) -> Result<Poll, SourceError>
    where
        Reading: Future<Output = Result<Observation, SourceError>>,
    {
        let by_id = &self.by_id;
        self.poll.accounts = read_accounts(wanted, |id| by_id.get(id).copied(), read).await?;
        Ok(self.poll)
    }
}

/// Reads each `wanted` account, in order: `listed` finds what the provider says of it, `read`
/// reads it from that. One the provider does not list fails alone; an error that is the whole
/// source's (see [`is_the_sources`]) ends the poll, since the other accounts would meet it too.
pub(super) async fn read_accounts<'w, Listed, Reading>(
    wanted: &'w [String],
    listed: impl Fn(&str) -> Option<Listed>,
    read: impl Fn(&'w str, Listed) -> Reading,
) -> Result<Vec<(String, Result<Observation, SourceError>)>, SourceError>
where
    Reading: Future<Output = Result<Observation, SourceError>>,
{
    let mut accounts = Vec::with_capacity(wanted.len());
    for id in wanted {
        let result = match listed(id) {
            Some(account) => read(id, account).await,
            None => Err(SourceError::MissingAccount(id.clone())),
        };
        if let Err(e) = &result
            && is_the_sources(e)
        {
            return Err(e.clone());
        }
        accounts.push((id.clone(), result));
    }
    Ok(accounts)
}

/// Whether an error met while reading one account is the whole source's: refused credentials,
/// an ended consent and rate limits say nothing about the account, and the engine must see them
/// as the poll's (`source_down` at once, `Retry-After`).
fn is_the_sources(error: &SourceError) -> bool {
    matches!(error, SourceError::Auth { .. } | SourceError::ConsentExpired { .. } | SourceError::RateLimited { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        let limits = HttpLimits {
            connect_timeout: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            max_body: 1024,
            allow_insecure_http: false,
        };
        Api::new("https://api.example.com/api/v1", &[], Client::new(), limits).expect("an api")
    }

    #[test]
    fn urls_stay_under_the_base_and_links_at_its_origin() {
        let api = api();
        assert_eq!(
            api.url(&["accounts", "a/b c", "transactions"]).as_str(),
            "https://api.example.com/api/v1/accounts/a%2Fb%20c/transactions"
        );
        let next = api.link("https://api.example.com/api/v1/accounts?page[after]=x").map(|u| u.to_string());
        assert_eq!(next.ok().as_deref(), Some("https://api.example.com/api/v1/accounts?page[after]=x"));
        assert!(api.link("/api/v1/accounts?cursor=2").is_ok(), "relative to the base");
        for elsewhere in [
            "https://evil.example.net/api/v1/accounts",
            "http://api.example.com/api/v1/accounts",
            "https://api.example.com:8443/x",
        ] {
            let error = api.link(elsewhere).map(drop).expect_err(elsewhere).to_string();
            assert!(error.starts_with("api.example.com answered") && error.contains("credentials only to"), "{error}");
        }
    }

    #[test]
    fn a_list_that_loops_or_runs_on_is_stopped() {
        let api = api();
        let mut pages = Pages::new("transactions of account A");
        assert!(pages.turn(&api, "1").is_ok() && pages.turn(&api, "2").is_ok());
        let looped = pages.turn(&api, "1").map(drop).expect_err("a repeat").to_string();
        assert!(looped.contains("link back to a page already read"), "{looped}");
        let mut pages = Pages::new("accounts");
        for i in 0..MAX_PAGES {
            assert!(pages.turn(&api, &i.to_string()).is_ok(), "page {i}");
        }
        let endless = pages.turn(&api, "one more").map(drop).expect_err("past the bound").to_string();
        assert!(endless.contains("run past 50 pages") && endless.starts_with("api.example.com"), "{endless}");
    }

    #[test]
    fn next_links_and_items() {
        let page =
            serde_json::json!({"data": [1, 2], "links": {"next": null}, "cursor": {"next": "c2"}, "bad": {"next": 3}});
        assert_eq!(items(&page, "data").map(<[Value]>::len), Ok(2));
        assert!(items(&page, "links").is_err_and(|e| e.contains("should be an array")));
        assert_eq!(next_of(&page, "/links/next"), Ok(None));
        assert_eq!(next_of(&page, "/cursor/next"), Ok(Some("c2".to_owned())));
        assert_eq!(next_of(&page, "/nothing/here"), Ok(None));
        assert!(next_of(&page, "/bad/next").is_err());
    }
}
