//! The one HTTP POST the web channels share: timeouts, status → retryable or not, no URL in errors.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{Client, RequestBuilder};

use super::DeliveryError;

pub(super) fn client() -> Result<Client, DeliveryError> {
    Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("payguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DeliveryError::permanent(format!("cannot build the HTTP client: {}", e.without_url())))
}

/// Sends `request`; `receiver` names it in errors (a host or a service, never a URL with a token).
///
/// 2xx is delivered; 429 and 5xx (and 408) are worth retrying, honouring `Retry-After`; any other
/// 4xx means the receiver will never take this message as it is.
pub(super) async fn send(request: RequestBuilder, receiver: &str) -> Result<(), DeliveryError> {
    let response = request.send().await.map_err(|e| {
        let what = if e.is_timeout() { "timed out" } else { "could not connect" };
        DeliveryError::retry(format!("{receiver}: {what} ({})", e.without_url()))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let detail: String = body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
    let message = format!(
        "{receiver} answered HTTP {}{}",
        status.as_u16(),
        if detail.is_empty() { String::new() } else { format!(": {detail}") }
    );
    let retryable = status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error();
    Err(DeliveryError { message, retryable, retry_after: retry_after.filter(|_| retryable) })
}

/// How a receiver URL is named in messages: its host, never its path (Slack and Discord put tokens
/// there) or user info.
pub(super) fn receiver(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the receiver".to_owned())
}
