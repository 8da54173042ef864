//! What the code under test logs, captured for assertions: a tracing subscriber writing plain text
//! into memory, set as the default for the current thread while its guard lives. Code awaited
//! directly in a test's body runs on that thread (a current-thread runtime, or `block_on` of a
//! multi-thread one); what spawned tasks log elsewhere is not captured.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The captured log lines.
#[derive(Clone, Default)]
pub struct Logs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

/// Writes into a [`Logs`] buffer.
pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Starts capturing everything at debug level and above on this thread; capturing stops when
    /// the returned guard drops.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let buffer = logs.buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogWriter(buffer.clone()))
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }

    /// The lines that contain every one of `words`.
    pub fn lines_with(&self, words: &[&str]) -> Vec<String> {
        self.text().lines().filter(|line| words.iter().all(|w| line.contains(w))).map(str::to_owned).collect()
    }
}
