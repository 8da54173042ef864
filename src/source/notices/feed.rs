//! RSS and Atom feeds (and JSON Feed, which feed-rs reads too): one GET, one notice per item.
//!
//! A feed has no status field, so the words decide, in the item's title and summary (its content
//! when it has no summary):
//!
//! - kind: maintenance when a `maintenance_keywords` word occurs anywhere, an incident otherwise;
//! - phase: over when the text says the matter is finished ("resolved", "completed", "已恢复", …, as
//!   words of their own, so "unresolved" is not one), active otherwise. An item announcing
//!   maintenance for a future time is still active, not upcoming: feeds write those times as prose
//!   ("Sunday 02:00–04:00 CST") that cannot be parsed reliably, and a wrong start time would be worse
//!   than none. `starts_at`/`ends_at` stay empty, and the status is the finishing word found (or empty).
//!
//! The id is the item's own (RSS `guid`, Atom `id`), else its link, else one derived from its title
//! and dates; feed-rs's own fallback is a random UUID, which would make every poll a new notice.

use feed_rs::model::{Entry, Link, Text};
use reqwest::header::ACCEPT;
use reqwest::{Client, Url};

use chrono::{DateTime, Utc};

use super::{
    MAX_TITLE, MAX_UPDATE, NoticeFuture, Reader, contains_word, derived_id, endpoint, no_empty_word, plain_text,
};
use crate::config::{ConfigError, Credentials, HttpLimits, host, redacted};
use crate::model::{Notice, NoticeKind, Phase};
use crate::source::SourceError;
use crate::source::fetch::get;

/// Words (lowercase) that say an item reports the end of the matter.
const OVER_WORDS: &[&str] =
    &["resolved", "completed", "restored", "has ended", "已恢复", "已解决", "已完成", "已结束", "恢复正常"];

/// What makes a feed item maintenance, unless `maintenance_keywords` says.
pub const DEFAULT_MAINTENANCE_KEYWORDS: &[&str] = &["maintenance", "维护"];

/// Feed items last updated longer ago than this are history, not news.
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// `kind = "feed"`: an RSS, Atom or JSON feed, and the words that pick and sort its items.
#[derive(Clone)]
pub struct FeedConfig {
    pub url: String,
    /// Only items mentioning one of these words (an empty list keeps all).
    pub keywords: Vec<String>,
    /// Items mentioning one of these are maintenance; others are incidents.
    pub maintenance_keywords: Vec<String>,
}

/// Shows the URL without the login or query a private feed's token may sit in.
impl std::fmt::Debug for FeedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedConfig")
            .field("url", &redacted(&self.url))
            .field("keywords", &self.keywords)
            .field("maintenance_keywords", &self.maintenance_keywords)
            .finish()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    url: toml::Spanned<String>,
    keywords: Option<Vec<String>>,
    maintenance_keywords: Option<Vec<String>>,
}

impl crate::config::Kind for FeedConfig {
    type Raw = RawFeed;

    fn validate(raw: RawFeed, entry: &crate::config::Entry<'_>) -> Result<Self, ConfigError> {
        entry.url(raw.url.span(), "url", raw.url.get_ref(), entry.allow_insecure_http)?;
        no_empty_word(entry, "keywords", raw.keywords.as_deref())?;
        no_empty_word(entry, "maintenance_keywords", raw.maintenance_keywords.as_deref())?;
        Ok(FeedConfig {
            url: raw.url.into_inner(),
            keywords: raw.keywords.unwrap_or_default(),
            maintenance_keywords: raw
                .maintenance_keywords
                .unwrap_or_else(|| DEFAULT_MAINTENANCE_KEYWORDS.iter().map(|w| (*w).to_owned()).collect()),
        })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        let FeedConfig { url, keywords: _, maintenance_keywords: _ } = self;
        found.url("url", url);
    }

    fn describe(&self) -> String {
        host(&self.url)
    }
}

impl super::Kind for FeedConfig {
    fn connect(&self, name: &str, client: Client, limits: HttpLimits) -> Result<Box<dyn Reader>, SourceError> {
        let feed = Feed::new(name.to_owned(), &self.url, &self.keywords, &self.maintenance_keywords, client, limits)?;
        Ok(Box::new(feed))
    }
}

struct Feed {
    name: String,
    url: Url,
    host: String,
    /// Lowercase, so matching ignores case.
    keywords: Vec<String>,
    maintenance_keywords: Vec<String>,
    client: Client,
    limits: HttpLimits,
}

