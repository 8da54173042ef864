//! `payguard enablebanking-link`: links a bank through Enable Banking on a terminal.
//!
//! Without `--bank` it lists the banks of `--country` (`GET /aspsps?country=…`). With one, it
//! starts an authorisation (`POST /auth`: the access wanted until when, the bank, where the bank
//! sends the browser back), prints the link where the person gives their bank's consent, reads
//! the address the browser was sent back to (or just its `code`) from stdin, and creates the
//! session (`POST /sessions {code}`). The session id is written to a 0600 file, as
//! `simplefin-claim` writes its access URL; the accounts and the config lines to paste are
//! printed. Nothing secret is printed: not the session, the code, nor the signed token. Like
//! `simplefin-claim`, a command: its errors are for the person at the terminal.

use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use chrono::{TimeDelta, Utc};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::{EnableBanking, EnableBankingConfig};
use crate::config::{HttpLimits, Secret};
use crate::source::fetch::client;
use crate::source::simplefin::claim::Target;
use crate::text;

/// What the person asked for.
pub struct Request<'a> {
    pub api_base: &'a str,
    pub application_id: &'a str,
    pub private_key: &'a Path,
    pub country: Option<&'a str>,
    pub bank: Option<&'a str>,
    /// How many days the access should last (the bank may allow fewer).
    pub days: u32,
    pub redirect_url: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub force: bool,
}

pub async fn run(request: &Request<'_>) -> anyhow::Result<()> {
    if !super::settings::is_id(request.application_id) {
        bail!("--application-id is the id the Enable Banking control panel shows for your application");
    }
    let country = match request.country {
        Some(c) if c.len() == 2 && c.chars().all(|c| c.is_ascii_alphabetic()) => c.to_ascii_uppercase(),
        Some(_) => bail!("--country is a two-letter code, like FI or DE"),
        None => bail!("give --country (like FI) to list its banks, and with --bank to link one"),
    };
    let provider = connect(request)?;
    let Some(bank) = request.bank else {
        return list_banks(&provider, &country).await;
    };
    let (Some(redirect_url), Some(out)) = (request.redirect_url, request.out) else {
        bail!(
            "linking a bank needs --redirect-url (one registered for your application in the control panel) and --out FILE (where the session id is written)"
        );
    };
    // Made before the bank is asked, so a consent is never given for a file that cannot be written.
    let target = Target::reserve(out, request.force)?;
    let days = allowed_days(&provider, &country, bank, request.days).await?;
    let state = format!("payguard-{:016x}", random());
    let started = provider
        .ask(
            provider.client.post(provider.api.url(&["auth"])).header(CONTENT_TYPE, "application/json").body(
                json!({
                    "access": { "valid_until": (Utc::now() + TimeDelta::days(days.into())).to_rfc3339() },
                    "aspsp": { "name": bank, "country": country },
                    "state": state,
                    "redirect_url": redirect_url,
                    "psu_type": "personal",
                })
                .to_string(),
            ),
            Utc::now(),
        )
        .await
        .context("cannot start the authorisation at the bank")?;
    let link = field(&started, "url")?;
    println!("open this link in your browser and give your bank's consent (for {days} days):");
    println!("  {}", text::clipped(&link, text::BLOCK));
    println!("your browser is then sent to {}?…code=…", text::clipped(redirect_url, text::LINE));
    println!("paste that whole address here (or just the code) and press Enter:");
    let code = code_from(&read_line()?, &state)?;
    let session = provider
        .ask(
            provider
                .client
                .post(provider.api.url(&["sessions"]))
                .header(CONTENT_TYPE, "application/json")
                .body(json!({ "code": code.expose()? }).to_string()),
            Utc::now(),
        )
        .await
        .context("cannot create the session from the code (a code works once, for a few minutes: run this again)")?;
    let session_id = field(&session, "session_id")?;
    target.commit(session_id.as_bytes()).with_context(|| {
        format!("the bank was linked, but the session id could not be written to {}", out.display())
    })?;
    let accounts = session.get("accounts").and_then(Value::as_array).cloned().unwrap_or_default();
    println!("\nwrote the session id to {} (mode 0600)", out.display());
    if let Some(until) = session.pointer("/access/valid_until").and_then(Value::as_str) {
        println!("access lasts until {}", text::clipped(until, text::LINE));
    }
    println!("linked {} account(s):", accounts.len());
    for account in &accounts {
        println!("  {}", describe(account));
    }
    println!("\nadd to your config:\n");
    println!("{}", config_lines(request, out, &accounts));
    Ok(())
}

