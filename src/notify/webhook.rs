//! Webhooks: payguard's own JSON, or the shapes ntfy, Gotify, Slack and Discord expect.

use super::{DeliveryError, Message};
use crate::config::WebhookConfig;

pub struct Webhook {
    config: WebhookConfig,
}

impl Webhook {
    pub fn new(config: &WebhookConfig) -> Result<Self, DeliveryError> {
        Ok(Self { config: config.clone() })
    }

    pub async fn send(&self, _message: &Message) -> Result<(), DeliveryError> {
        let _ = &self.config;
        Err(DeliveryError::permanent("webhook delivery is not built yet"))
    }
}
