//! `payguard init [--simplefin TOKEN]`: a first config, where `--config` points, so that a
//! newcomer's first `check` is green. With a SimpleFIN setup token it claims the access URL into a
//! file beside the config (mode 0600, never in the config itself) and lists the accounts it reads
//! by one request; without one it writes the source for a token claimed later. Never overwrites.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::{Context as _, bail};

use super::runtime;
use crate::config::Secret;
use crate::control::exit;
use crate::source::simplefin::SimpleFin;
use crate::source::simplefin::claim::{claim, file_reference};

/// The access URL's file, beside the config.
const ACCESS_FILE: &str = "simplefin-access-url";

pub fn run(config: &Path, token: Option<&str>) -> anyhow::Result<u8> {
    if config.exists() {
        bail!(
            "{} exists: init never overwrites a config; edit it (`payguard check` says what it watches), or move it away first",
            config.display()
        );
    }
    let dir = config.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let access_file = dir.join(ACCESS_FILE);
    let accounts = match token {
        Some(token) => runtime()?.block_on(async {
            claim(token, &access_file, false).await?;
            let url = std::fs::read_to_string(&access_file)
                .with_context(|| format!("cannot read back {}", access_file.display()))?;
            SimpleFin::account_ids(&Secret::new(url.trim()))
                .await
                .context("the access URL was claimed, but listing the accounts failed; run `payguard init` again later without --simplefin, or write the [[account]] entries yourself")
        })?,
        None => Vec::new(),
    };
    write_new(config, &config_text(&file_reference(&access_file), &accounts))?;
    println!("wrote {} (mode 0600)", config.display());
    match (token, accounts.len()) {
        (Some(_), 0) => println!("the bridge lists no accounts yet: add [[account]] entries once it does"),
        (Some(_), n) => println!("with the {n} account(s) the bridge lists"),
        (None, _) => {
            println!("next: claim your SimpleFIN setup token into the file the config reads:");
            println!("  payguard simplefin-claim TOKEN --out {}", access_file.display());
            println!("then add an [[account]] for each account id the bridge shows");
        }
    }
    println!("then: payguard --config {} check", config.display());
    Ok(exit::OK)
}

/// The config: the source, its accounts (each with the thresholds to think about, commented), a
/// console and a desktop channel.
fn config_text(access_url: &str, accounts: &[String]) -> String {
    let mut text = format!(
        r#"# payguard's configuration, written by `payguard init`. Every key is explained in the example
# config (config/payguard.example.toml; /usr/share/doc/payguard/payguard.example.toml from the .deb).

[[source]]
name = "bank"
kind = "simplefin"
access_url = {access_url}   # the file holds the access URL; keep it 0600
schedule = "*/30 * * * *"
"#
    );
    for id in accounts {
        let id = toml::Value::String(id.clone());
        text.push_str(&format!(
            "\n[[account]]\nsource = \"bank\"\nid = {id}\n# min_balance = \"100.00\"     # low_balance below this\n# large_debit = \"1000.00\"    # one payment of at least this\n"
        ));
    }
    if accounts.is_empty() {
        text.push_str(
            "\n# [[account]]\n# source = \"bank\"\n# id = \"ACT-1\"                 # an account id the bridge lists\n",
        );
    }
    text.push_str(
        r#"
[[channel]]
name = "terminal"
kind = "console"

# Under systemd the service cannot reach your desktop: run `payguard agent` in your session.
[[channel]]
name = "desktop"
kind = "desktop"
"#,
    );
    text
}

/// Writes `text` to a new file only its owner can read: it names where the access URL is.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_parses_and_ids_cannot_break_out_of_their_string() {
        let text =
            config_text("\"https://user:pass@bridge.example.com/simplefin\"", &["ACT-1".into(), "x\"\n[evil]".into()]);
        let config = crate::config::Config::parse(&text, Path::new("payguard.toml")).expect("a config");
        let ids: Vec<&str> = config.accounts.iter().map(|a| a.account.account.as_str()).collect();
        assert_eq!(ids, ["ACT-1", "x\"\n[evil]"]);
        assert_eq!(config.channels.len(), 2);
    }
}
