//! Atlassian Statuspage, through its public v2 API: upcoming and active maintenance, and unresolved
//! incidents, each list one GET of the page's `/api/v2/…` endpoint.
//!
//! The platform's own status word decides the phase (maintenance `scheduled` → upcoming,
//! `in_progress`/`verifying` → active, `completed` → over; incident `investigating`/`identified`/
//! `monitoring` → active, `resolved`/`postmortem` → over); a word payguard does not know takes the
//! phase of the list it came from. A notice in two lists (a maintenance that started between two
//! requests) is reported once, in its later state.

use chrono::{DateTime, Utc};
use reqwest::header::ACCEPT;
use reqwest::{Client, Url};
use serde_json::Value;

use super::{Fields, MAX_TITLE, MAX_UPDATE, NoticeFuture, Reader, endpoint, no_empty_word, plain_text};
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, host, redacted};
use crate::model::{Notice, NoticeKind, Phase};
use crate::source::SourceError;
use crate::source::fetch::get;
use crate::source::values::kind;

/// The three lists asked for, in the order their notices are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Upcoming,
    Active,
    Unresolved,
}

impl List {
    fn path(self) -> &'static str {
        match self {
            List::Upcoming => "/api/v2/scheduled-maintenances/upcoming.json",
            List::Active => "/api/v2/scheduled-maintenances/active.json",
            List::Unresolved => "/api/v2/incidents/unresolved.json",
        }
    }

    /// The member of the answer that holds the list.
    fn key(self) -> &'static str {
        match self {
            List::Upcoming | List::Active => "scheduled_maintenances",
            List::Unresolved => "incidents",
        }
    }

    /// The phase of a notice in this list whose status word payguard does not know.
    fn phase(self) -> Phase {
        match self {
            List::Upcoming => Phase::Upcoming,
            List::Active | List::Unresolved => Phase::Active,
        }
    }
}

/// `kind = "statuspage"`: the page's root URL, and the components to watch (all when empty).
#[derive(Clone)]
pub struct StatuspageConfig {
    /// The page's root, like `https://status.example.com`.
    pub url: String,
    /// Only incidents and maintenance naming one of these (an empty list keeps all).
    pub components: Vec<String>,
}

/// Shows the URL without the login or query a private page's token may sit in.
impl std::fmt::Debug for StatuspageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatuspageConfig")
            .field("url", &redacted(&self.url))
            .field("components", &self.components)
            .finish()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatuspage {
    url: toml::Spanned<String>,
    components: Option<Vec<String>>,
}

impl crate::config::Kind for StatuspageConfig {
    type Raw = RawStatuspage;

    fn validate(raw: RawStatuspage, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        entry.url(raw.url.span(), "url", raw.url.get_ref(), entry.allow_insecure_http)?;
        no_empty_word(entry, "components", raw.components.as_deref())?;
        Ok(StatuspageConfig { url: raw.url.into_inner(), components: raw.components.unwrap_or_default() })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let StatuspageConfig { url, components: _ } = self;
        found.url("url", url);
    }

    fn describe(&self) -> String {
        host(&self.url)
    }
}

impl super::Kind for StatuspageConfig {
    fn connect(&self, name: &str, client: Client, limits: HttpLimits) -> Result<Box<dyn Reader>, SourceError> {
        Ok(Box::new(Statuspage::new(name.to_owned(), &self.url, self.components.clone(), client, limits)?))
    }
}

struct Statuspage {
    name: String,
    /// The page's root; the API paths are set on it.
    base: Url,
    host: String,
    components: Vec<String>,
    client: Client,
    limits: HttpLimits,
}

impl Statuspage {
    fn new(
        name: String,
        url: &str,
        components: Vec<String>,
        client: Client,
        limits: HttpLimits,
    ) -> Result<Self, SourceError> {
        let (mut base, host) = endpoint(url, &limits)?;
        // The page's root is what people copy, but `…/api/v2` (what the API docs show) means the same.
        let root = base.path().trim_end_matches('/').trim_end_matches("/api/v2").trim_end_matches('/').to_owned();
        base.set_path(&root);
        base.set_query(None);
        base.set_fragment(None);
        Ok(Statuspage { name, base, host, components, client, limits })
    }

    async fn poll(&self) -> Result<Vec<Notice>, SourceError> {
        // The three lists are independent: ask for them at once, and fail if any fails.
        let (upcoming, active, unresolved) =
            tokio::try_join!(self.fetch(List::Upcoming), self.fetch(List::Active), self.fetch(List::Unresolved))?;
        let mut notices: Vec<Notice> = Vec::new();
        for (list, body) in [(List::Upcoming, upcoming), (List::Active, active), (List::Unresolved, unresolved)] {
            let read = read_list(&self.name, list, &body)
                .map_err(|detail| SourceError::Malformed { host: self.host.clone(), detail })?;
            for notice in read {
                merge(&mut notices, notice);
            }
        }
        notices.retain(|n| names_a_component(n, &self.components));
        Ok(notices)
    }

    async fn fetch(&self, list: List) -> Result<Vec<u8>, SourceError> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{}", self.base.path().trim_end_matches('/'), list.path()));
        let request = self.client.get(url).header(ACCEPT, "application/json");
        get(request, &self.host, &self.limits).await
    }
}

impl Reader for Statuspage {
    fn read(&self, _now: DateTime<Utc>) -> NoticeFuture<'_> {
        Box::pin(self.poll())
    }
}

