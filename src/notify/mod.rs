//! Channels: how an alert reaches a person. One file per channel behind one `send` call that says
//! whether a failure is worth retrying; `render` owns the words, `http` the one POST that the web
//! channels share.
//!
//! Channels know nothing of sources, the store or the outbox: they get a finished [`Message`] and
//! deliver it, or say why not.

mod console;
mod desktop;
mod email;
mod http;
pub mod render;
mod sms;
mod webhook;

use std::time::Duration;

use crate::config::{ChannelConfig, ChannelKind};
use crate::model::Severity;

pub use console::{Console, Stream};
pub use desktop::Desktop;
pub use email::Email;
pub use render::Message;
pub use sms::Sms;
pub use webhook::Webhook;

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
pub enum Channel {
    Console(Console),
    Desktop(Desktop),
    Email(Email),
    Sms(Sms),
    Webhook(Webhook),
}

impl Channel {
    /// Builds the channel a config entry describes; `console_stream` says where console text goes
    /// (stderr when stdout carries JSON).
    pub fn new(config: &ChannelConfig, console_stream: Stream) -> Result<Channel, DeliveryError> {
        Ok(match &config.kind {
            ChannelKind::Console => Channel::Console(Console::new(console_stream)),
            ChannelKind::Desktop => Channel::Desktop(Desktop::new()),
            ChannelKind::Email(email) => Channel::Email(Email::new(email)?),
            ChannelKind::Sms(sms) => Channel::Sms(Sms::new(sms)?),
            ChannelKind::Webhook(webhook) => Channel::Webhook(Webhook::new(webhook)?),
        })
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        match self {
            Channel::Console(c) => c.send(message),
            Channel::Desktop(c) => c.send(message).await,
            Channel::Email(c) => c.send(message).await,
            Channel::Sms(c) => c.send(message).await,
            Channel::Webhook(c) => c.send(message).await,
        }
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