/// The poller, for its signed requests; the session is not known yet.
fn connect(request: &Request<'_>) -> anyhow::Result<EnableBanking> {
    let shown = request.private_key.display();
    let mut pem = String::new();
    std::fs::File::open(request.private_key)
        .and_then(|f| f.take(64 << 10).read_to_string(&mut pem))
        .with_context(|| format!("cannot read the private key {shown}"))?;
    let config = EnableBankingConfig {
        api_base: request.api_base.trim_end_matches('/').to_owned(),
        application_id: request.application_id.to_owned(),
        private_key: shown.to_string(),
        key: Some(Secret::new(pem)),
        session_id: Secret::new(""),
    };
    let limits = HttpLimits { allow_insecure_http: loopback(request.api_base), ..HttpLimits::SETUP };
    Ok(EnableBanking::new("enablebanking-link", &config, client(&limits)?, limits)?)
}

async fn banks(provider: &EnableBanking, country: &str) -> anyhow::Result<Vec<Value>> {
    let mut url = provider.api.url(&["aspsps"]);
    url.query_pairs_mut().append_pair("country", country);
    let list = provider.read(url, Utc::now()).await.context("cannot list the banks")?;
    list.get("aspsps").and_then(Value::as_array).cloned().ok_or_else(|| anyhow!("the list of banks has no `aspsps`"))
}

async fn list_banks(provider: &EnableBanking, country: &str) -> anyhow::Result<()> {
    println!("banks in {country}: run again with --bank NAME (as written here)");
    for bank in banks(provider, country).await? {
        let name = bank.get("name").and_then(Value::as_str).unwrap_or_default();
        let days = bank.get("maximum_consent_validity").and_then(Value::as_i64).map(|s| s / 86_400);
        let days = days.map(|d| format!("  (consent up to {d} days)")).unwrap_or_default();
        println!("  {}{days}", text::clipped(name, text::LINE));
    }
    Ok(())
}

/// The days asked for, cut to what the bank allows (`maximum_consent_validity`, in seconds).
async fn allowed_days(provider: &EnableBanking, country: &str, bank: &str, asked: u32) -> anyhow::Result<u32> {
    let banks = banks(provider, country).await?;
    let Some(found) = banks.iter().find(|b| b.get("name").and_then(Value::as_str) == Some(bank)) else {
        bail!(
            "no bank named {:?} in {country}: run with just --country {country} to list the names",
            text::clipped(bank, text::LINE)
        );
    };
    let most = found.get("maximum_consent_validity").and_then(Value::as_i64).map(|s| s / 86_400);
    let days = match most {
        Some(most) if i64::from(asked) > most => {
            println!("{bank} allows consent for at most {most} days: asking for that");
            u32::try_from(most).unwrap_or(1)
        }
        _ => asked,
    };
    Ok(days.max(1))
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().take(8 << 10).read_line(&mut line).context("cannot read the address from stdin")?;
    if line.trim().is_empty() {
        bail!("nothing was pasted: run this again and paste the address your browser was sent to");
    }
    Ok(line.trim().to_owned())
}

/// The code in what was pasted: the address the bank sent the browser to, or the code alone. An
/// address of another authorisation (its `state` differs) or one that carries the bank's refusal
/// is an error.
fn code_from(pasted: &str, state: &str) -> anyhow::Result<Secret> {
    let Ok(url) = reqwest::Url::parse(pasted) else {
        if pasted.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("that is neither the address your browser was sent to nor a code: paste the whole address");
        }
        return Ok(Secret::new(pasted));
    };
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if let Some(error) = param("error") {
        let why = param("error_description").unwrap_or_default();
        bail!(
            "the bank did not give consent ({}: {}): run this again",
            text::clipped(&error, text::LINE),
            text::clipped(&why, text::LINE)
        );
    }
    if param("state").is_some_and(|s| s != state) {
        bail!("that address is from another authorisation (its state differs): paste the one from this run's link");
    }
    param("code").filter(|c| !c.is_empty()).map(Secret::new).ok_or_else(|| {
        anyhow!("that address has no code: paste the address your browser was sent to after giving consent")
    })
}

