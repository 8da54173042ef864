//! The one HTTP GET every source uses: timeouts, a body cap, status mapping, no secrets in errors.

use reqwest::header::{CONTENT_LENGTH, HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, StatusCode, Url};

use super::SourceError;
use crate::config::HttpLimits;

pub(super) fn client(limits: &HttpLimits) -> Result<Client, SourceError> {
    builder(limits).build().map_err(|e| SourceError::Setup(crate::tls_roots::client_error(e)))
}

/// What [`client`] builds from: the timeouts and user agent every source keeps, for a kind that
/// adds to them (teller's client certificate).
pub(super) fn builder(limits: &HttpLimits) -> reqwest::ClientBuilder {
    Client::builder()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .user_agent(concat!("payguard/", env!("CARGO_PKG_VERSION")))
}

/// Checks that a source URL is safe to send credentials to: https, or http to this machine only
/// unless the entry allows plain http. The config's rule ([`crate::config::secure_url`]), checked
/// again because configs can be built in code.
pub fn check_url(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    crate::config::secure_url(text, allow_insecure_http)
}

/// `id` as one segment of a URL path: everything but RFC 3986's unreserved characters
/// percent-encoded, so an id with a `/`, `?` or `#` in it cannot reach another endpoint.
pub(super) fn segment(id: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(id, RESERVED).to_string()
}

/// How a URL is named in messages: scheme, host and port, never user info, path or query.
pub fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "the source".to_owned(),
    }
}

/// POSTs an empty body to `url` and reads at most `max_body` bytes of a successful answer, with the
/// same timeouts, status mapping and host-only errors as every poll. For one-off exchanges outside
/// a poll: claiming a SimpleFIN setup token.
pub async fn post(url: &Url, limits: &HttpLimits) -> Result<Vec<u8>, SourceError> {
    let client = client(limits)?;
    let host = host_of(url);
    // Said outright: hyper sends no length for an empty body, and some servers answer a POST
    // without one with 411 Length Required.
    let request = client.post(url.clone()).header(CONTENT_LENGTH, "0");
    get(request, &host, limits).await
}

/// Sends `request` and reads at most `max_body` bytes of a successful answer. Despite the name it
/// sends whatever method `request` has; [`post`] uses it too.
pub(super) async fn get(request: RequestBuilder, host: &str, limits: &HttpLimits) -> Result<Vec<u8>, SourceError> {
    let answer = send(request, host, limits).await?;
    if answer.status.is_success() { Ok(answer.body) } else { Err(answer.error(host)) }
}

/// [`get`], where a kind reads a refusal first: `explain` gets the status and the start of the
/// body (at most 2 KiB, what we sent cut out) and returns the kind's own error for what the
/// platform documents, or `None` for the usual mapping (401/403 refused credentials, 429 with its
/// wait, any other status with its words).
pub(super) async fn get_explained(
    request: RequestBuilder,
    host: &str,
    limits: &HttpLimits,
    explain: impl FnOnce(StatusCode, &str) -> Option<SourceError>,
) -> Result<Vec<u8>, SourceError> {
    let answer = send(request, host, limits).await?;
    if answer.status.is_success() {
        return Ok(answer.body);
    }
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    Err(explain(answer.status, &body).unwrap_or_else(|| answer.error(host)))
}

/// What a platform answered: its status, its headers and its body (at most `max_body` bytes; for an
/// error status at most 2 KiB, with what we sent cut out). For kinds that read more than a body:
/// quota headers, a provider's own error codes.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The error an unsuccessful answer is, as [`get`] reports it.
    pub(super) fn error(&self, host: &str) -> SourceError {
        let detail = snippet(&self.body);
        status_error(host, self.status, retry_after(&self.headers, chrono::Utc::now()), detail)
    }
}

