//! Notice sources: platform status pages and feeds, read into [`Notice`]s.
//!
//! One file or folder per kind ([`statuspage`], [`feed`], [`http_json`]), each with its settings and
//! its [`Reader`], listed once in [`NoticeSourceKind`], behind one `poll` call. Like the
//! account sources, every request goes through the one capped, timed GET in `fetch`, and answers are
//! hostile: unknown fields are ignored, a field of the wrong type fails the whole poll with
//! [`SourceError::Malformed`] naming the place, and nothing is guessed. A poll that cannot read every
//! list it asks for fails as a whole, because a missing list would look like every notice in it had
//! ended. The same id is reported once per poll.

pub mod feed;
pub mod http_json;
pub mod statuspage;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde_json::Value;

use super::SourceError;
use super::fetch::{check_url, client, host_of};
use super::values::{text, time};
use crate::config::{ConfigError, Entry, HttpLimits, NoticeConfig};
use crate::model::{Notice, short_hash};
use crate::text;

crate::config::kinds! {
    /// The kinds of notice source, each with its settings.
    pub enum NoticeSourceKind: dyn Kind {
        Statuspage(statuspage::StatuspageConfig) = "statuspage",
        Feed(feed::FeedConfig) = "feed",
        HttpJson(http_json::NoticeHttpJsonConfig) = "http-json",
    }
}

/// What payguard asks of every kind of notice source.
pub trait Kind {
    /// The kind's reader for the notice source `name`, asking with `client`, which keeps `limits`.
    fn connect(&self, name: &str, client: reqwest::Client, limits: HttpLimits) -> Result<Box<dyn Reader>, SourceError>;
}

/// A kind's work: every notice its source lists now (see [`NoticeSource::poll`]).
pub trait Reader: Send + Sync {
    fn read(&self, now: DateTime<Utc>) -> NoticeFuture<'_>;
}

/// What [`Reader::read`] returns: kinds are many, so the future is boxed.
pub type NoticeFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Vec<Notice>, SourceError>> + Send + 'a>>;

/// A configured notice source, ready to poll.
pub struct NoticeSource {
    config: NoticeConfig,
    reader: Box<dyn Reader>,
    /// The kind's credentials, cut out of every error a poll returns.
    secrets: Vec<crate::config::Secret>,
}

