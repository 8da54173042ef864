//! Channels: how an alert reaches a person. One file or folder per kind, with its settings and its
//! [`Deliver`], listed once in [`ChannelKind`], behind one `send` call that says whether a failure is
//! worth retrying; `render` owns the words, `http` the one POST that the web channels share.
//!
//! Channels know nothing of sources, the store or the outbox: they get a finished [`Message`] and
//! deliver it, or say why not.

pub mod console;
pub mod desktop;
pub mod email;
mod http;
pub mod render;
pub mod sms;
pub mod webhook;

use std::time::Duration;

use crate::config::ChannelConfig;
use crate::model::Severity;

pub use console::{Console, Stream};
pub use desktop::Desktop;
pub use email::Email;
pub use render::Message;
pub use sms::Sms;
pub use webhook::Webhook;

crate::config::kinds! {
    /// The kinds of channel, each with its settings.
    pub enum ChannelKind: dyn Kind {
        Console(console::ConsoleConfig) = "console",
        Desktop(desktop::DesktopConfig) = "desktop",
        Email(email::EmailConfig) = "email",
        Sms(sms::SmsConfig) = "sms",
        Webhook(webhook::WebhookConfig) = "webhook",
    }
}

/// What payguard asks of every kind of channel.
pub trait Kind {
    /// The kind's sender; `console` says where console text goes.
    fn connect(&self, console: Stream) -> Result<Box<dyn Deliver>, DeliveryError>;

    /// Why the kind cannot work on this machine at all, said before anything is sent (the demo
    /// leaves such channels out); `None` when it may.
    fn unavailable(&self) -> Option<&'static str> {
        None
    }
}

/// A kind's work: delivering one message (see [`Channel::send`]).
pub trait Deliver: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a>;
}

/// What [`Deliver::send`] returns: kinds are many, so the future is boxed.
pub type SendFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// Why a delivery failed, and whether sending again later can work. The message never holds a
/// credential, a token or a URL that carries one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    pub retryable: bool,
    /// The receiver's own wish for when to try again (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: true, retry_after: None }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false, retry_after: None }
    }
}

/// A channel built from a config loaded without its secrets: a setup mistake in payguard itself.
impl From<crate::config::Unresolved> for DeliveryError {
    fn from(unresolved: crate::config::Unresolved) -> Self {
        DeliveryError::permanent(unresolved.to_string())
    }
}

/// A configured channel.
pub struct Channel {
    deliver: Box<dyn Deliver>,
}

impl Channel {
    /// Builds the channel a config entry describes; `console_stream` says where console text goes
    /// (stderr when stdout carries JSON).
    pub fn new(config: &ChannelConfig, console_stream: Stream) -> Result<Channel, DeliveryError> {
        Ok(Channel { deliver: config.kind.get().connect(console_stream)? })
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        self.deliver.send(message).await
    }
}

/// Desktop urgency, ntfy priority and the like all grow from the same three levels.
pub fn level(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}
