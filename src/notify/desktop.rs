//! Desktop notifications over D-Bus (`org.freedesktop.Notifications`), through notify-rust's async
//! zbus backend: its blocking calls panic inside tokio, so only `show_async` is used here.

use notify_rust::{Notification, Timeout, Urgency};

use super::{DeliveryError, Message};
use crate::model::Severity;

pub struct Desktop;

impl Desktop {
    pub fn new() -> Self {
        Desktop
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let (urgency, timeout) = match message.severity {
            // A critical alert stays on screen until the person dismisses it.
            Severity::Critical => (Urgency::Critical, Timeout::Never),
            Severity::Warning => (Urgency::Normal, Timeout::Default),
            Severity::Info => (Urgency::Low, Timeout::Default),
        };
        Notification::new()
            .appname("payguard")
            .summary(&message.subject)
            .body(&message.text)
            .icon("dialog-warning")
            .urgency(urgency)
            .timeout(timeout)
            .show_async()
            .await
            .map(|_| ())
            .map_err(|e| {
                DeliveryError::retry(format!(
                    "cannot show a desktop notification (is there a session bus with a notification server?): {e}"
                ))
            })
    }
}

impl Default for Desktop {
    fn default() -> Self {
        Self::new()
    }
}
