//! The service manager's side of sd_notify for tests: a datagram socket passed to the daemon as
//! `NOTIFY_SOCKET`, read on a thread, with watchdog pings counted apart from the other messages.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

/// Only guards against a hang: each message arrives within moments.
const BOUND: Duration = Duration::from_secs(30);

/// The service manager's side of `NOTIFY_SOCKET`: every datagram the daemon sends, in order, with
/// the time it arrived.
pub struct Manager {
    datagrams: std::sync::mpsc::Receiver<(Instant, String)>,
    /// Watchdog pings seen so far, apart from the other messages.
    pub pings: Vec<Instant>,
}

impl Manager {
    pub fn listen(path: &Path) -> Manager {
        let socket = UnixDatagram::bind(path).expect("bind NOTIFY_SOCKET");
        let (send, datagrams) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).trim_end().to_owned();
                if send.send((Instant::now(), text)).is_err() {
                    return;
                }
            }
        });
        Manager { datagrams, pings: Vec::new() }
    }

    /// The next datagram that is not a bare watchdog ping (those are counted on the side).
    pub fn next(&mut self) -> String {
        loop {
            // Only a guard against a hang: each message arrives within moments.
            let (at, datagram) = self.datagrams.recv_timeout(BOUND).expect("a message from the daemon in time");
            if datagram == "WATCHDOG=1" {
                self.pings.push(at);
            } else {
                return datagram;
            }
        }
    }

    /// Waits for the next message that says `state`, such as `READY=1`, skipping status updates.
    pub fn next_saying(&mut self, state: &str) -> String {
        loop {
            let datagram = self.next();
            if datagram.lines().any(|l| l == state) {
                return datagram;
            }
            assert!(datagram.lines().all(|l| l.starts_with("STATUS=")), "{state} expected, got {datagram:?}");
        }
    }

    pub fn wait_for_pings(&mut self, count: usize) {
        while self.pings.len() < count {
            let (at, datagram) = self.datagrams.recv_timeout(BOUND).expect("a watchdog ping in time");
            assert!(datagram == "WATCHDOG=1" || datagram.starts_with("STATUS="), "unexpected {datagram:?}");
            if datagram == "WATCHDOG=1" {
                self.pings.push(at);
            }
        }
    }
}
