//! E-mail over SMTP (lettre, async, rustls): plain text with an HTML alternative.

use super::{DeliveryError, Message};
use crate::config::EmailConfig;

pub struct Email {
    config: EmailConfig,
}

impl Email {
    pub fn new(config: &EmailConfig) -> Result<Self, DeliveryError> {
        Ok(Self { config: config.clone() })
    }

    pub async fn send(&self, _message: &Message) -> Result<(), DeliveryError> {
        let _ = &self.config;
        Err(DeliveryError::permanent("e-mail delivery is not built yet"))
    }
}
