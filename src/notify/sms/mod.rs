//! SMS through Twilio's Messages API or any HTTP gateway: one request per recipient, each through
//! the shared [`http::send`], carrying the message's one-SMS form (`Message::short`).
//!
//! Several recipients are one delivery: every number is tried, and if any fails the delivery
//! fails, naming the numbers that did not get it. Delivery is at-least-once, so a retry sends to
//! everyone again, including those who already got it; remembering who did would need per-recipient
//! state in the outbox, and a duplicate alert text costs far less than a missing one.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Url};

use super::http::{base64, scrub};
use super::{Deliver, DeliveryError, Message, SendFuture, http};
use crate::config::Secret;

mod settings;

use crate::redact::url_secrets;
pub use settings::{SmsConfig, SmsProvider};

/// Twilio refuses a `Body` longer than this many characters.
const TWILIO_BODY_LIMIT: usize = 1600;

pub struct Sms {
    client: Client,
    to: Vec<String>,
    gateway: Gateway,
    /// Everything an error must not show, cut out of it even when a receiver echoes it back.
    secrets: Vec<Secret>,
}

enum Gateway {
    Twilio {
        /// `…/2010-04-01/Accounts/{sid}/Messages.json`; the SID names the account, it is not the key.
        url: Url,
        account_sid: String,
        auth_token: Secret,
        /// `From`, or `MessagingServiceSid` when `from` names a Messaging Service (`MG…`).
        sender_field: &'static str,
        from: String,
        receiver: String,
    },
    Http {
        url: Secret,
        method: Method,
        /// Content type and configured headers, checked once in `new`.
        headers: HeaderMap,
        template: String,
        encoding: Encoding,
        receiver: String,
    },
}

/// How values are written into a gateway's body template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Inside a JSON string: escaped, the template supplies the quotes.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// As they are.
    Raw,
}

impl Sms {
    pub fn new(config: &SmsConfig) -> Result<Self, DeliveryError> {
        let (gateway, secrets) = match &config.provider {
            SmsProvider::Twilio { account_sid, auth_token, from, api_base } => {
                let receiver = format!("Twilio ({})", http::receiver(api_base));
                let url = twilio_url(api_base, account_sid)
                    .ok_or_else(|| DeliveryError::permanent(format!("{receiver}: api_base is not a base URL")))?;
                // A receiver that echoes the request could show the Basic header, not just the token.
                let basic = Secret::new(base64(format!("{account_sid}:{}", auth_token.expose()?).as_bytes()));
                let sender_field = if is_messaging_service(from) { "MessagingServiceSid" } else { "From" };
                let gateway = Gateway::Twilio {
                    url,
                    account_sid: account_sid.clone(),
                    auth_token: auth_token.clone(),
                    sender_field,
                    from: from.clone(),
                    receiver,
                };
                (gateway, vec![auth_token.clone(), basic])
            }
            SmsProvider::Http { url, method, headers: configured, body, content_type } => {
                let receiver = http::receiver(url.expose()?);
                if Url::parse(url.expose()?).is_err() {
                    return Err(DeliveryError::permanent(format!("the SMS gateway URL for {receiver} is not a URL")));
                }
                let method = Method::from_bytes(method.as_bytes())
                    .map_err(|_| DeliveryError::permanent(format!("{method:?} is not an HTTP method")))?;
                let mut headers = HeaderMap::new();
                let content_type_value = HeaderValue::from_str(content_type)
                    .map_err(|_| DeliveryError::permanent(format!("{content_type:?} is not a valid content type")))?;
                headers.insert(CONTENT_TYPE, content_type_value);
                // After the content type, so a configured Content-Type wins.
                for (name, value) in configured {
                    let header = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| DeliveryError::permanent(format!("{name:?} is not a valid HTTP header name")))?;
                    let mut value = HeaderValue::from_str(value.expose()?).map_err(|_| {
                        DeliveryError::permanent(format!("the value of header {name} is not a valid HTTP header value"))
                    })?;
                    value.set_sensitive(true);
                    headers.insert(header, value);
                }
                let lower = content_type.to_ascii_lowercase();
                let encoding = if lower.contains("json") {
                    Encoding::Json
                } else if lower.starts_with("application/x-www-form-urlencoded") {
                    Encoding::Form
                } else {
                    Encoding::Raw
                };
                let mut secrets = vec![url.clone()];
                secrets.extend(url_secrets(url.expose()?));
                secrets.extend(configured.values().cloned());
                let gateway =
                    Gateway::Http { url: url.clone(), method, headers, template: body.clone(), encoding, receiver };
                (gateway, secrets)
            }
        };
        Ok(Self { client: http::client()?, to: config.to.clone(), gateway, secrets })
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        // One after another: a handful of numbers, and a 429 from the first is worth seeing before
        // the rest pile on. A permanent failure for one number does not stop the others.
        let mut failures = Vec::new();
        for to in &self.to {
            if let Err(error) = self.send_one(to, message).await {
                failures.push((to.as_str(), scrub(error, &self.secrets)));
            }
        }
        outcome(self.to.len(), failures)
    }

    async fn send_one(&self, to: &str, message: &Message) -> Result<(), DeliveryError> {
        match &self.gateway {
            Gateway::Twilio { url, account_sid, auth_token, sender_field, from, receiver } => {
                let body: String = message.short.chars().take(TWILIO_BODY_LIMIT).collect();
                let request = self
                    .client
                    .post(url.clone())
                    .basic_auth(account_sid, Some(auth_token.expose()?))
                    .form(&[("To", to), (*sender_field, from.as_str()), ("Body", body.as_str())]);
                http::send(request, receiver).await.map_err(|e| twilio_error(e, receiver))
            }
            Gateway::Http { url, method, headers, template, encoding, receiver } => {
                let alert_id = message.alert_ids.first().unwrap_or(&message.id);
                let values = [
                    ("to", to),
                    ("message", message.short.as_str()),
                    ("title", message.subject.as_str()),
                    ("severity", message.severity.as_str()),
                    ("alert_id", alert_id.as_str()),
                ];
                let body = fill(template, *encoding, &values);
                let request = self.client.request(method.clone(), url.expose()?).headers(headers.clone()).body(body);
                http::send(request, receiver).await
            }
        }
    }
}

