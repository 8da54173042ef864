//! `payguard silence add|list|expire`: mute matching alerts for a while.

use anyhow::{Context as _, bail};
use chrono::Utc;

use super::Out;
use crate::alert::Silence;
use crate::control::exit;
use crate::model::{FindingKind, short_hash};
use crate::store::Store;
use crate::text;

/// Adds a silence on `(account, source, kind)`, any of which may be left out but not all.
pub fn add(
    store: &Store,
    out: &mut Out,
    (account, source, kind): (Option<&str>, Option<&str>, Option<&str>),
    duration: &str,
    comment: &str,
    zone: chrono_tz::Tz,
) -> anyhow::Result<u8> {
    if account.is_none() && source.is_none() && kind.is_none() {
        bail!("say what to silence: give at least one of --account, --source or --kind");
    }
    let kind: Option<FindingKind> = kind.map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    let now = Utc::now();
    let ends_at = crate::control::time::after(now, duration).context("--for")?;
    let basis = format!("{account:?}|{source:?}|{kind:?}|{}", now.timestamp_nanos_opt().unwrap_or_default());
    let silence = Silence {
        id: short_hash(&basis)[..8].to_owned(),
        account: account.map(str::to_owned),
        source: source.map(str::to_owned),
        kind,
        starts_at: now,
        ends_at,
        comment: comment.to_owned(),
        created_at: now,
        expired_at: None,
    };
    store.save_silence(&silence)?;
    say!(out, "silence {} added, until {}", silence.id, text::time(silence.ends_at, zone));
    Ok(exit::OK)
}

pub fn list(store: &Store, out: &mut Out, all: bool, zone: chrono_tz::Tz) -> anyhow::Result<u8> {
    let now = Utc::now();
    let mut silences = store.silences()?;
    silences.retain(|s| all || s.is_active(now));
    silences.sort_by_key(|s| s.starts_at);
    if silences.is_empty() {
        say!(out, "no silences{}", if all { "" } else { " in force" });
    }
    for s in silences {
        let matchers: Vec<String> = [
            s.account.as_ref().map(|a| format!("account={a}")),
            s.source.as_ref().map(|x| format!("source={x}")),
            s.kind.map(|k| format!("kind={k}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let state = if s.is_active(now) { "active" } else { "ended" };
        say!(
            out,
            "{}  {state}  {}  until {}  {}",
            s.id,
            matchers.join(" "),
            text::time(s.expired_at.unwrap_or(s.ends_at), zone),
            text::clipped(&s.comment, text::LINE)
        );
    }
    Ok(exit::OK)
}

pub fn expire(store: &Store, out: &mut Out, id: &str) -> anyhow::Result<u8> {
    let Some(mut silence) = store.silences()?.into_iter().find(|s| s.id == id) else {
        bail!("no silence has the id {id:?}: `payguard silence list --all` shows them");
    };
    silence.expired_at.get_or_insert(Utc::now());
    store.save_silence(&silence)?;
    say!(out, "silence {id} ended");
    Ok(exit::OK)
}
