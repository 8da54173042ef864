//! Talking to the service manager (systemd's `sd_notify`): ready, a one-line status, watchdog
//! pings, reloading and stopping. Without `NOTIFY_SOCKET` (not under systemd) every call does
//! nothing.

use std::time::Duration;

use sd_notify::NotifyState;

/// Startup (or a reload) is done: the store is open, schedules and the control socket are set.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The line `systemctl status` shows.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// A reload begins. systemd 253 and later insist on the monotonic time beside it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now, NotifyState::Status("reloading the configuration")]),
        Err(e) => tracing::warn!(error = %e, "cannot read the monotonic clock to tell the service manager of a reload"),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping: finishing polls and deliveries in flight")]);
}

/// Tells the service manager the daemon is alive; it restarts a daemon that stops saying so.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog interval the service manager expects pings within (`WatchdogSec=`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}
