//! Cutting secrets out of text that came back from the other side. A platform or a receiver may
//! echo the request it got (its URL with an API key, its Authorization header) in an error page,
//! and payguard keeps the start of such pages in its errors, logs and the store: every secret that
//! went out with the request is removed from them first. This is the one place, besides the wire,
//! that reads secrets, and only to remove them.

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};

use crate::config::Secret;

/// The parts of a URL that may be a credential on their own, because a receiver that echoes the
/// request in its error body may show just those: the password, the path (Slack and Discord
/// tokens), its longer segments, and longer query values (gateway API keys). "Longer" is eight
/// characters, so `json` or `v1` stay readable in messages.
pub(crate) fn url_secrets(url: &str) -> Vec<Secret> {
    let Ok(url) = Url::parse(url) else { return Vec::new() };
    let mut parts: Vec<String> = url.password().map(str::to_owned).into_iter().collect();
    if url.path().len() > 1 {
        parts.push(url.path().to_owned());
    }
    parts.extend(url.path_segments().into_iter().flatten().filter(|s| s.len() >= 8).map(str::to_owned));
    if let Some(query) = url.query() {
        parts.push(query.to_owned());
    }
    parts.extend(url.query_pairs().map(|(_, v)| v.into_owned()).filter(|v| v.len() >= 8));
    parts.into_iter().map(Secret::new).collect()
}

/// Everything in a source's `request` that may be a credential: the URL's password and query (a
/// source's path names accounts, not keys), and its header values, whole and after an auth scheme;
/// for Basic auth the decoded password too, since reqwest moves a URL's login into that header.
pub(crate) fn request_secrets(request: &reqwest::Request) -> Vec<Secret> {
    let url = request.url();
    let mut secrets: Vec<Secret> = url.password().map(Secret::new).into_iter().collect();
    if let Some(query) = url.query() {
        secrets.push(Secret::new(query));
    }
    secrets.extend(url.query_pairs().map(|(_, v)| v.into_owned()).filter(|v| v.len() >= 8).map(Secret::new));
    for (name, value) in request.headers() {
        if [ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT].contains(name) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        secrets.push(Secret::new(value));
        let Some((scheme, credential)) = value.split_once(' ') else { continue };
        secrets.push(Secret::new(credential.trim()));
        let login = decode_base64(credential.trim()).and_then(|b| String::from_utf8(b).ok());
        if let (true, Some((_, password))) =
            (scheme.eq_ignore_ascii_case("basic"), login.as_deref().and_then(|l| l.split_once(':')))
        {
            secrets.push(Secret::new(password));
        }
    }
    secrets
}

/// A credential that may be base64: padded or not, in either alphabet (a header written by hand
/// in a config need not be what a library would write). Decoding more is redacting more.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
    STANDARD_PAD_INDIFFERENT.decode(text).or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text)).ok()
}

/// `text` with every secret replaced by `[redacted]`, longest first, so a whole URL goes before
/// its parts and leaves no fragments.
pub(crate) fn redact(mut text: String, secrets: &[Secret]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().filter_map(|s| s.expose().ok()).filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_s_key_token_and_password_are_cut_from_an_echo() {
        let client = reqwest::Client::new();
        let request = client
            .get("https://user:pa55word@bank.example.com/v1/accounts?api_key=K3y-1234567")
            .bearer_auth("T0ken-abcdef")
            .header("x-api-key", "H3ader-secret")
            .build()
            .expect("a request");
        let echo = "400 bad request: GET /v1/accounts?api_key=K3y-1234567 Authorization: Bearer T0ken-abcdef \
                    x-api-key: H3ader-secret from user:pa55word"
            .to_owned();
        let text = redact(echo, &request_secrets(&request));
        for secret in ["K3y-1234567", "T0ken-abcdef", "H3ader-secret", "pa55word"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.starts_with("400 bad request: GET /v1/accounts?[redacted]"), "{text}");
    }

    #[test]
    fn a_basic_password_is_cut_however_its_header_was_written() {
        // Padded and not, in the standard and the URL-safe alphabet.
        let cases = [
            ("dXNlcjpwYTU1d29yZD8+", "pa55word?>"),
            ("dXNlcjpwYTU1d29yZD8-", "pa55word?>"),
            ("dXNlcjpwYTU1d29yZA==", "pa55word"),
            ("dXNlcjpwYTU1d29yZA", "pa55word"),
        ];
        for (credential, password) in cases {
            let request = reqwest::Client::new()
                .get("https://bank.example.com/")
                .header("authorization", format!("Basic {credential}"))
                .build()
                .expect("a request");
            let text = redact(format!("denied {password}"), &request_secrets(&request));
            assert_eq!(text, "denied [redacted]", "{credential}");
        }
    }
}
