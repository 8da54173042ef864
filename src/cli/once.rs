//! `payguard once`: one poll of everything, the findings printed and sent.

use std::io::Write as _;
use std::path::Path;

use super::{exit, load_config, open_store};
use crate::config::Secrets;
use crate::daemon::{Clock, Engine, NoticeRun, RoundReport, SourceRun};
use crate::notify::Stream;
use crate::notify::render::alert_json;
use crate::text;
use anyhow::Context as _;

pub async fn run(path: &Path, json: bool) -> anyhow::Result<u8> {
    let config = load_config(path, Secrets::Resolve)?;
    let zone = config.daemon.timezone;
    crate::tls_roots::require()?;
    let store = open_store(&config)?;
    let console_stream = if json { Stream::Stderr } else { Stream::Stdout };
    let engine = Engine::new(config, store, console_stream, Clock::System).context("cannot set up payguard")?;
    let (mut notice_runs, mut runs) = engine.poll_all().await;
    let store_error = (notice_runs.iter_mut().map(|r| &mut r.store_error))
        .chain(runs.iter_mut().map(|r| &mut r.store_error))
        .find_map(Option::take);
    if let Some(error) = store_error {
        // Nothing the polls learned was kept, and nothing can be sent without recording it.
        report(&notice_runs, &runs, &RoundReport::default(), zone);
        let dir = engine.store().path().display().to_string();
        return Err(anyhow::Error::from(error).context(format!("the poll could not be stored in {dir}")));
    }
    if json {
        let mut stdout = std::io::stdout().lock();
        let said = notice_runs.iter().flat_map(|r| &r.notices).chain(runs.iter().flat_map(|r| &r.notices));
        for (alert, event) in said {
            let mut line = alert_json(alert);
            if let serde_json::Value::Object(map) = &mut line {
                map.insert("event".into(), serde_json::json!(event));
            }
            writeln!(stdout, "{}", text::json(&line)).context("cannot write to stdout")?;
        }
    }
    let deliveries = engine.deliverer().round(engine.store(), engine.clock().now(), true).await?;
    engine.store().flush().await.context("cannot flush the delivery outcomes")?;
    report(&notice_runs, &runs, &deliveries, zone);
    let all_good = runs.iter().all(SourceRun::succeeded) && notice_runs.iter().all(|r| r.error.is_none());
    Ok(if all_good { exit::OK } else { exit::TEMPFAIL })
}

/// An error or a name as it may be shown: platforms' words are in errors.
fn shown(what: &impl std::fmt::Display) -> String {
    text::clipped(&what.to_string(), text::BLOCK).into_owned()
}

/// A closing summary on stderr: what was checked, what failed and why.
fn report(notice_runs: &[NoticeRun], runs: &[SourceRun], deliveries: &RoundReport, zone: chrono_tz::Tz) {
    let notices: usize = runs.iter().map(|r| r.notices.len()).sum::<usize>()
        + notice_runs.iter().map(|r| r.notices.len()).sum::<usize>();
    for run in notice_runs {
        if let Some(error) = &run.error {
            eprintln!("payguard: notice source {}: {}", run.source, shown(error));
        }
    }
    for run in runs {
        if let Some(error) = &run.error {
            eprintln!("payguard: source {}: {}", run.source, shown(error));
        }
        if let Some(skip) = &run.skipped {
            eprintln!("payguard: source {} not polled: {}", run.source, skip.told(zone));
        }
        for failure in &run.failures {
            eprintln!("payguard: source {} account {}: {}", run.source, shown(&failure.account), shown(&failure.error));
        }
    }
    let accounts: usize = runs.iter().map(|r| r.accounts_ok).sum();
    eprintln!("payguard: checked {accounts} account(s) in {} source(s); {notices} alert message(s)", runs.len());
    if deliveries.delivered + deliveries.failed + deliveries.pending > 0 {
        let mut line = format!("payguard: delivered {}", deliveries.delivered);
        if deliveries.failed > 0 {
            line.push_str(&format!(", {} given up (see the log)", deliveries.failed));
        }
        if let Some(due) = deliveries.next_due.filter(|_| deliveries.pending > 0) {
            line.push_str(&format!(
                ", {} still owed (next try {}; the daemon or the next `payguard once` sends them)",
                deliveries.pending,
                text::time_to_the_second(due, zone)
            ));
        }
        eprintln!("{line}");
    }
}
