//! E-mail over SMTP (lettre, async, rustls): one multipart/alternative message per alert, plain text
//! with an HTML alternative. This file owns the SMTP connection settings (TLS mode, port, login,
//! timeout), the headers a reader or a mail filter keys on (a Message-ID derived from the message
//! id, `X-Payguard-Alert` with the alert ids), and the reading of SMTP failures: a 4xx reply or a
//! network fault is worth retrying, a 5xx reply or a config mistake is not. Errors name the server
//! as `host:port` and never carry the login.

use std::error::Error as _;
use std::sync::{Mutex, PoisonError};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::{self, AsyncSmtpTransportBuilder};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Deliver, DeliveryError, Message, SendFuture};
mod settings;

pub use settings::{EmailConfig, Tls};

const ALERT_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-Payguard-Alert");

pub struct Email {
    /// Replaced by a fresh one from `builder` after a send runs out of time (see `send`).
    transport: Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    builder: AsyncSmtpTransportBuilder,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// `host:port`, how errors name the server.
    server: String,
    /// Kept only to scrub it from server replies that echo it back.
    username: Option<String>,
    timeout: std::time::Duration,
}

impl Email {
    pub fn new(config: &EmailConfig) -> Result<Self, DeliveryError> {
        let server = if config.host.contains(':') {
            format!("[{}]:{}", config.host, config.port) // an IPv6 address
        } else {
            format!("{}:{}", config.host, config.port)
        };
        // lettre's connection pool spawns its cleanup task on the current runtime and panics
        // without one; say so instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DeliveryError::permanent("the e-mail channel must be set up inside the async runtime"));
        }
        let builder = match config.tls {
            Tls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host),
            Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host),
            Tls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)),
        }
        .map_err(|e| DeliveryError::permanent(format!("cannot set up TLS for {server}: {e}")))?;
        // The relay constructors pick the well-known port; the config's own port wins.
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.expose()?.to_owned()));
        }
        // The config validator checked these addresses; parsing again here keeps `send` free of
        // failures that no retry can fix.
        let mailbox = |address: &str, key: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|e| DeliveryError::permanent(format!("`{key}` {address:?} is not an e-mail address ({e})")))
        };
        Ok(Self {
            transport: Mutex::new(builder.clone().build()),
            builder,
            from: mailbox(&config.from, "from")?,
            to: config.to.iter().map(|a| mailbox(a, "to")).collect::<Result<_, _>>()?,
            server,
            username: config.username.clone().filter(|u| !u.is_empty()),
            timeout: config.timeout,
        })
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.subject.clone())
            // The same message id on every attempt, so a receiver (or a person) can spot a repeat
            // after a crash between sending and recording.
            .message_id(Some(format!("<{}@payguard>", id_part(&message.id))));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        if !message.alert_ids.is_empty() {
            builder = builder.raw_header(HeaderValue::new(ALERT_HEADER, message.alert_ids.join(", ")));
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
            .map_err(|e| DeliveryError::permanent(format!("cannot build the e-mail for {}: {e}", self.server)))?;
        // lettre's own timeout covers only the TCP connect: a server that accepts and then stalls
        // would hold the delivery worker forever. The configured timeout bounds the whole exchange.
        let transport = self.transport.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match tokio::time::timeout(self.timeout, transport.send(email)).await {
            Ok(sent) => sent.map(drop).map_err(|e| self.error(&e)),
            Err(_) => {
                // A connection abandoned mid-reply would go back to lettre's pool, and its late
                // reply would be read as the answer to the next command: start afresh.
                *self.transport.lock().unwrap_or_else(PoisonError::into_inner) = self.builder.clone().build();
                Err(self.timed_out())
            }
        }
    }

    fn timed_out(&self) -> DeliveryError {
        DeliveryError::retry(format!(
            "{} did not answer within {:?}: check `smtp_url`, `timeout` and the network",
            self.server, self.timeout
        ))
    }

    /// Says what went wrong and whether a later attempt can work. SMTP's own split decides: 4xx is
    /// "not now", 5xx is "never like this".
    fn error(&self, e: &smtp::Error) -> DeliveryError {
        let server = &self.server;
        // The server's reply text (or the I/O error) without lettre's own prefix.
        let detail: String = e.source().map_or_else(|| e.to_string(), |s| s.to_string());
        let detail: String = detail.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
        let code = e.status().map(u16::from);
        let (retryable, message) = match code {
            Some(code) if e.is_transient() => {
                (true, format!("{server} turned the message away for now ({code} {detail}); it will be tried again"))
            }
            Some(code @ (530 | 534 | 535 | 538)) => {
                (false, format!("{server} refused the login ({code} {detail}): check `username` and `password`"))
            }
            Some(code) => (
                false,
                format!(
                    "{server} refused the message ({code} {detail}): check `from` and `to`, and that the login may send as `from`"
                ),
            ),
            None if e.is_timeout() => return self.timed_out(),
            None if e.is_tls() => (
                true,
                format!(
                    "TLS with {server} failed ({detail}): check `tls` (\"implicit\" for port 465, \"starttls\" for 587) and the server's certificate"
                ),
            ),
            // lettre refusing to go on: no STARTTLS offered, no login mechanism in common.
            None if e.is_client() => (
                false,
                format!("cannot talk to {server} as configured ({detail}): check `tls`, `username` and `password`"),
            ),
            // lettre says "incomplete response" when the connection closes before a whole reply.
            None if e.is_response() && detail.contains("incomplete") => {
                (true, format!("{server} hung up in the middle of the conversation ({detail}); it will be tried again"))
            }
            None if e.is_response() => (true, format!("{server} sent a reply that is not SMTP ({detail})")),
            None => (
                true,
                format!("cannot reach {server} ({detail}): check `smtp_url`, that the server runs, and the network"),
            ),
        };
        DeliveryError { message: self.scrub(message), retryable, retry_after: None }
    }

    /// Servers sometimes quote the login in a refusal ("535 user alice: bad password").
    fn scrub(&self, text: String) -> String {
        match &self.username {
            Some(username) => text.replace(username.as_str(), "[login]"),
            None => text,
        }
    }
}

impl Deliver for Email {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(Email::send(self, message))
    }
}

/// The left part of a Message-ID takes letters, digits and a few marks; channel names may hold more.
fn id_part(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') { c } else { '-' }).collect()
}
