//! Desktop notifications over D-Bus (`org.freedesktop.Notifications`), through notify-rust's async
//! zbus backend: its blocking calls panic inside tokio, so only `show_async` is used here.

use notify_rust::{Notification, Timeout, Urgency};

use super::DeliveryError;
use super::render::render;
use crate::alert::Alert;
use crate::model::Severity;

pub struct Desktop {
    name: String,
}

impl Desktop {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_owned() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn send(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let text = render(alert);
        let (urgency, timeout) = match alert.severity() {
            // A critical alert stays on screen until the person dismisses it.
            Severity::Critical => (Urgency::Critical, Timeout::Never),
            Severity::Warning => (Urgency::Normal, Timeout::Default),
            Severity::Info => (Urgency::Low, Timeout::Default),
        };
        Notification::new()
            .appname("payguard")
            .summary(&text.title)
            .body(&text.body)
            .icon("dialog-warning")
            .urgency(urgency)
            .timeout(timeout)
            .show_async()
            .await
            .map(|_| ())
            .map_err(|e| DeliveryError {
                message: format!(
                    "cannot show a desktop notification (is there a session bus with a notification server?): {e}"
                ),
                retryable: true,
            })
    }
}
