//! SMS through Twilio's Messages API or any HTTP gateway.

use super::{DeliveryError, Message};
use crate::config::SmsConfig;

pub struct Sms {
    config: SmsConfig,
}

impl Sms {
    pub fn new(config: &SmsConfig) -> Result<Self, DeliveryError> {
        Ok(Self { config: config.clone() })
    }

    pub async fn send(&self, _message: &Message) -> Result<(), DeliveryError> {
        let _ = &self.config;
        Err(DeliveryError::permanent("SMS delivery is not built yet"))
    }
}
