//! `payguard gocardless-link`: links a bank through GoCardless Bank Account Data on a terminal.
//!
//! Without `--institution` it lists the banks of `--country`. With one, it creates an end-user
//! agreement (`POST /api/v2/agreements/enduser/`) and a requisition (`POST /api/v2/requisitions/`),
//! prints the link where the person gives their bank's consent, waits until the requisition is
//! linked, and prints its accounts and the config lines to paste. The user secrets come from the
//! environment (never the command line, which others on the machine can read); nothing this
//! obtains is a secret, so nothing is written to a file. Like `simplefin-claim`, a command: its
//! errors are for the person at the terminal.

use std::time::Duration as StdDuration;

use anyhow::{Context as _, anyhow, bail};
use chrono::Utc;
use serde_json::{Value, json};

use super::{GoCardless, GoCardlessConfig};
use crate::config::{HttpLimits, Secret};
use crate::source::fetch::client;
use crate::text;

/// Where the user secrets are read from.
pub const SECRET_ID_VAR: &str = "PAYGUARD_GOCARDLESS_SECRET_ID";
pub const SECRET_KEY_VAR: &str = "PAYGUARD_GOCARDLESS_SECRET_KEY";

/// How long the person has to give consent at their bank.
const PATIENCE: StdDuration = StdDuration::from_secs(15 * 60);
/// How often the requisition is asked whether it is linked yet.
const EVERY: StdDuration = StdDuration::from_secs(5);

/// What the person asked for.
pub struct Request<'a> {
    pub api_base: &'a str,
    pub country: Option<&'a str>,
    pub institution: Option<&'a str>,
    /// How many days the access lasts.
    pub days: u32,
    pub redirect: &'a str,
}

pub async fn run(request: &Request<'_>) -> anyhow::Result<()> {
    let secret = |name: &str| {
        std::env::var(name).map(Secret::new).map_err(|_| {
            anyhow!("set {SECRET_ID_VAR} and {SECRET_KEY_VAR} to your Bank Account Data user secrets first (e.g. `read -rs {name}; export {name}`); they are not taken on the command line, where others can read them")
        })
    };
    let config = GoCardlessConfig {
        api_base: request.api_base.trim_end_matches('/').to_owned(),
        secret_id: secret(SECRET_ID_VAR)?,
        secret_key: secret(SECRET_KEY_VAR)?,
        requisition_id: String::new(),
    };
    let limits = HttpLimits { allow_insecure_http: loopback(request.api_base), ..HttpLimits::SETUP };
    let provider = GoCardless::new("gocardless-link", config, client(&limits)?, limits)?;
    let Some(institution) = request.institution else {
        let country =
            request.country.ok_or_else(|| anyhow!("give --country (like DE) to list its banks, or --institution"))?;
        return list_institutions(&provider, country).await;
    };
    let agreement = provider
        .post(
            "/api/v2/agreements/enduser/",
            &json!({
                "institution_id": institution,
                "max_historical_days": 90,
                "access_valid_for_days": request.days,
                "access_scope": ["balances", "details", "transactions"],
            }),
        )
        .await
        .context("cannot create the agreement with the bank")?;
    let agreement_id = field(&agreement, "id")?;
    let requisition = provider
        .post(
            "/api/v2/requisitions/",
            &json!({
                "redirect": request.redirect,
                "institution_id": institution,
                "agreement": agreement_id,
                "reference": format!("payguard-{}", Utc::now().timestamp()),
            }),
        )
        .await
        .context("cannot create the bank link")?;
    let requisition_id = field(&requisition, "id")?;
    println!("open this link in your browser and give your bank's consent:");
    println!("  {}", text::clipped(&field(&requisition, "link")?, text::BLOCK));
    println!("waiting for the bank link (requisition {})…", text::clipped(&requisition_id, text::LINE));
    let accounts = wait_until_linked(&provider, &requisition_id).await?;
    println!("\nlinked {} account(s):", accounts.len());
    for account in &accounts {
        let path = format!("/api/v2/accounts/{}/details/", crate::source::fetch::segment(account));
        let details = provider.read(&path, Utc::now()).await.ok();
        let about = details.as_ref().and_then(|d| d.get("account")).map(describe).unwrap_or_default();
        println!("  {}  {about}", text::clipped(account, text::LINE));
    }
    println!("\nadd to your config (keep the secrets in credentials, as below):\n");
    println!("{}", config_lines(&requisition_id, &accounts));
    Ok(())
}

