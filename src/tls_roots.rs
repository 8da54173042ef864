//! The CA certificates every https connection is verified against. reqwest's TLS (rustls with
//! rustls-platform-verifier) reads the system's through rustls-native-certs, which honours
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` and otherwise looks where OpenSSL keeps them; with none it
//! refuses to build a client at all, saying only "builder error". That is a minimal system without
//! the `ca-certificates` package: [`require`] says so, in words a person can act on.

/// No CA certificate could be read: nothing payguard fetches over https can be trusted.
#[derive(Debug, thiserror::Error)]
#[error(
    "no CA certificates found {looked}, so no https server can be verified: install them (`apt install ca-certificates` on Debian and Ubuntu) and start payguard again"
)]
pub struct NoCaCertificates {
    looked: String,
}

/// Fails when the TLS verifier would find no CA certificate, as it will when it is built.
pub fn require() -> Result<(), NoCaCertificates> {
    if !rustls_native_certs::load_native_certs().certs.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .into_iter()
        .filter_map(|name| std::env::var_os(name).map(|value| format!("{name}={}", value.to_string_lossy())))
        .collect();
    let looked = if named.is_empty() { "on this system".to_owned() } else { format!("in {}", named.join(" and ")) };
    Err(NoCaCertificates { looked })
}

/// What to say when an HTTP client could not be built: the missing certificates when that is why.
pub fn client_error(error: reqwest::Error) -> String {
    match require() {
        Err(missing) => missing.to_string(),
        Ok(()) => format!("cannot build the HTTP client: {}", error.without_url()),
    }
}
