//! Talking to the service manager (systemd's `sd_notify`): ready, a one-line status, stopping.
//! Without `NOTIFY_SOCKET` (not under systemd) every call does nothing.

use sd_notify::NotifyState;

/// Startup is done: the store is open, schedules and the control socket are set.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The line `systemctl status` shows.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping: finishing polls and deliveries in flight")]);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}