/// Sends `request` with the timeouts and body cap of `limits`; any status is an [`Answer`], and only
/// what kept an answer from arriving whole is an error.
pub(super) async fn send(request: RequestBuilder, host: &str, limits: &HttpLimits) -> Result<Answer, SourceError> {
    let max_body = limits.max_body;
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            SourceError::Timeout { host: host.to_owned(), seconds: limits.timeout.as_secs() }
        } else {
            SourceError::Unreachable { host: host.to_owned(), reason: error_chain(e.without_url()) }
        }
    };
    let (client, request) = request.build_split();
    let request = request
        .map_err(|e| SourceError::Setup(format!("cannot build the request: {}", error_chain(e.without_url()))))?;
    // A platform's error page may echo the request: keep what it said, never what we sent.
    let secrets = crate::redact::request_secrets(&request);
    let mut response = client.execute(request).await.map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        let body = read_capped(&mut response, 2048)
            .await
            .map(|b| crate::redact::redact(String::from_utf8_lossy(&b).into_owned(), &secrets).into_bytes())
            .unwrap_or_default();
        return Ok(Answer { status, headers: response.headers().clone(), body });
    }
    let expected = response.content_length();
    if expected.is_some_and(|n| n > max_body) {
        return Err(SourceError::TooLarge { host: host.to_owned(), limit: max_body });
    }
    let headers = response.headers().clone();
    match read_capped(&mut response, max_body).await {
        Ok(body) => Ok(Answer { status, headers, body }),
        Err(ReadError::TooLarge) => Err(SourceError::TooLarge { host: host.to_owned(), limit: max_body }),
        Err(ReadError::Transport(e, _)) if e.is_timeout() => Err(transport(e)),
        // We reached the host and it began to answer: "cannot reach" would send people looking
        // at the network, when the answer itself was cut short.
        Err(ReadError::Transport(e, received)) => Err(SourceError::BrokenOff {
            host: host.to_owned(),
            received,
            expected,
            reason: root_cause(&e.without_url()),
        }),
    }
}

enum ReadError {
    TooLarge,
    /// The error, and how many bytes had arrived before it.
    Transport(reqwest::Error, u64),
}

async fn read_capped(response: &mut reqwest::Response, cap: u64) -> Result<Vec<u8>, ReadError> {
    // Sized once from the announced length (never beyond the cap): a 20 MB answer grown by
    // doubling would copy itself a dozen times and hold up to three times its size at the last
    // copy. A length that lies costs nothing: untouched capacity is not resident memory.
    let announced = response.content_length().unwrap_or(0).min(cap);
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(|e| ReadError::Transport(e, body.len() as u64))? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn status_error(host: &str, status: StatusCode, retry_after: Option<u64>, detail: String) -> SourceError {
    let host = host.to_owned();
    match status.as_u16() {
        401 | 403 => SourceError::Auth { host, status: status.as_u16() },
        429 => SourceError::RateLimited { host, retry_after },
        code => SourceError::Status { host, status: code, detail },
    }
}

/// The platform's `Retry-After` in whole seconds, in either form ([`crate::retry::retry_after`]).
fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
    crate::retry::retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, now).map(|wait| wait.as_secs())
}

/// The start of an error body, on one line, for a log message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}

/// The innermost cause of an error: what actually went wrong, without the layers' wrappers.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

pub(super) fn error_chain(error: reqwest::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_use_plain_http() {
        assert!(check_url("https://bridge.example.com/simplefin", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_ok());
        assert!(check_url("http://[::1]:8080/x", false).is_ok());
        assert!(check_url("http://localhost/x", false).is_ok());
        assert!(check_url("http://bank.example.com/x", false).is_err());
        assert!(check_url("http://10.0.0.1/x", false).is_err());
        assert!(check_url("ftp://127.0.0.1/x", false).is_err());
        let err = check_url("http://user:hunter2@bank.example.com/", false).err().unwrap_or_default();
        assert!(!err.contains("hunter2"));
    }

    /// A platform that answers 429 with `retry-after: VALUE`, once, on loopback.
    async fn rate_limiting(value: String) -> Url {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = Url::parse(&format!("http://{}/accounts", listener.local_addr().expect("addr"))).expect("url");
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head).await;
            let answer = format!(
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: {value}\r\ncontent-length: 9\r\nconnection: close\r\n\r\nslow down"
            );
            stream.write_all(answer.as_bytes()).await.expect("write");
        });
        url
    }

    #[tokio::test]
    async fn retry_after_is_read_as_seconds_or_as_a_date() {
        let limits = HttpLimits {
            connect_timeout: std::time::Duration::from_secs(5),
            timeout: std::time::Duration::from_secs(5),
            max_body: 1024,
            allow_insecure_http: false,
        };
        let asked = |value: String| async {
            let url = rate_limiting(value).await;
            let client = client(&limits).expect("client");
            match get(client.get(url), "bank", &limits).await {
                Err(SourceError::RateLimited { retry_after, .. }) => retry_after,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(asked("120".into()).await, Some(120));
        let in_ten_minutes = (chrono::Utc::now() + chrono::TimeDelta::seconds(600)).format("%a, %d %b %Y %H:%M:%S GMT");
        let wait = asked(in_ten_minutes.to_string()).await.unwrap_or_default();
        assert!((590..=600).contains(&wait), "an HTTP date ten minutes ahead asks for {wait}s");
        assert_eq!(asked("whenever".into()).await, None, "garbage is no wish");
    }
}
