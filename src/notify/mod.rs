//! Channels: how an alert reaches a person. One file per channel behind one `send` call that says
//! whether a failure is worth retrying; `render` owns the words.
//!
//! Channels know nothing of sources or the store: they get a finished [`Alert`] and deliver it.

mod console;
mod desktop;
pub mod render;

use crate::alert::Alert;
use crate::config::{ChannelConfig, ChannelKind};

pub use console::{Console, Stream};
pub use desktop::Desktop;

/// Why a delivery failed, and whether sending again later can work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    pub retryable: bool,
}

/// A configured channel.
pub enum Channel {
    Console(Console),
    Desktop(Desktop),
}

impl Channel {
    /// Builds the channel a config entry describes; `console_stream` says where console text goes
    /// (stderr when stdout carries JSON).
    pub fn new(config: &ChannelConfig, console_stream: Stream) -> Channel {
        match config.kind {
            ChannelKind::Console => Channel::Console(Console::new(&config.name, console_stream)),
            ChannelKind::Desktop => Channel::Desktop(Desktop::new(&config.name)),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Channel::Console(c) => c.name(),
            Channel::Desktop(c) => c.name(),
        }
    }

    pub async fn send(&self, alert: &Alert) -> Result<(), DeliveryError> {
        match self {
            Channel::Console(c) => c.send(alert),
            Channel::Desktop(c) => c.send(alert).await,
        }
    }
}
