//! What the web channels share: the one HTTP POST (timeouts, status → retryable or not, no URL in
//! errors), and keeping secrets out of error text.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{Client, RequestBuilder};

use super::DeliveryError;
use crate::config::Secret;

/// Standard base64 with padding, as Basic credentials and MIME encoded words need.
pub(super) fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) fn client() -> Result<Client, DeliveryError> {
    Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("payguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DeliveryError::permanent(crate::tls_roots::client_error(e)))
}

/// Sends `request`; `receiver` names it in errors (a host or a service, never a URL with a token).
///
/// 2xx is delivered; 429 and 5xx (and 408) are worth retrying, honouring `Retry-After` (seconds or
/// an HTTP date); any other 4xx means the receiver will never take this message as it is.
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
        .and_then(|v| crate::retry::retry_after(v, chrono::Utc::now()));
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

/// Cuts every secret out of an error's text: `send` keeps the receiver's own answer in the
/// message, and a receiver may echo what it was sent.
pub(super) fn scrub(mut error: DeliveryError, secrets: &[Secret]) -> DeliveryError {
    error.message = crate::redact::redact(error.message, secrets);
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::url_secrets;

    #[test]
    fn base64_is_standard_and_padded() {
        // RFC 4648 §10, and bytes that differ between the alphabets.
        let cases: [(&[u8], &str); 5] =
            [(b"", ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foobar", "Zm9vYmFy"), (&[0xfb, 0xff, 0xbf], "+/+/")];
        for (bytes, encoded) in cases {
            assert_eq!(base64(bytes), encoded, "{bytes:?}");
        }
    }

    #[test]
    fn scrub_removes_url_parts_and_tokens() {
        let url = "https://hooks.example.com/services/T000/B000/XXXXXXXXXXXX?key=abcdefgh12";
        let mut secrets = vec![Secret::new(url), Secret::new("tok")];
        secrets.extend(url_secrets(url));
        let error =
            DeliveryError::permanent(format!("hooks.example.com answered HTTP 404: no route {url} key=abcdefgh12 tok"));
        let text = scrub(error, &secrets).message;
        assert!(!text.contains("XXXXXXXXXXXX") && !text.contains("abcdefgh12") && !text.contains("tok"), "{text}");
        assert!(text.starts_with("hooks.example.com answered HTTP 404"), "{text}");
    }
}