impl Feed {
    fn new(
        name: String,
        url: &str,
        keywords: &[String],
        maintenance_keywords: &[String],
        client: Client,
        limits: HttpLimits,
    ) -> Result<Self, SourceError> {
        let (url, host) = endpoint(url, &limits)?;
        let lower = |words: &[String]| words.iter().map(|w| w.trim().to_lowercase()).collect();
        Ok(Feed {
            name,
            url,
            host,
            keywords: lower(keywords),
            maintenance_keywords: lower(maintenance_keywords),
            client,
            limits,
        })
    }

    async fn poll(&self) -> Result<Vec<Notice>, SourceError> {
        let request = self.client.get(self.url.clone()).header(
            ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8",
        );
        // The raw bytes, not text: feed-rs decodes by the XML prolog's encoding itself.
        let body = get(request, &self.host, &self.limits).await?;
        read_feed(&self.name, &body, &self.keywords, &self.maintenance_keywords)
            .map_err(|detail| SourceError::Malformed { host: self.host.clone(), detail })
    }
}

impl Reader for Feed {
    /// Announcement feeds keep old items for months; only recent ones are news.
    fn read(&self, now: DateTime<Utc>) -> NoticeFuture<'_> {
        Box::pin(async move {
            let mut items = self.poll().await?;
            items.retain(|n| n.updated_at.is_none_or(|t| now - t <= MAX_AGE));
            Ok(items)
        })
    }
}

/// Reads a feed's items into notices, keeping those that match `keywords` (all when there are none).
pub fn read_feed(
    source: &str,
    body: &[u8],
    keywords: &[String],
    maintenance_keywords: &[String],
) -> Result<Vec<Notice>, String> {
    let parser = feed_rs::parser::Builder::new()
        // Empty here means "no id": derived below from the item's fields, the same on every poll.
        .id_generator(|_: &[Link], _: &Option<Text>, _: Option<&str>| String::new())
        .build();
    let feed = parser.parse(body).map_err(|e| format!("not an RSS or Atom feed ({e})"))?;
    Ok(feed
        .entries
        .iter()
        .filter_map(|entry| {
            let title = entry.title.as_ref().map(text_of).unwrap_or_default();
            let summary = summary_of(entry);
            let haystack = format!("{title}\n{summary}").to_lowercase();
            let wanted = keywords.is_empty() || keywords.iter().any(|k| haystack.contains(k.as_str()));
            wanted.then(|| notice(source, entry, title, summary, &haystack, maintenance_keywords))
        })
        .collect())
}

fn notice(
    source: &str,
    entry: &Entry,
    title: String,
    summary: String,
    haystack: &str,
    maintenance_keywords: &[String],
) -> Notice {
    let kind = if maintenance_keywords.iter().any(|k| haystack.contains(k.as_str())) {
        NoticeKind::Maintenance
    } else {
        NoticeKind::Incident
    };
    let over = OVER_WORDS.iter().find(|w| contains_word(haystack, w));
    let url = link_of(&entry.links);
    let updated_at = entry.updated.or(entry.published);
    let id = if !entry.id.trim().is_empty() {
        entry.id.trim().to_owned()
    } else if let Some(url) = &url {
        url.clone()
    } else {
        let published = entry.published.map(|t| t.to_rfc3339()).unwrap_or_default();
        let updated = entry.updated.map(|t| t.to_rfc3339()).unwrap_or_default();
        derived_id(&[&title, &published, &updated])
    };
    Notice {
        source: source.to_owned(),
        id,
        kind,
        phase: if over.is_some() { Phase::Over } else { Phase::Active },
        status: over.map(|w| (*w).to_owned()).unwrap_or_default(),
        title: if title.is_empty() { "(untitled)".to_owned() } else { title },
        impact: None,
        starts_at: None,
        ends_at: None,
        updated_at,
        url,
        update: summary,
        components: Vec::new(),
    }
}

/// A text element as plain text; feed-rs marks which are HTML.
fn text_of(text: &Text) -> String {
    plain_text(&text.content, is_html(text.content_type.as_str()), MAX_TITLE)
}

/// The summary, or the content when there is none (Atom entries often carry only content).
fn summary_of(entry: &Entry) -> String {
    if let Some(summary) = &entry.summary {
        return plain_text(&summary.content, is_html(summary.content_type.as_str()), MAX_UPDATE);
    }
    entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_ref().map(|body| plain_text(body, is_html(c.content_type.as_str()), MAX_UPDATE)))
        .unwrap_or_default()
}

fn is_html(content_type: &str) -> bool {
    content_type != "text/plain"
}

/// Where a person reads the item: its alternate link, else the first one.
fn link_of(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| links.first())
        .map(|l| l.href.trim().to_owned())
        .filter(|href| !href.is_empty())
}