impl NoticeSource {
    pub fn new(config: &NoticeConfig) -> Result<NoticeSource, SourceError> {
        let reader = config.kind.get().connect(&config.name, client(&config.http)?, config.http)?;
        Ok(NoticeSource { config: config.clone(), reader, secrets: crate::config::secrets_of(&config.kind) })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &NoticeConfig {
        &self.config
    }

    /// Every notice the source lists now: upcoming and active maintenance, unresolved incidents
    /// (and whatever it still lists as finished), after the configured filters.
    ///
    /// `now` places the notices of an http-json source whose status word says nothing (see there).
    pub async fn poll(&self, now: DateTime<Utc>) -> Result<Vec<Notice>, SourceError> {
        let notices = self.reader.read(now).await.map_err(|e| super::bounded_error(e, &self.secrets))?;
        Ok(first_of_each_id(notices).into_iter().map(|n| bounded(&self.config.name, n)).collect())
    }
}

/// Every text field of a notice at most [`text::STORED`] bytes, as for accounts (`super::bounded`);
/// what was cut is logged, naming the fields.
fn bounded(source: &str, mut notice: Notice) -> Notice {
    let mut cut = Vec::new();
    if super::bound_id(&mut notice.id) {
        cut.push("id");
    }
    let optional = notice.url.iter_mut().map(|v| ("url", v)).chain(notice.impact.iter_mut().map(|v| ("impact", v)));
    let fields = [("status", &mut notice.status), ("title", &mut notice.title), ("update", &mut notice.update)];
    let components = notice.components.iter_mut().map(|v| ("components", v));
    for (field, value) in fields.into_iter().chain(optional).chain(components) {
        if text::cut(value, text::STORED) {
            cut.push(field);
        }
    }
    if !cut.is_empty() {
        cut.dedup();
        tracing::warn!(notice = %source, fields = %cut.join(", "), limit = text::STORED, "the notice source sent text longer than payguard keeps; it was cut");
    }
    notice
}

/// A URL from the config, checked again (configs can be built in code) and named for messages.
fn endpoint(text: &str, limits: &HttpLimits) -> Result<(Url, String), SourceError> {
    let url = check_url(text, limits.allow_insecure_http).map_err(SourceError::Setup)?;
    let host = host_of(&url);
    Ok((url, host))
}

/// Refuses a word list (`field`) holding an empty word, which would match anything: surely not
/// what was meant.
fn no_empty_word(entry: &Entry<'_>, field: &str, list: Option<&[String]>) -> Result<(), ConfigError> {
    if list.is_some_and(|words| words.iter().any(|w| w.trim().is_empty())) {
        return entry.error_at_key(field, format!("`{field}` holds an empty word, which would match anything"));
    }
    Ok(())
}

/// Keeps the first notice of each id: a list that names one thing twice still means one thing.
fn first_of_each_id(notices: Vec<Notice>) -> Vec<Notice> {
    let mut seen = HashSet::new();
    notices.into_iter().filter(|n| seen.insert(n.id.clone())).collect()
}

/// A stable id for a notice the platform gives none, from the fields that tell it apart.
fn derived_id(parts: &[&str]) -> String {
    format!("derived:{}", short_hash(&parts.join("|")))
}

/// Longest title and update kept: a notice is read by a person on a phone, and the answer is hostile.
const MAX_TITLE: usize = 300;
const MAX_UPDATE: usize = 2000;

/// Text for a person: tags dropped when the platform says it is HTML, the common entities decoded,
/// whitespace collapsed to single spaces, at most `max` characters.
fn plain_text(raw: &str, html: bool, max: usize) -> String {
    let text = if html { decode_entities(&strip_tags(raw)) } else { raw.to_owned() };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > max {
        let mut clipped: String = collapsed.chars().take(max.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    } else {
        collapsed
    }
}

/// Drops every `<…>`; the ones that break a line (`<br>`, `</p>`, …) leave a space, so the words on
/// either side stay apart, while inline ones (`<var>21</var>,`) leave nothing.
fn strip_tags(html: &str) -> String {
    const BREAKING: &[&str] = &["br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "hr"];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            // An unclosed `<` is text, not a tag.
            out.push_str(&rest[start..]);
            return out;
        };
        let tag = &rest[start + 1..start + end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if BREAKING.contains(&name.as_str()) {
            out.push(' ');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The entities status pages actually write; anything else is left as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &after[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads the fields of one JSON item by pointer; `null` and absence are the same (nothing said).
struct Fields<'a> {
    item: &'a Value,
}

impl<'a> Fields<'a> {
    fn new(item: &'a Value) -> Self {
        Fields { item }
    }

    fn get(&self, pointer: &str) -> Option<&'a Value> {
        self.item.pointer(pointer).filter(|v| !v.is_null())
    }

    fn text(&self, pointer: &str, what: &str) -> Result<Option<String>, String> {
        self.get(pointer).map(|v| text(v, what)).transpose()
    }

    fn required_text(&self, pointer: &str, what: &str) -> Result<String, String> {
        self.text(pointer, what)?.ok_or_else(|| format!("nothing at {pointer:?} for the {what}"))
    }

    fn time(&self, pointer: &str, what: &str) -> Result<Option<DateTime<Utc>>, String> {
        self.get(pointer).map(|v| time(v, what)).transpose()
    }
}

/// Whether `word` occurs in `haystack` (both already lowercase) as a word of its own: "resolved"
/// is not in "unresolved". Only ASCII letters and digits join words, so "服务已恢复" contains "已恢复".
fn contains_word(haystack: &str, word: &str) -> bool {
    let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let word_starts_ascii = joins(word.chars().next());
    let word_ends_ascii = joins(word.chars().last());
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + word.len()..].chars().next();
        let glued_before = word_starts_ascii && joins(before);
        let glued_after = word_ends_ascii && joins(after);
        !glued_before && !glued_after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_plain_text() {
        let html = "<p><small>Mar 3, 10:00 UTC</small><br><strong>Resolved</strong> - Fixed &amp; verified &#8212; ok&nbsp;now.</p>";
        assert_eq!(plain_text(html, true, 200), "Mar 3, 10:00 UTC Resolved - Fixed & verified — ok now.");
        assert_eq!(plain_text("a < b & c", false, 200), "a < b & c");
        assert_eq!(plain_text("AT&T &bogus; &", true, 200), "AT&T &bogus; &");
        assert_eq!(plain_text("abcdef", false, 4), "abc…");
    }

    #[test]
    fn words_stand_alone() {
        assert!(contains_word("the incident is resolved.", "resolved"));
        assert!(!contains_word("still unresolved", "resolved"));
        assert!(contains_word("支付服务已恢复正常", "已恢复"));
        assert!(contains_word("resolved", "resolved"));
    }
}
