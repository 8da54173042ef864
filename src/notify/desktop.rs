//! Desktop notifications over D-Bus (`org.freedesktop.Notifications`), through notify-rust's async
//! zbus backend: its blocking calls panic inside tokio, so only `show_async` is used here.

use notify_rust::{Notification, Timeout, Urgency};

use super::{Deliver, DeliveryError, Message, SendFuture};
use crate::model::Severity;

/// `kind = "desktop"`: a notification in the desktop session; it takes no keys.
#[derive(Debug, Clone)]
pub struct DesktopConfig;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDesktop {}

impl crate::config::Kind for DesktopConfig {
    type Raw = RawDesktop;

    fn validate(_: RawDesktop, _: &crate::config::Entry<'_>) -> Result<Self, crate::config::ConfigError> {
        Ok(DesktopConfig)
    }

    fn credentials<'a>(&'a self, _: &mut crate::config::Credentials<'a>) {}

    fn describe(&self) -> String {
        String::new()
    }
}

impl super::Kind for DesktopConfig {
    fn unavailable(&self) -> Option<&'static str> {
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none().then_some("no desktop session bus")
    }

    fn connect(&self, _console: super::Stream) -> Result<Box<dyn Deliver>, DeliveryError> {
        Ok(Box::new(Desktop::new()))
    }
}

impl Deliver for Desktop {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(Desktop::send(self, message))
    }
}

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
