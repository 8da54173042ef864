//! `kind = "teller"`: the keys of a Teller source. Teller authenticates the application by a client
//! certificate over mutual TLS (`certificate` and `private_key`, the PEM files the Teller dashboard
//! gives) and the enrollment (one person's login at one bank) by its `access_token`.

use serde::Deserialize;
use toml::Spanned;

use super::Teller;
use crate::config::{ConfigError, Credentials, Entry, HttpLimits, Secret, host};
use crate::source::{Poller, SourceError};

/// Teller's production API, which the application's certificate is issued for.
pub const DEFAULT_API_BASE: &str = "https://api.teller.io";

#[derive(Debug, Clone)]
pub struct TellerConfig {
    pub api_base: String,
    /// Where the client certificate and its key were read from, for messages.
    pub certificate: String,
    pub private_key: String,
    /// The certificate and the key as one PEM text, as read when the config was loaded; `None`
    /// when it was loaded without its secrets (`Secrets::Skip`), which never polls.
    pub identity: Option<Secret>,
    /// The enrollment's token: sent as the Basic user name, with an empty password.
    pub access_token: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeller {
    api_base: Option<Spanned<String>>,
    certificate: Option<Spanned<String>>,
    private_key: Option<Spanned<String>>,
    access_token: Option<Secret>,
}

impl crate::config::Kind for TellerConfig {
    type Raw = RawTeller;

    fn validate(raw: RawTeller, entry: &Entry<'_>) -> Result<Self, ConfigError> {
        let api_base = match raw.api_base {
            Some(base) => {
                entry.url(base.span(), "api_base", base.get_ref(), entry.allow_insecure_http)?;
                base.into_inner()
            }
            None => DEFAULT_API_BASE.to_owned(),
        };
        let Some(certificate) = raw.certificate else {
            return entry.missing(
                "certificate",
                "a teller source needs certificate, the path of the client certificate your Teller application downloaded from the dashboard (certificate.pem)",
            );
        };
        let Some(private_key) = raw.private_key else {
            return entry.missing(
                "private_key",
                "a teller source needs private_key, the path of the client certificate's private key from the Teller dashboard (private_key.pem)",
            );
        };
        let Some(access_token) = raw.access_token else {
            return entry.missing(
                "access_token",
                "a teller source needs access_token, the token Teller Connect gave when the bank was enrolled, e.g. \"${file:/etc/payguard/teller-token}\"",
            );
        };
        let identity = identity(entry, &certificate, &private_key)?;
        Ok(TellerConfig {
            api_base,
            certificate: certificate.into_inner(),
            private_key: private_key.into_inner(),
            identity,
            access_token,
        })
    }

    fn credentials<'a>(&'a self, found: &mut Credentials<'a>) {
        // The key's file is judged where it is read (`Entry::file`); neither PEM is in the config.
        let TellerConfig { api_base: _, certificate: _, private_key: _, identity: _, access_token } = self;
        found.token("access_token", access_token);
    }

    fn describe(&self) -> String {
        host(&self.api_base)
    }
}

/// Reads the certificate and the key and checks that each holds what it should, so a swapped or
/// truncated file is a config error at its key rather than a refused handshake at the first poll.
fn identity(
    entry: &Entry<'_>,
    certificate: &Spanned<String>,
    private_key: &Spanned<String>,
) -> Result<Option<Secret>, ConfigError> {
    let cert = entry.file(certificate.span(), "certificate", certificate.get_ref(), false)?;
    let key = entry.file(private_key.span(), "private_key", private_key.get_ref(), true)?;
    let (Some(cert), Some(key)) = (cert, key) else { return Ok(None) };
    if !cert.contains("-----BEGIN CERTIFICATE-----") {
        return entry.error(
            certificate.span(),
            "certificate",
            format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----): use certificate.pem from the Teller dashboard", certificate.get_ref()),
        );
    }
    if !key.contains("PRIVATE KEY-----") {
        return entry.error(
            private_key.span(),
            "private_key",
            format!("{} holds no PEM private key (-----BEGIN PRIVATE KEY-----): use private_key.pem from the Teller dashboard", private_key.get_ref()),
        );
    }
    let pem = format!("{}\n{key}", cert.trim_end());
    // A client that trusts nothing, built only to see that the key belongs to the certificate.
    let paired = reqwest::Identity::from_pem(pem.as_bytes())
        .and_then(|identity| reqwest::Client::builder().tls_certs_only([]).identity(identity).build());
    if let Err(e) = paired {
        return entry.error(
            private_key.span(),
            "private_key",
            format!(
                "{} and {} are not a client certificate and its key ({}): use the pair your Teller application downloaded from the dashboard, as it is",
                certificate.get_ref(),
                private_key.get_ref(),
                crate::source::fetch::error_chain(e)
            ),
        );
    }
    Ok(Some(Secret::new(pem)))
}

impl crate::source::Kind for TellerConfig {
    /// The account list, then each account's balances and (one page of) transactions.
    fn requests_per_poll(&self, accounts: usize) -> u32 {
        u32::try_from(accounts).unwrap_or(u32::MAX).saturating_mul(2).saturating_add(1)
    }

    /// The poller brings its own client: the one offered has no client certificate. It keeps the
    /// same limits (`source::fetch::builder`).
    fn connect(
        &self,
        name: &str,
        _client: reqwest::Client,
        limits: HttpLimits,
    ) -> Result<Box<dyn Poller>, SourceError> {
        Ok(Box::new(Teller::new(name, self, limits)?))
    }
}
