//! The one rule for every URL payguard sends credentials or money data to (a source's access,
//! balance and transactions URLs, a notice's URL, a web channel's URL or API base): `https://`
//! always, plain `http://` only to this machine, or to anywhere when that entry says
//! `allow_insecure_http = true`. The sources check their URLs again with the same rule
//! (`source::check_url`), since configs can also be built in code.

use std::ops::Range;

use reqwest::Url;

use super::ConfigError;
use super::schema::Validator;

/// Checks `text` against the rule; `allow_insecure_http` is the entry's `allow_insecure_http`.
/// Messages never repeat the URL (it may carry a password), only, at most, its host.
pub fn secure_url(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e}): expected https://host/path"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure_http || url.host_str().is_some_and(is_loopback_host) => Ok(url),
        "http" => Err(
            "http:// sends credentials and balances in clear text: use https:// (plain http is accepted for loopback hosts only)"
                .to_owned(),
        ),
        _ => Err("the URL must start with https://".to_owned()),
    }
}

/// Whether `host` (a name, an IP address, or an IPv6 address in brackets) is this machine:
/// `localhost`, 127.0.0.0/8 or ::1 (also as the IPv4-mapped `::ffff:127.x.y.z`). Names that merely
/// start with "localhost", or that resolve to a loopback address today, do not count.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// A URL as `Debug` shows it: without its login, query or fragment, where config URLs keep API
/// keys (`{account}` templates stay readable).
pub fn redacted(text: &str) -> String {
    let (rest, hidden) = match text.find(['?', '#']) {
        Some(at) => (&text[..at], "?[redacted]"),
        None => (text, ""),
    };
    let Some((scheme, after)) = rest.split_once("://") else { return format!("{rest}{hidden}") };
    let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://[redacted]@{host}{path}{hidden}"),
        None => format!("{scheme}://{authority}{path}{hidden}"),
    }
}

/// Scheme, host and port of a URL the config has checked: never the login, path or query. What
/// `payguard check` says of where a kind connects.
pub fn host(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{}://{h}:{p}", u.scheme()),
                None => format!("{}://{h}", u.scheme()),
            })
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// [`host`] of a URL that is a secret, or the reference it was not resolved from here.
pub fn secret_host(url: &super::Secret) -> String {
    url.expose().map_or_else(|unresolved| format!("{} (not resolved here)", unresolved.reference()), host)
}

impl Validator<'_> {
    /// [`secure_url`] for the value at `span` of `key`; `entry` (like `[[source]]`) is the table
    /// whose `allow_insecure_http` would allow plain http, which a refusal names as the way out.
    pub(super) fn url(
        &self,
        span: Range<usize>,
        key: String,
        text: &str,
        allow_insecure_http: bool,
        entry: &str,
    ) -> Result<Url, ConfigError> {
        let checked = secure_url(text, allow_insecure_http);
        if let Ok(url) = &checked
            && url.scheme() == "http"
            && let Some(host) = url.host_str().filter(|h| !is_loopback_host(h))
        {
            self.warnings.borrow_mut().push(format!(
                "`{key}` sends credentials and money data to {host} over plain http (allow_insecure_http = true): anyone on a network between can read and change them"
            ));
        }
        checked.or_else(|message| {
            let plain_http = Url::parse(text).ok().filter(|u| u.scheme() == "http");
            let message = match plain_http.as_ref().and_then(Url::host_str) {
                Some(host) => format!(
                    "{message}; if every network between payguard and {host} is yours, set allow_insecure_http = true in this {entry} to allow it"
                ),
                None => message,
            };
            self.error(span, key, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_always_plain_http_to_this_machine_or_when_allowed() {
        for ok in [
            "https://bridge.example.com/simplefin",
            "http://127.0.0.1:8080/x",
            "http://127.8.9.10/x",
            "http://[::1]:8080/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://localhost/x",
            "http://LOCALHOST:8080/x",
        ] {
            assert!(secure_url(ok, false).is_ok(), "{ok}");
        }
        for remote in [
            "http://bank.example.com/x",
            "http://10.0.0.1/x",
            "http://localhost.evil.example/x",
            "http://127.0.0.1.nip.io/x",
            "http://[::2]/x",
            "http://0.0.0.0/x",
        ] {
            let refused = secure_url(remote, false).err().unwrap_or_default();
            assert!(refused.contains("use https://"), "{remote}: {refused}");
            assert!(secure_url(remote, true).is_ok(), "{remote} with allow_insecure_http");
        }
        for never in ["ftp://127.0.0.1/x", "file:///etc/passwd", "bridge.example.com/x"] {
            assert!(secure_url(never, true).is_err(), "{never}: only http and https, ever");
        }
        let err = secure_url("http://user:hunter2@bank.example.com/", false).err().unwrap_or_default();
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn debug_urls_lose_their_login_and_query() {
        for (url, shown) in [
            ("https://api.example/v1/{account}/balance", "https://api.example/v1/{account}/balance"),
            ("https://api.example/v1/{account}?key=hunter2&x=1", "https://api.example/v1/{account}?[redacted]"),
            ("https://me:hunter2@api.example:8443/x", "https://[redacted]@api.example:8443/x"),
            ("https://me:hunter2@api.example", "https://[redacted]@api.example"),
            ("https://api.example/feed#hunter2", "https://api.example/feed?[redacted]"),
            ("not a url?hunter2", "not a url?[redacted]"),
        ] {
            assert_eq!(redacted(url), shown);
        }
    }
}
