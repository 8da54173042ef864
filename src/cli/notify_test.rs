//! `payguard notify-test`: a test message through each channel, now, with the result of each.

use std::path::Path;

use anyhow::bail;
use chrono::Utc;

use super::{exit, load_config};
use crate::config::Secrets;
use crate::notify::render::test_message;
use crate::notify::{Channel, Stream};

pub async fn run(path: &Path, only: Option<&str>) -> anyhow::Result<u8> {
    let config = load_config(path, Secrets::Resolve)?;
    let chosen: Vec<_> = config.channels.iter().filter(|c| only.is_none_or(|name| c.name == name)).collect();
    if chosen.is_empty() {
        match only {
            Some(name) => bail!("no [[channel]] is named {name:?}"),
            None => bail!("no [[channel]] is configured: nothing to test"),
        }
    }
    let mut failed = 0;
    for channel in chosen {
        let message = test_message(&channel.name, Utc::now(), config.daemon.language, &config.support);
        let result = match Channel::new(channel, Stream::Stderr) {
            Ok(sender) => sender.send(&message).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => println!("ok      {} ({})", channel.name, channel.kind.name()),
            Err(e) => {
                failed += 1;
                let hint =
                    if e.retryable { "temporary: try again later" } else { "permanent: check the channel's settings" };
                println!("FAILED  {} ({}): {e} [{hint}]", channel.name, channel.kind.name());
            }
        }
    }
    Ok(if failed == 0 { exit::OK } else { exit::FAILURE })
}