/// An account of the new session: its uid, name and a masked IBAN (`AccountResource`).
fn describe(account: &Value) -> String {
    let get = |name: &str| account.get(name).and_then(Value::as_str).unwrap_or_default();
    let iban = account.pointer("/account_id/iban").and_then(Value::as_str).unwrap_or_default();
    let masked = match iban.chars().count() {
        0 => String::new(),
        n if n > 8 => {
            let chars: Vec<char> = iban.chars().collect();
            format!("{}…{}", chars[..4].iter().collect::<String>(), chars[n - 4..].iter().collect::<String>())
        }
        _ => "…".to_owned(),
    };
    let name = if get("name").is_empty() { get("product") } else { get("name") };
    text::clipped(&format!("{}  {}  {name}  {masked}", get("uid"), get("currency")), text::BLOCK).into_owned()
}

/// The lines to paste: the source and one account each.
fn config_lines(request: &Request<'_>, session_file: &Path, accounts: &[Value]) -> String {
    // The bank's ids are shown escaped: a hidden character would not survive a paste anyway.
    let quoted = |s: &str| text::escaped(s).replace('\\', "\\\\").replace('"', "\\\"");
    let absolute =
        |p: &Path| std::path::absolute(p).unwrap_or_else(|_| PathBuf::from(p)).to_string_lossy().into_owned();
    let mut lines = format!(
        "[[source]]\nname = \"eu-bank\"\nkind = \"enablebanking\"\napplication_id = \"{}\"\nprivate_key = \"{}\"\nsession_id = \"${{file:{}}}\"\nschedule = \"5 1,7,13,19 * * *\"   # four reads a day: what banks allow\n",
        quoted(request.application_id),
        quoted(&absolute(request.private_key)),
        quoted(&absolute(session_file)),
    );
    for uid in accounts.iter().filter_map(|a| a.get("uid").and_then(Value::as_str)) {
        lines.push_str(&format!("\n[[account]]\nsource = \"eu-bank\"\nid = \"{}\"\n", quoted(uid)));
    }
    lines
}

fn field(doc: &Value, name: &str) -> anyhow::Result<String> {
    doc.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("Enable Banking's answer has no {name}"))
}

/// A value no one can guess, to tell this run's redirect from another's.
fn random() -> u64 {
    let mut bytes = [0u8; 8];
    // A failure leaves zeros: the state then only tells runs apart, which is all it is for here.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// Plain http is for a test copy of the API on this machine only.
fn loopback(url: &str) -> bool {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(crate::config::is_loopback_host)).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_taken_from_the_address_or_as_pasted() {
        let code = |pasted: &str| code_from(pasted, "s1").map(|c| c.expose().unwrap_or_default().to_owned());
        assert_eq!(code("https://localhost/cb?state=s1&code=abc-123").ok().as_deref(), Some("abc-123"));
        assert_eq!(code("https://localhost/cb?code=abc-123").ok().as_deref(), Some("abc-123"));
        assert_eq!(code("abc-123").ok().as_deref(), Some("abc-123"));
        let said = |pasted: &str| code(pasted).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(said("https://localhost/cb?state=other&code=abc").contains("another authorisation"));
        assert!(said("https://localhost/cb?state=s1&error=access_denied").contains("did not give consent"));
        assert!(said("https://localhost/cb?state=s1").contains("has no code"));
        assert!(said("two words").contains("neither"));
    }

    #[test]
    fn an_account_shows_its_uid_name_and_a_masked_iban() {
        let account = json!({"uid": "u-1", "currency": "EUR", "name": "Main \u{1b}[2Jaccount", "account_id": {"iban": "FI1737631867613465"}});
        let shown = describe(&account);
        assert!(shown.contains("u-1") && shown.contains("FI17…3465") && !shown.contains("1867"), "{shown}");
        assert!(!shown.contains('\u{1b}'), "{shown}");
    }
}
