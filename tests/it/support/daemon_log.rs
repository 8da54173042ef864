//! A running daemon whose log (stderr) is read on a thread as it is written: each line can be
//! waited for with a bound, and the log's whole size is counted, so a test can say how much a
//! daemon wrote without keeping it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

pub struct Logged {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// Bytes and lines of log written so far.
    bytes: Arc<AtomicU64>,
    count: Arc<AtomicU64>,
    /// Every line seen by [`Logged::wait_for`], kept for the assertions' messages.
    pub seen: Vec<String>,
}

impl Logged {
    /// Spawns `command` with its stderr piped and read here.
    pub fn spawn(mut command: Command) -> Logged {
        let mut child = command.stderr(Stdio::piped()).spawn().expect("start the daemon");
        let stderr = child.stderr.take().expect("stderr");
        let (send, lines) = mpsc::sync_channel(10_000);
        let (bytes, count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (b, c) = (bytes.clone(), count.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { return };
                b.fetch_add(line.len() as u64 + 1, Ordering::Relaxed);
                c.fetch_add(1, Ordering::Relaxed);
                // A flood of lines must not grow the test's memory: beyond what the test has not
                // read yet, lines are only counted, and a long one is cut.
                let _ = send.try_send(String::from_utf8_lossy(&line[..line.len().min(500)]).into_owned());
            }
        });
        Logged { child, lines, bytes, count, seen: Vec::new() }
    }

    /// Waits, at most `bound`, for a line holding every one of `words`, and returns it.
    pub fn wait_for(&mut self, words: &[&str], bound: Duration) -> String {
        let deadline = Instant::now() + bound;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|e| {
                panic!("no log line with {words:?} within {bound:?} ({e}); last lines: {:#?}", self.tail())
            });
            let found = words.iter().all(|w| line.contains(w));
            self.seen.push(line.clone());
            if found {
                return line;
            }
        }
    }

    /// The log lines received and not yet looked at, added to [`Logged::seen`].
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn lines(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn tail(&self) -> Vec<String> {
        self.seen.iter().rev().take(20).rev().cloned().collect()
    }

    /// Waits, at most `bound`, for the daemon to exit, and gives its exit code.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<i32> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the daemon did not exit within {bound:?}; last lines: {:#?}", self.tail());
            }
            // Lines arrive while it stops; they are the event worth waking for.
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(line);
            }
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
