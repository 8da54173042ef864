//! `payguard silence add|list|expire`: mute matching alerts for a while.

use std::path::Path;

use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;

use super::{exit, load_config, open_store};
use crate::alert::Silence;
use crate::config::Duration;
use crate::model::{FindingKind, short_hash};

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Mute alerts that match every given matcher (at least one) for a while.
    Add {
        /// The account id, as in [[account]] id.
        #[arg(long)]
        account: Option<String>,
        /// The source name, as in [[source]] name.
        #[arg(long)]
        source: Option<String>,
        /// The kind of finding, like new_payee or balance_drop.
        #[arg(long)]
        kind: Option<FindingKind>,
        /// For how long, like 2h or 3d.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Duration,
        /// Why, for whoever reads the list later.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Show the silences in force (and with --all, the ended ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// End a silence now.
    Expire { id: String },
}

pub fn run(path: &Path, action: &Action) -> anyhow::Result<u8> {
    let config = load_config(path)?;
    let store = open_store(&config)?;
    let now = Utc::now();
    match action {
        Action::Add { account, source, kind, duration, comment } => {
            if account.is_none() && source.is_none() && kind.is_none() {
                bail!("say what to silence: give at least one of --account, --source or --kind");
            }
            if duration.0 <= chrono::TimeDelta::zero() {
                bail!("--for must be longer than zero");
            }
            let basis = format!("{account:?}|{source:?}|{kind:?}|{}", now.timestamp_nanos_opt().unwrap_or_default());
            let silence = Silence {
                id: short_hash(&basis)[..8].to_owned(),
                account: account.clone(),
                source: source.clone(),
                kind: *kind,
                starts_at: now,
                ends_at: now + duration.0,
                comment: comment.clone(),
                created_at: now,
                expired_at: None,
            };
            store.save_silence(&silence)?;
            println!("silence {} added, until {}", silence.id, silence.ends_at.format("%Y-%m-%d %H:%M UTC"));
        }
        Action::List { all } => {
            let mut silences = store.silences()?;
            silences.retain(|s| *all || s.is_active(now));
            silences.sort_by_key(|s| s.starts_at);
            if silences.is_empty() {
                println!("no silences{}", if *all { "" } else { " in force" });
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
                println!(
                    "{}  {state}  {}  until {}  {}",
                    s.id,
                    matchers.join(" "),
                    s.expired_at.unwrap_or(s.ends_at).format("%Y-%m-%d %H:%M UTC"),
                    s.comment
                );
            }
        }
        Action::Expire { id } => {
            let Some(mut silence) = store.silences()?.into_iter().find(|s| &s.id == id) else {
                bail!("no silence has the id {id:?}: `payguard silence list --all` shows them");
            };
            silence.expired_at.get_or_insert(now);
            store.save_silence(&silence)?;
            println!("silence {id} ended");
        }
    }
    store.flush_blocking()?;
    Ok(exit::OK)
}