/// Reads one endpoint's answer; errors name the endpoint and the item.
pub fn read_list(source: &str, list: List, body: &[u8]) -> Result<Vec<Notice>, String> {
    let path = list.path();
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("{path}: not JSON ({e})"))?;
    let items = match doc.get(list.key()) {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!("{path}: \"{}\" should be an array, found {}", list.key(), kind(other)));
        }
        None => {
            return Err(format!(
                "{path}: no \"{}\" list in the answer (found {}): is this an Atlassian Statuspage?",
                list.key(),
                kind(&doc)
            ));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| read_item(source, list, item).map_err(|e| format!("{path}: {}[{i}]: {e}", list.key())))
        .collect()
}

fn read_item(source: &str, list: List, item: &Value) -> Result<Notice, String> {
    if !item.is_object() {
        return Err(format!("should be an object, found {}", kind(item)));
    }
    let f = Fields::new(item);
    let id = f.required_text("/id", "id")?;
    let status = f.required_text("/status", "status")?;
    let kind = match list {
        List::Upcoming | List::Active => NoticeKind::Maintenance,
        // Statuspage keeps maintenance as incidents with maintenance words; they may show up here.
        List::Unresolved if is_maintenance_word(&status) => NoticeKind::Maintenance,
        List::Unresolved => NoticeKind::Incident,
    };
    Ok(Notice {
        source: source.to_owned(),
        id,
        kind,
        phase: phase_of(&status).unwrap_or(list.phase()),
        title: plain_text(&f.required_text("/name", "name")?, false, MAX_TITLE),
        impact: f.text("/impact", "impact")?,
        starts_at: f.time("/scheduled_for", "scheduled_for")?,
        ends_at: f.time("/scheduled_until", "scheduled_until")?,
        updated_at: f.time("/updated_at", "updated_at")?,
        url: f.text("/shortlink", "shortlink")?,
        update: newest_update(f.get("/incident_updates"))?,
        components: components(f.get("/components"))?,
        status,
    })
}

/// Statuspage's words, whatever their case.
fn phase_of(status: &str) -> Option<Phase> {
    match status.trim().to_ascii_lowercase().as_str() {
        "scheduled" => Some(Phase::Upcoming),
        "in_progress" | "verifying" | "investigating" | "identified" | "monitoring" => Some(Phase::Active),
        "completed" | "resolved" | "postmortem" => Some(Phase::Over),
        _ => None,
    }
}

fn is_maintenance_word(status: &str) -> bool {
    matches!(status.trim().to_ascii_lowercase().as_str(), "scheduled" | "in_progress" | "verifying" | "completed")
}

/// The body of the newest update: by `created_at`, or the first listed (Statuspage lists newest
/// first) when no update says when it was made.
fn newest_update(updates: Option<&Value>) -> Result<String, String> {
    let updates = match updates {
        None => return Ok(String::new()),
        Some(Value::Array(updates)) => updates,
        Some(other) => return Err(format!("incident_updates should be an array, found {}", kind(other))),
    };
    let mut newest: Option<(Option<DateTime<Utc>>, String)> = None;
    for (i, update) in updates.iter().enumerate() {
        let f = Fields::new(update);
        let at = |e: String| format!("incident_updates[{i}]: {e}");
        let created = f.time("/created_at", "created_at").map_err(at)?;
        let body = f.text("/body", "body").map_err(at)?.unwrap_or_default();
        if newest.as_ref().is_none_or(|(best, _)| created > *best) {
            newest = Some((created, body));
        }
    }
    Ok(newest.map(|(_, body)| plain_text(&body, false, MAX_UPDATE)).unwrap_or_default())
}

/// Component names, from the objects Statuspage sends (plain strings are taken as names too).
fn components(components: Option<&Value>) -> Result<Vec<String>, String> {
    let components = match components {
        None => return Ok(Vec::new()),
        Some(Value::Array(components)) => components,
        Some(other) => return Err(format!("components should be an array, found {}", kind(other))),
    };
    components
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Value::String(name) => Ok(name.clone()),
            _ => Fields::new(c).required_text("/name", "name").map_err(|e| format!("components[{i}]: {e}")),
        })
        .collect()
}

/// Adds `notice`, or replaces the one with its id when `notice` is the later state of it: a phase
/// further on (phases only move forward), or the same phase updated later.
fn merge(notices: &mut Vec<Notice>, notice: Notice) {
    let rank = |p: Phase| match p {
        Phase::Upcoming => 0,
        Phase::Active => 1,
        Phase::Over => 2,
    };
    match notices.iter_mut().find(|n| n.id == notice.id) {
        None => notices.push(notice),
        Some(known) => {
            if (rank(notice.phase), notice.updated_at) > (rank(known.phase), known.updated_at) {
                *known = notice;
            }
        }
    }
}

/// Kept when no filter is set, the notice names no component, or it names a listed one (any case).
fn names_a_component(notice: &Notice, wanted: &[String]) -> bool {
    wanted.is_empty()
        || notice.components.is_empty()
        || notice.components.iter().any(|c| wanted.iter().any(|w| w.trim().eq_ignore_ascii_case(c.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_is_asked_under_the_pages_root() {
        let limits = HttpLimits {
            connect_timeout: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            max_body: 1,
            allow_insecure_http: false,
        };
        for url in ["https://status.example.com", "https://status.example.com/", "https://status.example.com/api/v2/"] {
            let page = Statuspage::new("s".into(), url, Vec::new(), Client::new(), limits);
            assert_eq!(page.map(|p| p.base.path().to_owned()).ok().as_deref(), Some("/"), "{url}");
        }
    }

    #[test]
    fn statuspage_words_map_to_phases() {
        assert_eq!(phase_of("scheduled"), Some(Phase::Upcoming));
        assert_eq!(phase_of("In_Progress"), Some(Phase::Active));
        assert_eq!(phase_of("postmortem"), Some(Phase::Over));
        assert_eq!(phase_of("paused"), None);
    }
}