impl Deliver for Sms {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(Sms::send(self, message))
    }
}

/// `{api_base}/2010-04-01/Accounts/{sid}/Messages.json`, built on the parsed URL so the SID is
/// percent-encoded as a path segment and a trailing slash on `api_base` does not double up.
fn twilio_url(api_base: &str, account_sid: &str) -> Option<Url> {
    let mut url = Url::parse(api_base).ok()?;
    url.path_segments_mut().ok()?.pop_if_empty().extend(["2010-04-01", "Accounts", account_sid, "Messages.json"]);
    Some(url)
}

/// A Messaging Service SID: `MG` and 32 hex digits. Alphanumeric sender IDs may also start with
/// "MG", hence the full shape.
fn is_messaging_service(from: &str) -> bool {
    from.len() == 34 && from.starts_with("MG") && from[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Twilio explains a refusal as JSON (`{"code", "message", "more_info", "status"}`); its code is
/// what its docs and support go by, so it leads the error. `http::send` owns the response and
/// hands over only the first 200 characters of the body inside its message: when that is not
/// whole JSON, its text (which starts with the code) stays as it is.
fn twilio_error(mut error: DeliveryError, receiver: &str) -> DeliveryError {
    let Some(rest) = error.message.strip_prefix(receiver).and_then(|r| r.strip_prefix(" answered HTTP ")) else {
        return error;
    };
    let Some((status, detail)) = rest.split_once(": ") else { return error };
    let Ok(serde_json::Value::Object(body)) = serde_json::from_str::<serde_json::Value>(detail) else { return error };
    let (Some(code), Some(text)) = (body.get("code"), body.get("message").and_then(|m| m.as_str())) else {
        return error;
    };
    let more = body.get("more_info").and_then(|m| m.as_str()).map(|m| format!(" (see {m})")).unwrap_or_default();
    error.message = format!("{receiver} answered HTTP {status}: Twilio error {code}: {text}{more}");
    error
}

/// Fills `{to}`, `{message}`, `{title}`, `{severity}` and `{alert_id}` in one pass, so a value that
/// itself contains `{title}` is never expanded again; any other `{…}` is left as written (JSON
/// templates are full of braces).
fn fill(template: &str, encoding: Encoding, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 160);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let value = after.find('}').and_then(|end| {
            let name = &after[..end];
            values.iter().find(|(key, _)| *key == name).map(|(_, value)| (end, *value))
        });
        match value {
            Some((end, value)) => {
                out.push_str(&encode(value, encoding));
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn encode(value: &str, encoding: Encoding) -> String {
    match encoding {
        Encoding::Raw => value.to_owned(),
        Encoding::Json => {
            // serde_json's own string escaping, minus the quotes the template already has.
            let quoted = serde_json::to_string(value).unwrap_or_default();
            quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or_default().to_owned()
        }
        Encoding::Form => {
            // The WHATWG urlencoded serializer: these bytes stay, space is `+`, the rest is %XX.
            let mut out = String::with_capacity(value.len() * 3);
            for byte in value.bytes() {
                match byte {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
                    b' ' => out.push('+'),
                    _ => out.push_str(&format!("%{byte:02X}")),
                }
            }
            out
        }
    }
}

/// One result for all recipients: failed if any failed, naming each number that did not get it.
/// Retryable only when every failure is, since a retry resends to all and cannot fix a number the
/// provider refuses; then it waits as long as the slowest `Retry-After` asks.
fn outcome(total: usize, failures: Vec<(&str, DeliveryError)>) -> Result<(), DeliveryError> {
    if failures.is_empty() {
        return Ok(());
    }
    let retryable = failures.iter().all(|(_, e)| e.retryable);
    let retry_after = if retryable { failures.iter().filter_map(|(_, e)| e.retry_after).max() } else { None };
    let delivered = total - failures.len();
    let mut message =
        failures.iter().map(|(to, e)| format!("SMS to {to} failed: {}", e.message)).collect::<Vec<_>>().join("; ");
    if delivered > 0 {
        message.push_str(&format!(" ({delivered} of {total} recipients got it)"));
    }
    Err(DeliveryError { message, retryable, retry_after })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const VALUES: [(&str, &str); 2] = [("to", "+49 170"), ("title", "say \"hi\"\n& {title}")];

    #[test]
    fn templates_fill_known_names_once_and_keep_other_braces() {
        let template = r#"{"to":"{to}","t":"{title}","x":"{unknown}"}"#;
        assert_eq!(
            fill(template, Encoding::Json, &VALUES),
            r#"{"to":"+49 170","t":"say \"hi\"\n& {title}","x":"{unknown}"}"#
        );
        assert_eq!(fill("to={to}&t={title}", Encoding::Form, &VALUES), "to=%2B49+170&t=say+%22hi%22%0A%26+%7Btitle%7D");
        assert_eq!(fill("{to} {title", Encoding::Raw, &VALUES), "+49 170 {title");
    }

    #[test]
    fn the_twilio_url_names_the_account() {
        let url = twilio_url("https://api.twilio.com/", "AC123").map(String::from);
        assert_eq!(url.as_deref(), Some("https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"));
    }

    #[test]
    fn one_permanent_failure_makes_the_whole_delivery_permanent() {
        let slow = DeliveryError { message: "busy".into(), retryable: true, retry_after: Some(Duration::from_secs(9)) };
        let error = outcome(3, vec![("+1", slow.clone()), ("+2", DeliveryError::retry("down"))]).err();
        assert_eq!(error.as_ref().map(|e| (e.retryable, e.retry_after)), Some((true, Some(Duration::from_secs(9)))));
        assert!(error.is_some_and(|e| e.message.contains("+1") && e.message.contains("1 of 3")));
        let error = outcome(2, vec![("+1", slow), ("+2", DeliveryError::permanent("bad number"))]).err();
        assert_eq!(error.map(|e| (e.retryable, e.retry_after)), Some((false, None)));
        assert_eq!(outcome(2, Vec::new()), Ok(()));
    }
}
