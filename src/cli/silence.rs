//! `payguard silence add|list|expire`: mute matching alerts for a while.

use std::path::Path;

use clap::Subcommand;

use super::load_config;
use crate::config::Secrets;
use crate::control::{Request, ask_or_answer};
use crate::model::FindingKind;

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
        /// For how long, like 2h or 3d (at most 36500d).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
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
    let request = match action {
        Action::Add { account, source, kind, duration, comment } => Request::SilenceAdd {
            account: account.clone(),
            source: source.clone(),
            kind: kind.map(|k| k.as_str().to_owned()),
            duration: duration.clone(),
            comment: comment.clone(),
        },
        Action::List { all } => Request::SilenceList { all: *all },
        Action::Expire { id } => Request::SilenceExpire { id: id.clone() },
    };
    Ok(ask_or_answer(&load_config(path, Secrets::Skip)?, request)?.print())
}