async fn list_institutions(provider: &GoCardless, country: &str) -> anyhow::Result<()> {
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        bail!("--country is a two-letter code, like DE or GB");
    }
    let list = provider
        .read(&format!("/api/v2/institutions/?country={}", country.to_ascii_lowercase()), Utc::now())
        .await
        .context("cannot list the banks")?;
    let banks = list.as_array().ok_or_else(|| anyhow!("the list of banks is not a list"))?;
    println!("banks in {}: run again with --institution ID", country.to_ascii_uppercase());
    for bank in banks {
        let name = bank.get("name").and_then(Value::as_str).unwrap_or_default();
        let id = bank.get("id").and_then(Value::as_str).unwrap_or_default();
        println!("  {:<40}  {}", text::clipped(id, text::LINE), text::clipped(name, text::LINE));
    }
    Ok(())
}

async fn wait_until_linked(provider: &GoCardless, requisition: &str) -> anyhow::Result<Vec<String>> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let path = format!("/api/v2/requisitions/{}/", crate::source::fetch::segment(requisition));
        let doc = provider.read(&path, Utc::now()).await?;
        match doc.get("status").and_then(Value::as_str).unwrap_or_default() {
            "LN" | "LINKED" => {
                let ids = doc.get("accounts").and_then(Value::as_array).cloned().unwrap_or_default();
                return Ok(ids.iter().filter_map(Value::as_str).map(str::to_owned).collect());
            }
            "RJ" | "REJECTED" => bail!("the bank rejected the link (wrong login, or the bank refused): run this again"),
            "EX" | "EXPIRED" => bail!("the link expired before consent was given: run this again"),
            _ if tokio::time::Instant::now() >= deadline => {
                bail!(
                    "no consent within 15 minutes; the link (requisition {requisition}) may still work: open it, then run this again"
                )
            }
            _ => tokio::time::sleep(EVERY).await,
        }
    }
}

/// An account's details as the bank gives them: currency, name and a masked IBAN.
fn describe(account: &Value) -> String {
    let get = |name: &str| account.get(name).and_then(Value::as_str).unwrap_or_default();
    let iban = get("iban");
    let masked = match iban.len() {
        0 => String::new(),
        n if n > 8 => format!("{}…{}", &iban[..4.min(n)], &iban[n - 4..]),
        _ => "…".to_owned(),
    };
    let name = if get("name").is_empty() { get("product") } else { get("name") };
    text::clipped(&format!("{}  {name}  {masked}", get("currency")), text::LINE).into_owned()
}

/// The lines to paste: the source and one account each.
fn config_lines(requisition: &str, accounts: &[String]) -> String {
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut lines = format!(
        "[[source]]\nname = \"eu-bank\"\nkind = \"gocardless\"\nsecret_id = \"${{credential:gocardless-id}}\"\nsecret_key = \"${{credential:gocardless-key}}\"\nrequisition_id = \"{}\"\nschedule = \"5 1,7,13,19 * * *\"   # four reads a day: what banks allow\n",
        quoted(requisition)
    );
    for account in accounts {
        lines.push_str(&format!("\n[[account]]\nsource = \"eu-bank\"\nid = \"{}\"\n", quoted(account)));
    }
    lines
}

fn field(doc: &Value, name: &str) -> anyhow::Result<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| anyhow!("GoCardless's answer has no {name}"))
}

/// Plain http is for a test copy of the API on this machine only.
fn loopback(url: &str) -> bool {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(crate::config::is_loopback_host)).unwrap_or(false)
}
