//! Reopening a store this test process has just closed. Without sled's background flusher the lock
//! goes with the last handle, but a segment write sled handed to its own writer threads may still
//! hold it for a moment on a busy machine, and nothing signals its end; so the open is retried on
//! the lock error alone, for a bounded time. (Another process's lock goes when that process exits.)

use std::time::{Duration, Instant};

/// `open` again and again while it fails on the store's lock, for up to 10 s; then its last result.
pub fn reopened<T, E: std::fmt::Display>(open: impl Fn() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Err(e) if is_lock(&e.to_string()) && Instant::now() < deadline => std::thread::yield_now(),
            opened => return opened,
        }
    }
}

/// sled's own lock error, or the store's words for it.
fn is_lock(error: &str) -> bool {
    error.contains("could not acquire lock") || error.contains("daemon running")
}
