//! `payguard imap-test`: the latest mails of an `imap` source's folder, each with the rule that
//! matched it and what the rule read, so a person can write rules without guessing. Read-only,
//! like a poll; nothing is stored.

use anyhow::anyhow;
use chrono::Utc;
use futures_util::TryStreamExt;

use super::{ImapConfig, Mail, headers_match, login, read};
use crate::config::{Config, SourceConfig};
use crate::control::exit;
use crate::source::SourceKind;
use crate::text::escaped;

/// The most mails one run fetches whole.
const MAX_LIMIT: u32 = 500;

/// Prints the latest `limit` mails of the source `name`; 75 when the mailbox cannot be read.
pub async fn run(config: &Config, name: &str, limit: u32) -> anyhow::Result<u8> {
    let source = config.sources.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        anyhow!("no [[source]] is named {name:?} (the sources are: {})", names.join(", "))
    })?;
    let SourceKind::Imap(imap) = &source.kind else {
        return Err(anyhow!("source {name:?} is kind = {:?}, not \"imap\"", source.kind.name()));
    };
    match latest(imap, source, limit).await {
        Ok(mails) => {
            if mails.is_empty() {
                println!("the folder {} is empty", escaped(&imap.folder));
            }
            for mail in &mails {
                print!("{}", shown(imap, mail));
            }
            Ok(exit::OK)
        }
        Err(error) => {
            eprintln!("payguard: cannot read the mailbox of {name}: {error}");
            Ok(exit::TEMPFAIL)
        }
    }
}

/// The last `limit` mails of the folder, oldest first; those over `max_body` are not fetched.
async fn latest(imap: &ImapConfig, source: &SourceConfig, limit: u32) -> Result<Vec<Mail>, crate::source::SourceError> {
    let mut session = login(imap, &source.http).await?;
    let failed = |e: async_imap::error::Error| super::imap_error(&imap.host, &e);
    let folder = session.examine(&imap.folder).await.map_err(failed)?;
    if folder.exists == 0 || limit == 0 {
        return Ok(Vec::new());
    }
    let first = folder.exists.saturating_sub(limit.min(MAX_LIMIT).min(folder.exists)) + 1;
    let fetches: Vec<_> = session
        .fetch(format!("{first}:{}", folder.exists), "(UID RFC822.SIZE BODY.PEEK[])")
        .await
        .map_err(failed)?
        .try_collect()
        .await
        .map_err(failed)?;
    let _ = session.logout().await;
    Ok(fetches
        .iter()
        .filter(|f| f.size.is_none_or(|size| u64::from(size) <= source.http.max_body))
        .filter_map(|f| Mail::parse(f.body()?))
        .collect())
}

/// One mail as the person sees it: when, from whom, about what, and what the rules made of it.
fn shown(imap: &ImapConfig, mail: &Mail) -> String {
    let date = mail.headers.date.map_or_else(|| "(no date)".to_owned(), |d| d.format("%Y-%m-%d %H:%M %:z").to_string());
    let mut out = format!("{date}  {}  \"{}\"\n", escaped(&mail.headers.from), escaped(&mail.headers.subject));
    match read(&imap.rules, mail, Utc::now()) {
        Ok(Some(r)) => {
            let currency = r.currency.as_deref().map(|c| format!(" {}", escaped(c))).unwrap_or_default();
            let balance = r.balance.map(|b| format!(", balance {b}")).unwrap_or_default();
            out += &format!(
                "  rule[{}] -> account {}: amount {}{currency}, payee \"{}\"{balance}, time {}\n",
                r.rule,
                escaped(&r.account),
                r.amount,
                escaped(&r.payee),
                r.posted.to_rfc3339()
            );
        }
        Ok(None) => {
            let near: Vec<String> = imap
                .rules
                .iter()
                .enumerate()
                .filter(|(_, rule)| headers_match(rule, &mail.headers))
                .map(|(i, _)| format!("rule[{i}]"))
                .collect();
            out += "  no rule matched";
            if !near.is_empty() {
                out += &format!(" ({}: from and subject match, the pattern does not)", near.join(", "));
            }
            out += "\n";
        }
        Err(detail) => out += &format!("  {}\n", escaped(&detail)),
    }
    out
}
